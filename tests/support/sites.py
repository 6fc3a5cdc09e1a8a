"""A throwaway site: its own queues, stream and node databases, removed afterwards."""
from __future__ import annotations

import uuid

import aio_pika
import asyncpg

from projections.database import database_name
from services.adapters.topology import Topology
from services.config.settings import Settings

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
PG_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


def new_site_name() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


def settings_for(site: str, **overrides: object) -> Settings:
    return Settings(amqp_url=AMQP_URL, pg_dsn=PG_DSN, site=site, **overrides)


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
