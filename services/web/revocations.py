"""Signed-out sessions, kept in the node's own database so a restart does not revive them.

The cookie is stateless (services/web/sessions.py), so a sign-out is a row here; the table
(``projections.schema``'s ``revoked_sessions``) is outside the read models, so a replay or
a License Server ID reset keeps it. A row is needed only while its cookie could still be
valid: older ones are dropped when the node loads the set.
"""

from __future__ import annotations

import asyncpg


class Revocations:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def load(self, keep_seconds: float) -> set[str]:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "DELETE FROM revoked_sessions WHERE revoked_at < now() - make_interval(secs => $1)",
                float(keep_seconds),
            )
            rows = await conn.fetch("SELECT sid FROM revoked_sessions")
        return {r["sid"] for r in rows}

    async def add(self, sid: str) -> None:
        await self.pool.execute(
            "INSERT INTO revoked_sessions (sid) VALUES ($1) ON CONFLICT (sid) DO NOTHING", sid
        )
