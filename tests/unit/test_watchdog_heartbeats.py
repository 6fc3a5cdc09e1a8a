"""The watchdog's ear: only heartbeats signed by the site are heard, and none can end it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from services.auth.log_signing import HEADER, NodeKeys
from services.config.settings import Settings
from services.watchdog.observer import Observer
from services.watchdog.service import Watchdog

KEYS = "wd:" + "w" * 40
NOW = datetime(2026, 1, 1, tzinfo=UTC).isoformat()


@dataclass
class Message:
    """The two attributes of an incoming AMQP message the watchdog reads."""

    body: bytes
    headers: dict = field(default_factory=dict)


def beat(body: bytes, headers: dict | None = None) -> Any:
    return Message(body, headers or {})


def signed(body: bytes) -> Any:
    return beat(body, NodeKeys.from_setting(KEYS).headers(body))


def watchdog(node_keys: str | None = KEYS) -> Watchdog:
    return Watchdog(Settings(site="wd", node_keys=node_keys))


async def test_unsigned_and_badly_signed_heartbeats_are_dropped_and_counted():
    dog = watchdog()
    body = orjson.dumps({"node": "zz", "at": NOW})
    await dog._on_beat(beat(body))
    await dog._on_beat(beat(body, {HEADER: "wd:" + "0" * 64}))
    await dog._on_beat(beat(body, {HEADER: NodeKeys.from_setting(KEYS).sign(b"other")}))
    assert dog.unverified_heartbeats == 3 and dog.observer.known_nodes() == set()

    await dog._on_beat(signed(body))
    assert dog.observer.known_nodes() == {"zz"}


@pytest.mark.parametrize(
    "body",
    [
        b'{"node":"zz","servers":[1]}',
        b"[1]",
        b"not json",
        b'{"node":"zz","at":"2026-01-01T00:00:00"}',  # no UTC offset
        b'{"node":"zz","at":"2026-01-01T00:00:00+00:00","servers":[{"node":null}]}',
    ],
)
async def test_a_malformed_heartbeat_is_counted_not_heard_and_never_raises(body):
    dog = watchdog()
    await dog._on_beat(signed(body))
    assert dog.malformed_heartbeats == 1 and dog.observer.known_nodes() == set()


async def test_an_open_site_hears_unsigned_heartbeats():
    dog = watchdog(None)
    await dog._on_beat(beat(orjson.dumps({"node": "a", "at": NOW})))
    assert dog.observer.known_nodes() == {"a"} and dog.unverified_heartbeats == 0


def test_a_naive_heartbeat_time_is_refused_by_the_observer():
    with pytest.raises(ValueError):
        Observer().heard({"node": "a", "at": "2026-01-01T00:00:00"}, 1.0)
