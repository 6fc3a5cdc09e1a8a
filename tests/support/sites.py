"""A throwaway site: its own queues, stream and node databases, removed afterwards."""

from __future__ import annotations

import uuid

from services.adapters import teardown
from services.config.settings import Settings

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
PG_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


def new_site_name() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


def settings_for(site: str, **overrides: object) -> Settings:
    return Settings(amqp_url=AMQP_URL, pg_dsn=PG_DSN, site=site, **overrides)


async def remove_site(site: str, nodes: list[str]) -> None:
    await teardown.remove_site(AMQP_URL, PG_DSN, site, nodes)
