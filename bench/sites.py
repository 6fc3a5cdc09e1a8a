"""A throwaway site per scenario: its queues, stream, exchanges and node databases, removed at the end."""
from __future__ import annotations

import uuid

import aio_pika
import asyncpg

from bench.config import AMQP_URL, PG_DSN
from projections.database import database_name, dsn_for
from services.adapters.topology import Topology
from services.config.settings import Settings


def new_run_id() -> str:
    return f"bench{uuid.uuid4().hex[:8]}"


def settings_for(site: str) -> Settings:
    return Settings(amqp_url=AMQP_URL, pg_dsn=PG_DSN, site=site)


def node_dsn(site: str, node: str) -> str:
    return dsn_for(PG_DSN, database_name(site, node))


async def remove_site(site: str, nodes: list[str]) -> None:
    topology = Topology(site)
    connection = await aio_pika.connect(AMQP_URL)
    try:
        for name in (topology.commands, topology.events, topology.dead_letters):
            channel = await connection.channel()
            try:
                await channel.queue_delete(name)
            except Exception:
                pass
        for name in (topology.dead_letter_exchange, topology.heartbeats):
            channel = await connection.channel()
            try:
                await channel.exchange_delete(name)
            except Exception:
                pass
    finally:
        await connection.close()
    conn = await asyncpg.connect(PG_DSN)
    try:
        for node in nodes:
            await conn.execute(f'DROP DATABASE IF EXISTS "{database_name(site, node)}" WITH (FORCE)')
    finally:
        await conn.close()
