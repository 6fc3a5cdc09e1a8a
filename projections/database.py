"""A node's own database: created on first start, migrated on every start."""

from __future__ import annotations

import hashlib

import asyncpg

from projections.schema import READ_MODEL_TABLES, SCHEMA

# Read models are disposable (invariant 1, docs/architecture.md): when their shape
# changes, a node drops them and replays the stream rather than migrating rows.
SCHEMA_VERSION = hashlib.sha256(SCHEMA.encode()).hexdigest()[:16]


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
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_meta (id int PRIMARY KEY, version text NOT NULL)"
            )
            version = await conn.fetchval("SELECT version FROM schema_meta WHERE id = 1")
            if version != SCHEMA_VERSION:
                tables = ", ".join((*READ_MODEL_TABLES, "projection_checkpoint"))
                await conn.execute(f"DROP TABLE IF EXISTS {tables}")
            await conn.execute(SCHEMA)
            await conn.execute(
                "INSERT INTO schema_meta VALUES (1, $1) "
                "ON CONFLICT (id) DO UPDATE SET version = $1",
                SCHEMA_VERSION,
            )
    return pool
