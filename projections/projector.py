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
from dataclasses import dataclass
from typing import Callable

import orjson
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from events.base import Event
from events.codec import canonical, event_from_dict
from projections import digest as digests
from projections.changes import BatchChanges
from projections.store import Checkpoint, ProjectionStore
from services.adapters.topology import Topology
from services.domain.evolve import CannotApply, apply
from services.domain.model import State

log = logging.getLogger(__name__)

Listener = Callable[[Event, "str | None", State], None]


class ProjectionHalted(Exception):
    """An event this node cannot apply. The projector stops and says so (invariant 9)."""


@dataclass
class Progress:
    replaying: bool = False
    replay_done: int = 0
    replay_total: int = 0


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
        self.progress = Progress()

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

    async def reset(self) -> None:
        await self.store.reset()
        self.state, self.checkpoint, self.consistent, self.halted = State(), Checkpoint(), True, None

    def start_arguments(self) -> dict:
        if self.checkpoint.offset < 0:
            return {"x-stream-offset": "first"}
        return {"x-stream-offset": self.checkpoint.offset + 1}

    async def run(self, channel: AbstractChannel) -> None:
        """Consume from the checkpoint until cancelled or until an event cannot be applied."""
        if not self.consistent:
            await self.load()
        queue = await self.topology.declare_events(channel)
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
        changes = BatchChanges()
        state, digest, count, offset = self.state, self.checkpoint.digest, self.checkpoint.events_applied, None
        for message in messages:
            msg_offset = int(message.headers["x-stream-offset"])  # type: ignore[arg-type]
            if msg_offset <= self.checkpoint.offset:
                continue  # a redelivery from the chunk start: already applied
            try:
                items = orjson.loads(message.body)["events"]
                events = [event_from_dict(item) for item in items]
            except Exception as exc:
                self._halt(f"stream message at offset {msg_offset} is not a valid event batch: {exc}")
            for idx, (item, event) in enumerate(zip(items, events)):
                before = state
                try:
                    state, ignored = apply(state, event)
                except CannotApply as exc:
                    self._halt(f"event {event.type} at offset {msg_offset}/{idx} cannot be applied: {exc}")
                digest = digests.advance(digest, canonical(event), ignored)
                count += 1
                changes.record(before, state, event, msg_offset, idx, ignored, orjson.dumps(item).decode())
                self.state = state
                for listener in self.listeners:
                    listener(event, ignored, state)
            offset = msg_offset
        if offset is None:
            await messages[-1].ack(multiple=True)
            return
        checkpoint = Checkpoint(offset, digest, count)
        self.consistent = False
        await self.store.write(changes, state, checkpoint)
        self.checkpoint, self.consistent = checkpoint, True
        self.last_applied_monotonic = time.monotonic()
        await messages[-1].ack(multiple=True)

    def _halt(self, why: str) -> None:
        self.halted = why
        log.error("projector halted: %s", why)
        raise ProjectionHalted(why)
