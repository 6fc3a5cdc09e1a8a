"""The projector: reads the whole event stream in order into memory and into Postgres.

One loop per node. It takes whatever messages have arrived (up to a batch), applies
them to the in-memory domain state (telling listeners, e.g. the writer waiting for
its read-back), then writes the batch, the event_log copy, the digest and the
checkpoint in one Postgres transaction, and only then acks the stream messages.

Facts about the tools that shape it (DESIGN.md): stream offsets are not dense, so a
message is new iff its offset > checkpoint; aio-pika's robust queues re-subscribe with
the original ``x-stream-offset``, so the node uses a plain connection and the
supervisor re-subscribes from the stored checkpoint.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Awaitable, Callable

import orjson
from aio_pika.abc import AbstractConnection, AbstractIncomingMessage

from events.base import Event
from events.codec import canonical, event_from_dict
from projections import digest as digests
from projections.changes import BatchChanges
from projections.store import Checkpoint, ProjectionStore
from services.adapters.stream_end import last_offset
from services.adapters.topology import Topology
from services.domain.evolve import CannotApply, apply
from services.domain.model import State

log = logging.getLogger(__name__)

Listener = Callable[[Event, "str | None", State, int], None]  # event, verdict, state after, stream offset


class ProjectionHalted(Exception):
    """An event this node cannot apply. The projector stops and says so (invariant 9)."""


class StreamBehind(Exception):
    """The stream ends before this node's checkpoint: it was lost or cut short.

    The node waits (and says so in its health) until the stream is re-seeded from a
    node's event_log copy (``licensing reseed``); it never skips ahead silently.
    """


class Projector:
    def __init__(self, store: ProjectionStore, topology: Topology, batch_size: int = 500) -> None:
        self.store = store
        self.topology = topology
        self.batch_size = batch_size
        self.state = State()
        self.checkpoint = Checkpoint()
        self.listeners: list[Listener] = []
        self.halted: str | None = None
        self.consistent = False  # in-memory state equals what Postgres holds
        self.last_applied_monotonic: float | None = None
        self.applied_offset = -1  # in memory (what the writer and /api/servers see); ``checkpoint`` is in Postgres
        self.target_offset: int | None = None  # where the stream ended when this node subscribed
        self.probed = False                    # target_offset is known for this subscription
        self.after_commit: Callable[[], Awaitable[None]] | None = None

    @property
    def caught_up(self) -> bool:
        """Has this node read, since it subscribed, everything the stream held then?"""
        return self.probed and (self.target_offset is None or self.checkpoint.offset >= self.target_offset)

    async def load(self) -> None:
        """Rebuild the in-memory state from this node's own event_log copy, and check its digest."""
        checkpoint = await self.store.checkpoint()
        state, digest, count = State(), "", 0
        async for page in self.store.event_log():
            for row in page:
                event = event_from_dict(orjson.loads(row["body"]))
                state, ignored = apply(state, event)
                if ignored != row["ignored"]:
                    raise ProjectionHalted(
                        f"local event_log at {row['stream_offset']}/{row['idx']} no longer replays the same "
                        f"way ({ignored!r} != {row['ignored']!r}); reset this node")
                digest = digests.advance(digest, canonical(event), ignored)
                count += 1
        if digest != checkpoint.digest or count != checkpoint.events_applied:
            raise ProjectionHalted("local event_log does not match the checkpoint digest; reset this node")
        self.state, self.checkpoint, self.consistent = state, checkpoint, True
        self.applied_offset = checkpoint.offset

    def forget(self) -> None:
        """Drop the in-memory state at once (a reset's first step): nothing stale is shown meanwhile."""
        self.state, self.checkpoint, self.consistent, self.probed = State(), Checkpoint(), False, False
        self.applied_offset = -1

    async def reset(self) -> None:
        self.forget()
        await self.store.reset()
        self.consistent, self.halted = True, None

    def start_arguments(self) -> dict:
        if self.checkpoint.offset < 0:
            return {"x-stream-offset": "first"}
        return {"x-stream-offset": self.checkpoint.offset + 1}

    async def run(self, connection: AbstractConnection) -> None:
        """Consume from the checkpoint until cancelled or until an event cannot be applied."""
        if not self.consistent:
            await self.load()
        channel = await connection.channel(publisher_confirms=False)
        queue = await self.topology.declare_events(channel)
        self.probed = False
        end = await last_offset(connection, self.topology.events)
        if self.checkpoint.offset >= 0 and (end is None or end < self.checkpoint.offset):
            raise StreamBehind(
                f"the event stream ends at {end if end is not None else 'nothing'} but this node has applied up to "
                f"offset {self.checkpoint.offset}: it was lost or cut short; re-seed it (licensing reseed)")
        self.target_offset, self.probed = end, True
        await channel.set_qos(prefetch_count=self.batch_size * 2)
        inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()

        async def enqueue(message: AbstractIncomingMessage) -> None:
            inbox.put_nowait(message)

        tag = await queue.consume(enqueue, arguments=self.start_arguments())
        try:
            while True:
                batch = [await inbox.get()]
                while len(batch) < self.batch_size and not inbox.empty():
                    batch.append(inbox.get_nowait())
                await self._project(batch)
        finally:
            try:
                await queue.cancel(tag)
            except Exception:  # the channel may already be gone
                pass

    async def _project(self, messages: list[AbstractIncomingMessage]) -> None:
        batch = []
        for message in messages:
            offset = int(message.headers["x-stream-offset"])  # type: ignore[arg-type]
            if offset <= self.checkpoint.offset:
                continue  # a redelivery from the chunk start: already applied
            try:
                items = orjson.loads(message.body)["events"]
            except Exception as exc:
                self._halt(f"stream message at offset {offset} is not a valid event batch: {exc}")
            batch.append((offset, items))
        if batch:
            await self.apply_batch(batch)
        await messages[-1].ack(multiple=True)
        if batch and self.after_commit is not None:
            await self.after_commit()

    async def apply_batch(self, batch: list[tuple[int, list[dict]]]) -> None:
        """Apply (offset, events) pairs in memory, then write them and the checkpoint in one transaction."""
        changes = BatchChanges()
        state, digest, count = self.state, self.checkpoint.digest, self.checkpoint.events_applied
        for offset, items in batch:
            try:
                events = [event_from_dict(item) for item in items]
            except Exception as exc:
                self._halt(f"stream message at offset {offset} is not a valid event batch: {exc}")
            for idx, (item, event) in enumerate(zip(items, events)):
                before = state
                try:
                    state, ignored = apply(state, event)
                except CannotApply as exc:
                    self._halt(f"event {event.type} at offset {offset}/{idx} cannot be applied: {exc}")
                digest = digests.advance(digest, canonical(event), ignored)
                count += 1
                changes.record(before, state, event, offset, idx, ignored, orjson.dumps(item).decode())
                self.state = state
                for listener in self.listeners:
                    listener(event, ignored, state, offset)
        checkpoint = Checkpoint(batch[-1][0], digest, count)
        self.consistent, self.applied_offset = False, checkpoint.offset
        await self.store.write(changes, state, checkpoint)
        self.checkpoint, self.consistent = checkpoint, True
        self.last_applied_monotonic = time.monotonic()

    async def rebuild_from(self, peer: ProjectionStore, page: int = 5000) -> None:
        """Replay a peer's event_log copy instead of the stream (then the stream takes over)."""
        await self.reset()
        held: list[tuple[int, list[dict]]] = []
        async for rows in peer.event_log(page=page):
            for row in rows:
                if held and held[-1][0] == row["stream_offset"]:
                    held[-1][1].append(orjson.loads(row["body"]))
                else:
                    held.append((row["stream_offset"], [orjson.loads(row["body"])]))
            # The last message of a page may continue on the next one: keep it back.
            complete, held = held[:-1], held[-1:]
            if complete:
                await self.apply_batch(complete)
        if held:
            await self.apply_batch(held)

    def _halt(self, why: str) -> None:
        self.halted = why
        log.error("projector halted: %s", why)
        raise ProjectionHalted(why)
