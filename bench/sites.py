"""A throwaway site per scenario: its queues, stream, exchanges and node databases, removed at
the end.
"""

from __future__ import annotations

import uuid

from bench.config import AMQP_URL, PG_DSN
from projections.database import database_name, dsn_for
from services.adapters import teardown
from services.config.settings import Settings


def new_run_id() -> str:
    return f"bench{uuid.uuid4().hex[:8]}"


def settings_for(site: str) -> Settings:
    return Settings(amqp_url=AMQP_URL, pg_dsn=PG_DSN, site=site)


def node_dsn(site: str, node: str) -> str:
    return dsn_for(PG_DSN, database_name(site, node))


async def remove_site(site: str, nodes: list[str]) -> None:
    await teardown.remove_site(AMQP_URL, PG_DSN, site, nodes)
