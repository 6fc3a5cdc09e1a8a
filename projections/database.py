"""A node's own database: created on first start, migrated on every start."""
from __future__ import annotations

import asyncpg

from projections.schema import SCHEMA


def database_name(site: str, node: str) -> str:
    return f"licensing_{site}_{node}".replace("-", "_")


def dsn_for(server_dsn: str, database: str) -> str:
    """Swap the database of a postgresql:// DSN, keeping host, port, user and options."""
    base, _, query = server_dsn.partition("?")
    scheme, _, rest = base.partition("://")
    authority = rest.split("/", 1)[0]
    return f"{scheme}://{authority}/{database}" + (f"?{query}" if query else "")


async def ensure_database(server_dsn: str, database: str) -> str:
    conn = await asyncpg.connect(server_dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            try:
                await conn.execute(f'CREATE DATABASE "{database}"')
            except asyncpg.DuplicateDatabaseError:
                pass  # another process created it first
    finally:
        await conn.close()
    return dsn_for(server_dsn, database)


async def open_pool(server_dsn: str, database: str) -> asyncpg.Pool:
    dsn = await ensure_database(server_dsn, database)
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
    async with pool.acquire() as conn:
        # Serialize concurrent first starts of the same node's schema.
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(4242)")
            await conn.execute(SCHEMA)
    return pool


async def drop_database(server_dsn: str, database: str) -> None:
    conn = await asyncpg.connect(server_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await conn.close()
