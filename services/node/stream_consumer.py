"""The stream consumer: feeds a node's projector from ``licensing.<site>.events``.

One per node, one subscription per broker session. It subscribes from the projector's
checkpoint, takes whatever messages have arrived (up to a batch), hands them to the
projector (``projections/projector.py``: the in-memory state, the fence, the digest
and the one Postgres transaction per batch) and acks the stream messages only once
that transaction has committed.

While it catches up (a batch the stream held when it subscribed: start, Sync, reset) it
stages the next batch in memory while the previous one's transaction runs, so Python and
Postgres work on two cores at once; each batch is still committed whole, in order, before
its messages are acked and the node's orders run. Past that point (live events, which the
writer may await) a batch is applied and committed before the next is read.

Facts about the tools that shape it (DESIGN.md, "Facts about the tools"): stream
offsets are not dense, so it resumes *after* the checkpoint (the projector drops what
it already holds); aio-pika's robust queues re-subscribe with the original
``x-stream-offset``, so the node uses a plain connection and the supervisor calls
``run`` again, re-subscribing from the stored checkpoint; a stream consumer needs a
prefetch, and acks in batches.
"""

from __future__ import annotations

import asyncio
import logging
import time
from asyncio import FIRST_COMPLETED
from collections.abc import Awaitable, Callable

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage, AbstractQueue

from projections.projector import PAUSE_EVERY, Projector, Staged
from services.adapters import consumers
from services.adapters.stream_end import last_offset
from services.adapters.topology import Topology
from services.auth import log_signing
from services.node import collector

log = logging.getLogger(__name__)


class StreamBehind(Exception):
    """The stream ends before this node's checkpoint: it was lost or cut short.

    The node waits (and says so in its health) until the stream is re-seeded from a
    node's event_log copy (``licensing reseed``); it never skips ahead silently.
    """


class _Write:
    """A staged batch's transaction, started at once, and the last message it acks."""

    def __init__(
        self, projector: Projector, staged: Staged | None, last: AbstractIncomingMessage
    ) -> None:
        self.staged, self.last, self.acked = staged, last, False
        self.done: asyncio.Future[None] = (
            asyncio.ensure_future(projector.commit(staged)) if staged is not None else _finished()
        )

    async def ack(self) -> None:
        """Ack its messages once (a second ack of a delivery tag would close the channel)."""
        if not self.acked:
            self.acked = True
            await self.last.ack(multiple=True)


async def _settle(write: _Write) -> None:
    """Let a write in flight end, and ack it if it committed, while another error goes up:
    what it committed stays committed; what it did not, the next subscription reads again."""
    try:
        await write.done
        await write.ack()
    except Exception as exc:
        log.warning("a batch's write or ack did not complete: %s", exc)


def _finished() -> asyncio.Future[None]:
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    done.set_result(None)
    return done


# A catch-up longer than this many stream offsets is a bulk replay for the garbage collector
# (``services/node/collector.py``): the collector is off until caught up.
BULK_CATCH_UP = 1_000


class StreamConsumer:
    def __init__(self, projector: Projector, topology: Topology, batch_size: int = 500) -> None:
        self.projector = projector
        self.topology = topology
        self.batch_size = batch_size
        self.target_offset: int | None = None  # where the stream ended when this node subscribed
        self.probed = False  # target_offset is known for this subscription
        self.subscribed_at: float | None = None  # time.monotonic() of the probe (lag seconds)
        self.subscribed = False  # consuming the stream now (health: the node is fed)
        # Runs after a batch from the stream is committed and acked (the node's orders).
        self.after_commit: Callable[[], Awaitable[None]] | None = None

    @property
    def caught_up(self) -> bool:
        """Has this node read, since it subscribed, everything the stream held then?"""
        return self.probed and (
            self.target_offset is None or self.projector.checkpoint.offset >= self.target_offset
        )

    def forget(self) -> None:
        """Drop the projector's state and what the stream held (a reset's first step).

        A rebuild follows (from the stream or a peer): the collector is set for a bulk replay
        until the node has caught up again."""
        self.projector.forget()
        self.probed = False
        collector.bulk()

    def start_arguments(self) -> dict:
        if self.projector.checkpoint.offset < 0:
            return {"x-stream-offset": "first"}
        return {"x-stream-offset": self.projector.checkpoint.offset + 1}

    async def run(self, connection: AbstractConnection) -> None:
        """Consume from the checkpoint until cancelled or until an event cannot be applied.

        When the broker cancels the subscription (issue 9, row 8) it subscribes again from the
        checkpoint; a stream that is gone then is a lost log (``StreamBehind``).
        """
        if not self.projector.consistent:
            await self.projector.load()
        while True:
            await self._subscription(connection)
            log.warning(
                "the broker cancelled the stream consumer; subscribing again after offset %s",
                self.projector.checkpoint.offset,
            )

    async def _declare(self, channel: AbstractChannel) -> AbstractQueue:
        """The stream; created only by a node that has applied nothing yet (a new site).

        A node with a checkpoint never creates it: an empty stream in place of a deleted one
        would look like a fresh log to a writer, and whatever it appended there would make
        ``licensing reseed`` refuse the stream as not empty.
        """
        if self.projector.checkpoint.offset < 0:
            return await self.topology.declare_events(channel)
        try:
            return await channel.declare_queue(self.topology.events, passive=True)
        except aio_pika.exceptions.ChannelNotFoundEntity:
            raise StreamBehind(
                f"the event stream {self.topology.events} is gone but this node has applied up "
                f"to offset {self.projector.checkpoint.offset}: re-seed it (licensing reseed)"
            ) from None

    async def _subscription(self, connection: AbstractConnection) -> None:
        """One subscription, from the checkpoint; returns when the broker cancels it."""
        channel = await connection.channel(publisher_confirms=False)
        try:
            await self._consume(connection, channel)
        finally:
            self.subscribed = False
            if not channel.is_closed:
                try:
                    await channel.close()
                except Exception:  # the connection may already be gone
                    pass

    async def _consume(self, connection: AbstractConnection, channel: AbstractChannel) -> None:
        queue = await self._declare(channel)
        self.probed = False
        end = await last_offset(connection, self.topology.events)
        checkpoint = self.projector.checkpoint.offset
        if checkpoint >= 0 and (end is None or end < checkpoint):
            raise StreamBehind(
                f"the event stream ends at {end if end is not None else 'nothing'} but this "
                f"node has applied up to offset {checkpoint}: it was lost or cut short; "
                f"re-seed it (licensing reseed)"
            )
        self.catch_up_to(end)
        self.subscribed_at = time.monotonic()
        # Room for a batch being written, one being staged and the next arriving (``_project``).
        await channel.set_qos(prefetch_count=self.batch_size * 4)
        inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()

        async def enqueue(message: AbstractIncomingMessage) -> None:
            inbox.put_nowait(message)

        consumer = await consumers.consume(
            queue, enqueue, "stream", arguments=self.start_arguments()
        )
        self.subscribed = True
        writing: _Write | None = None
        try:
            while not consumer.cancelled.done():
                if writing is not None and inbox.empty():
                    await self._finish(writing)  # nothing to stage meanwhile
                    writing = None
                arrived = asyncio.ensure_future(inbox.get())
                await asyncio.wait([arrived, consumer.cancelled], return_when=FIRST_COMPLETED)
                if not arrived.done():
                    arrived.cancel()
                    return
                batch = [arrived.result()]
                while len(batch) < self.batch_size and not inbox.empty():
                    batch.append(inbox.get_nowait())
                writing = await self._project(batch, writing)
        except BaseException:
            if writing is not None:
                await _settle(writing)
            writing = None
            raise
        finally:
            try:
                if writing is not None:
                    await self._finish(writing)
            finally:
                await consumer.stop()

    async def _project(
        self, messages: list[AbstractIncomingMessage], writing: _Write | None
    ) -> _Write | None:
        """Stage the batch in memory while the previous one (``writing``) is written; then
        finish that one and start this one's write. Returns the write left in flight.

        Only a catch-up overlaps the two: the batch's Python and the previous batch's Postgres
        transaction then run on two cores. A batch past the stream's end at subscription
        (the writer may await its events) waits for every write before it, and is written
        before the next is read, as the projector always did.
        """
        offsets = [int(m.headers["x-stream-offset"]) for m in messages]  # type: ignore[arg-type]
        catching_up = self._catching_up(offsets[-1])
        if not catching_up and writing is not None:
            await self._finish(writing)
            writing = None
        # If staging halts, the caller settles ``writing``: what was staged before is written.
        staged = await self.projector.stage_messages(
            [
                (offset, m.body, m.headers.get(log_signing.HEADER))  # the projector verifies it
                for offset, m in zip(offsets, messages, strict=True)
            ],
            catching_up=catching_up,
            # Each of the previous write's round trips waits for a turn of the loop: over
            # 30,000 events a turn every message ended 21 % sooner than none (bench/README.md).
            pause_every=PAUSE_EVERY if catching_up else 0,
        )
        if writing is not None:
            await self._finish(writing)
        this = _Write(self.projector, staged, messages[-1])
        if not catching_up:
            await self._finish(this)
            return None
        return this

    async def _finish(self, write: _Write) -> None:
        """Wait for the write, then ack its messages and carry out what it committed."""
        await write.done
        await write.ack()
        if self.caught_up:
            collector.end_bulk()
            await self.projector.snapshot_if_behind()
        if write.staged is not None and self.after_commit is not None:
            await self.after_commit()

    def catch_up_to(self, end: int | None) -> None:
        """What the stream held when this subscription began: the catch-up's end. A long one
        sets the garbage collector for a bulk replay until it is done (``_finish``)."""
        self.target_offset, self.probed = end, True
        if end is not None and end - self.projector.checkpoint.offset > BULK_CATCH_UP:
            collector.bulk()
        else:
            collector.end_bulk()

    def _catching_up(self, last: int) -> bool:
        """Is the whole batch what the stream held when this node subscribed?

        Then the projector folds it in place (``services/domain/fold.py``). A batch that
        reaches past that end may hold events this node's writer awaits; it goes event by
        event, so each listener hears the state right after its event.
        """
        return self.probed and self.target_offset is not None and last <= self.target_offset
