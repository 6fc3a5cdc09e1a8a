"""Postgres side of a projector: checkpoint, event_log copy and read models, one transaction
a batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from projections import rows
from projections.changes import BatchChanges
from projections.database import SCHEMA_VERSION
from projections.schema import READ_MODEL_TABLES
from services.domain.model import State


@dataclass(frozen=True)
class Checkpoint:
    offset: int = -1  # last stream message fully applied; -1 before the first
    digest: str = ""
    events_applied: int = 0


@dataclass(frozen=True)
class Snapshot:
    """The domain state's bytes as of a log position, with the checkpoint it had there."""

    offset: int
    idx: int
    digest: str
    events_applied: int
    unverified_messages: int
    version: int
    body: bytes


SNAPSHOTS_KEPT = 2
DEFAULT_DENIAL_RETENTION = timedelta(days=90)


class ProjectionStore:
    def __init__(
        self, pool: asyncpg.Pool, denial_retention: timedelta = DEFAULT_DENIAL_RETENTION
    ) -> None:
        self.pool = pool
        self.denial_retention = denial_retention

    async def checkpoint(self) -> Checkpoint:
        row = await self.pool.fetchrow(
            "SELECT stream_offset, digest, events_applied FROM projection_checkpoint WHERE id = 1"
        )
        return Checkpoint(row["stream_offset"], row["digest"], row["events_applied"])

    async def event_log(
        self, after: tuple[int, int] = (-1, -1), page: int = 5000
    ) -> AsyncIterator[list[asyncpg.Record]]:
        """The node's copy of the log, in order, a page at a time (for local replays)."""
        offset, idx = after
        while True:
            batch = await self.pool.fetch(
                "SELECT stream_offset, idx, type, ignored, body::text AS body FROM event_log "
                "WHERE (stream_offset, idx) > ($1, $2) ORDER BY stream_offset, idx LIMIT $3",
                offset,
                idx,
                page,
            )
            if not batch:
                return
            yield batch
            offset, idx = batch[-1]["stream_offset"], batch[-1]["idx"]

    async def newest_snapshot(self, version: int) -> Snapshot | None:
        """The newest snapshot of this shape; older shapes are ignored (a full replay)."""
        row = await self.pool.fetchrow(
            "SELECT stream_offset, idx, digest, events_applied, unverified_messages, "
            "snapshot_version, body FROM snapshots WHERE snapshot_version = $1 "
            "ORDER BY stream_offset DESC, idx DESC LIMIT 1",
            version,
        )
        return None if row is None else Snapshot(*row.values())

    async def write(
        self,
        changes: BatchChanges,
        state: State,
        checkpoint: Checkpoint,
        snapshot: Snapshot | None = None,
    ) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            # The guard makes a batch written twice (a redelivery after a crash) fail, not count
            # twice.
            moved = await conn.execute(
                "UPDATE projection_checkpoint "
                "SET stream_offset = $1, digest = $2, events_applied = $3, "
                "epoch = $4, writer_node = $5, writer_server_id = $6, updated_at = now() "
                "WHERE id = 1 AND stream_offset < $1",
                checkpoint.offset,
                checkpoint.digest,
                checkpoint.events_applied,
                state.epoch,
                state.writer_node,
                state.writer_server_id,
            )
            if moved != "UPDATE 1":
                raise StaleBatch(f"checkpoint is already at or past offset {checkpoint.offset}")
            if changes.log_rows:
                await conn.copy_records_to_table(
                    "event_log",
                    records=changes.log_rows,
                    columns=["stream_offset", "idx", "type", "ignored", "body"],
                )
            if changes.denials:
                await conn.copy_records_to_table(
                    "denials",
                    records=changes.denials,
                    columns=[
                        "stream_offset",
                        "idx",
                        "at",
                        "feature",
                        "version",
                        "device",
                        "user",
                        "count",
                        "reason",
                        "message",
                        "command_id",
                    ],
                )
                await conn.executemany(UPSERT_DENIAL_DAY, changes.denial_days())
            if changes.newest_at is not None:
                await _prune_denials(conn, changes.newest_at - self.denial_retention)
            if changes.timeline:
                await conn.copy_records_to_table(
                    "status_history",
                    records=changes.timeline,
                    columns=[
                        "stream_offset",
                        "idx",
                        "at",
                        "kind",
                        "node",
                        "server_id",
                        "server_status",
                        "pair_status",
                        "reason",
                    ],
                )
            if changes.history:
                await conn.copy_records_to_table(
                    "usage_history",
                    records=changes.history,
                    columns=["stream_offset", "idx", "at", "feature", "version", "in_use", "total"],
                )
            await _sync(
                conn,
                "licenses",
                "license_id",
                changes.licenses,
                state.licenses,
                rows.license_row,
                rows.UPSERT_LICENSE,
            )
            await _sync(
                conn,
                "usage",
                "lease_id",
                changes.usage,
                state.leases,
                lambda lease: rows.usage_row(lease, state),
                rows.UPSERT_USAGE,
            )
            await _sync(
                conn,
                "reservations",
                "reservation_id",
                changes.reservations,
                state.reservations,
                rows.reservation_row,
                rows.UPSERT_RESERVATION,
            )
            await _sync(
                conn,
                "servers",
                "node",
                changes.servers,
                state.servers,
                rows.server_row,
                rows.UPSERT_SERVER,
            )
            if changes.pair_since is not None:
                await conn.execute("DELETE FROM pair")
                if state.pair is not None:
                    await conn.execute(
                        "INSERT INTO pair (primary_node, backup_node, since) VALUES ($1, $2, $3)",
                        state.pair[0],
                        state.pair[1],
                        changes.pair_since,
                    )
            present = [state.features[k] for k in changes.features if k in state.features]
            gone = [k for k in changes.features if k not in state.features]
            if present:
                await conn.executemany(rows.UPSERT_FEATURE, [rows.feature_row(f) for f in present])
            if gone:
                await conn.execute(
                    "DELETE FROM features WHERE (name, version) IN "
                    "(SELECT * FROM unnest($1::text[], $2::text[]))",
                    [k[0] for k in gone],
                    [k[1] for k in gone],
                )
            if snapshot is not None:
                await _keep_snapshot(conn, snapshot)

    async def keep_snapshot(self, snapshot: Snapshot) -> bool:
        """Store a snapshot outside a batch, if the checkpoint is still the one it was taken
        at (nothing was committed since); False if not."""
        async with self.pool.acquire() as conn, conn.transaction():
            at = await conn.fetchrow(
                "SELECT stream_offset, digest, events_applied FROM projection_checkpoint "
                "WHERE id = 1 FOR UPDATE"
            )
            if tuple(at.values()) != (snapshot.offset, snapshot.digest, snapshot.events_applied):
                return False
            await _keep_snapshot(conn, snapshot)
            return True

    async def last_idx_at(self, offset: int) -> int | None:
        """The position of the last event of the stream message at ``offset`` in event_log."""
        return await self.pool.fetchval(
            "SELECT max(idx) FROM event_log WHERE stream_offset = $1", offset
        )

    async def copy_from(self, peer: ProjectionStore) -> Checkpoint:
        """Make this node's read models, event_log, snapshots and checkpoint the peer's, as of
        one moment of the peer (a repeatable-read transaction), at COPY speed. Returns the
        checkpoint copied; the caller proves the copy before it trusts it."""
        async with (
            peer.pool.acquire() as source,
            source.transaction(isolation="repeatable_read", readonly=True),
        ):
            shape = await source.fetchval("SELECT version FROM schema_meta WHERE id = 1")
            if shape != SCHEMA_VERSION:
                raise PeerUnfit(f"the peer's database has another schema ({shape})")
            async with self.pool.acquire() as target, target.transaction():
                await target.execute(f"TRUNCATE {', '.join(READ_MODEL_TABLES)}")
                for table in READ_MODEL_TABLES:
                    await _pipe(source, target, table)
                row = await source.fetchrow(
                    "SELECT stream_offset, digest, events_applied, epoch, writer_node, "
                    "writer_server_id, denials_kept_from FROM projection_checkpoint WHERE id = 1"
                )
                await target.execute(
                    "UPDATE projection_checkpoint SET stream_offset = $1, digest = $2, "
                    "events_applied = $3, epoch = $4, writer_node = $5, writer_server_id = $6, "
                    "denials_kept_from = $7, updated_at = now() WHERE id = 1",
                    *row.values(),
                )
        return Checkpoint(row["stream_offset"], row["digest"], row["events_applied"])

    async def reset(self) -> None:
        """Empty every read model and the checkpoint: the node will replay from the first offset."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(f"TRUNCATE {', '.join(READ_MODEL_TABLES)}")
            await conn.execute(
                "UPDATE projection_checkpoint "
                "SET stream_offset = -1, digest = '', events_applied = 0, epoch = 0, "
                "writer_node = NULL, writer_server_id = NULL, denials_kept_from = NULL, "
                "updated_at = now()"
            )


async def _keep_snapshot(conn: asyncpg.Connection, snapshot: Snapshot) -> None:
    """Store it in the batch's transaction, so it and the checkpoint agree even after a
    kill -9; keep the newest few, so a snapshot that will not load has a predecessor."""
    await conn.execute(
        "INSERT INTO snapshots (stream_offset, idx, digest, events_applied, "
        "unverified_messages, snapshot_version, body) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        snapshot.offset,
        snapshot.idx,
        snapshot.digest,
        snapshot.events_applied,
        snapshot.unverified_messages,
        snapshot.version,
        snapshot.body,
    )
    await conn.execute(
        "DELETE FROM snapshots WHERE (stream_offset, idx) NOT IN (SELECT stream_offset, idx "
        "FROM snapshots ORDER BY stream_offset DESC, idx DESC LIMIT $1)",
        SNAPSHOTS_KEPT,
    )


async def _pipe(source: asyncpg.Connection, target: asyncpg.Connection, table: str) -> None:
    """COPY a table from one database into another (same schema), streamed, in binary."""
    chunks: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=16)

    async def produce() -> None:
        try:
            await source.copy_from_table(table, output=chunks.put, format="binary")
        finally:
            await chunks.put(None)

    async def consume() -> AsyncIterator[bytes]:
        while (chunk := await chunks.get()) is not None:
            yield chunk

    producer = asyncio.create_task(produce())
    try:
        await target.copy_to_table(table, source=consume(), format="binary")
        await producer
    finally:
        producer.cancel()


class PeerUnfit(Exception):
    """A peer's database this node cannot copy (another schema)."""


class StaleBatch(Exception):
    """A batch older than the stored checkpoint: another projector of this node is running."""


UPSERT_DENIAL_DAY = (
    "INSERT INTO denial_days (day, feature, version, reason, times, seats) "
    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (day, feature, version, reason) "
    "DO UPDATE SET times = denial_days.times + EXCLUDED.times, "
    "seats = denial_days.seats + EXCLUDED.seats"
)


async def _prune_denials(conn: asyncpg.Connection, cutoff) -> None:
    """Drop denials older than the furthest cutoff any batch so far reached.

    The cutoff only moves forward (``greatest``), so the rows kept at an offset are those
    at or after (newest event time up to that offset) minus the retention, however the
    log was cut into batches: two nodes at the same offset hold the same rows.
    """
    kept_from = await conn.fetchval(
        "UPDATE projection_checkpoint SET denials_kept_from = greatest(denials_kept_from, $1) "
        "WHERE id = 1 RETURNING denials_kept_from",
        cutoff,
    )
    await conn.execute("DELETE FROM denials WHERE at < $1", kept_from)


async def _sync(
    conn: asyncpg.Connection, table: str, key: str, keys: set[str], current, to_row, upsert
) -> None:
    if not keys:
        return
    present = [to_row(current[k]) for k in keys if k in current]
    gone = [k for k in keys if k not in current]
    if present:
        await conn.executemany(upsert, present)
    if gone:
        await conn.execute(f"DELETE FROM {table} WHERE {key} = ANY($1::text[])", gone)
