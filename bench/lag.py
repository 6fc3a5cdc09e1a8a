"""How stale a node's read model is: each event's decision time against when it shows up
in Postgres.

A watcher polls one node's own database every ``interval`` seconds for the
``event_log`` rows (invariant 8) committed since its last poll. The projector writes
those rows in the same transaction as the read models and the checkpoint, so a row
being visible means the event is visible in every read model of that node.

    lag = (wall time at the start of the poll that first saw the row) - (the event's ``at``)

``at`` is the writer's clock when it decided the event (same host, same clock as the
bench). So the lag spans decide -> group-commit publish -> confirm -> stream delivery
-> projector batch -> commit. It is an upper bound with a resolution of one poll
interval plus one query (the row was committed at some point since the previous poll).
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import asyncpg

_NEW = (
    "SELECT stream_offset, idx, body->>'at' AS at FROM event_log "
    "WHERE (stream_offset, idx) > ($1, $2) ORDER BY stream_offset, idx"
)


class LagWatcher:
    def __init__(self, dsn: str, interval: float) -> None:
        self.dsn, self.interval = dsn, interval
        self.samples: list[tuple[float, float]] = []  # (seen at, wall clock; lag in seconds)
        self._task: asyncio.Task | None = None
        self._conn: asyncpg.Connection | None = None

    async def start(self) -> LagWatcher:
        self._conn = await asyncpg.connect(self.dsn)
        last = await self._conn.fetchrow(
            "SELECT stream_offset, idx FROM event_log ORDER BY 1 DESC, 2 DESC LIMIT 1"
        )
        self._task = asyncio.create_task(self._poll(tuple(last) if last else (-1, -1)))
        return self

    async def _poll(self, last: tuple[int, int]) -> None:
        assert self._conn is not None
        while True:
            seen = time.time()
            rows = await self._conn.fetch(_NEW, *last)
            for row in rows:
                if row["at"]:
                    self.samples.append(
                        (seen, seen - datetime.fromisoformat(row["at"]).timestamp())
                    )
            if rows:
                last = (rows[-1]["stream_offset"], rows[-1]["idx"])
            await asyncio.sleep(max(0.0, self.interval - (time.time() - seen)))

    def between(self, wall0: float, wall1: float) -> list[float]:
        return [lag for seen, lag in self.samples if wall0 <= seen < wall1]

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._conn is not None:
            await self._conn.close()
