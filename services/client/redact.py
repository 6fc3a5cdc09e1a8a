"""Broker URLs are shown to people: never with the password."""

from __future__ import annotations

from yarl import URL


def redact_url(url: str) -> str:
    """``amqp://user:secret@host:5672/vhost?heartbeat=2`` -> ``amqp://user@host:5672/vhost``;
    each URL of a comma separated list."""
    if "," in url:
        return ",".join(redact_url(one.strip()) for one in url.split(","))
    try:
        parsed = URL(url)
    except (TypeError, ValueError):
        return "<unparseable broker URL>"
    return str(parsed.with_password(None).with_query(None))
