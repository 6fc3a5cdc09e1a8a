"""The stream consumer's catch-up overlaps staging a batch with writing the one before it;
each batch is still committed whole and in order before its messages are acked, and a
live batch (past the stream's end at subscription) is committed before the next is read."""

from __future__ import annotations

import asyncio
import gc

from events import codec
from projections.projector import Projector, SnapshotPolicy
from projections.store import Checkpoint
from services.adapters.topology import Topology
from services.node import collector, stream_consumer
from services.node.stream_consumer import StreamConsumer
from tests.support.fake_log import license_events


class SlowStore:
    """Writes take a while (as Postgres does) and say when they start and end."""

    def __init__(self, trace: list) -> None:
        self.trace = trace
        self.written: list[Checkpoint] = []
        self.snapshots: list[tuple[str, int]] = []  # (in a batch's write or kept alone, offset)

    async def write(self, changes, state, checkpoint: Checkpoint, snapshot=None) -> None:
        self.trace.append(("write", checkpoint.offset))
        for _ in range(3):  # a transaction's round trips
            await asyncio.sleep(0)
        self.written.append(checkpoint)
        if snapshot is not None:
            self.snapshots.append(("batch", snapshot.offset))
        self.trace.append(("committed", checkpoint.offset))

    async def last_idx_at(self, offset: int) -> int:
        return 4  # 5 events a message

    async def keep_snapshot(self, snapshot) -> bool:
        self.snapshots.append(("kept", snapshot.offset))
        return True


class Delivery:
    def __init__(self, offset: int, body: bytes, trace: list) -> None:
        self.headers = {"x-stream-offset": offset}
        self.body, self.trace, self.offset = body, trace, offset

    async def ack(self, multiple: bool = False) -> None:
        assert multiple
        self.trace.append(("ack", self.offset))


def _deliveries(trace: list, messages: int) -> list[Delivery]:
    log, _ = license_events(messages * 5, seed=3)
    return [Delivery(n, codec.dumps_events(log[5 * n : 5 * n + 5]), trace) for n in range(messages)]


async def _consume(
    trace: list,
    deliveries: list[Delivery],
    target: int,
    batch: int,
    during: list | None = None,
    policy: SnapshotPolicy | None = None,
):
    store = SlowStore(trace)
    projector = Projector(store, snapshot_policy=policy or SnapshotPolicy())  # type: ignore[arg-type]
    consumer = StreamConsumer(projector, Topology("unit"), batch_size=batch)
    consumer.catch_up_to(target)
    if during is not None:  # is the collector on as each event is applied (and how set)?
        projector.listen(lambda *_: during.append((gc.isenabled(), gc.get_threshold())))
    orders: list[int] = []

    async def after_commit() -> None:
        orders.append(projector.checkpoint.offset)

    consumer.after_commit = after_commit
    writing = None
    for start in range(0, len(deliveries), batch):
        writing = await consumer._project(deliveries[start : start + batch], writing)  # type: ignore
    if writing is not None:
        await consumer._finish(writing)
    return projector, store, orders


async def test_a_catch_up_stages_the_next_batch_while_the_last_is_written_and_acks_after_commit():
    trace: list = []
    projector, store, orders = await _consume(trace, _deliveries(trace, 12), target=11, batch=3)

    assert [c.offset for c in store.written] == [2, 5, 8, 11]  # every batch, in order
    for offset in (2, 5, 8, 11):  # each ack after its own commit
        assert trace.index(("committed", offset)) < trace.index(("ack", offset))
    # The next batch's write starts only once the one before it committed.
    writes = [t for t in trace if t[0] in ("write", "committed")]
    assert writes == [(k, o) for o in (2, 5, 8, 11) for k in ("write", "committed")]
    assert orders == [2, 5, 8, 11]  # the orders of each batch, once it is committed
    assert projector.checkpoint == projector.head and projector.consistent


async def test_the_catch_up_overlaps_staging_with_the_previous_write(monkeypatch):
    trace: list = []
    original = Projector.stage_messages

    async def stage_messages(self, messages, catching_up=False, pause_every=0):
        trace.append(("staging", messages[-1][0]))
        staged = await original(self, messages, catching_up, pause_every)
        trace.append(("staged", messages[-1][0]))
        return staged

    monkeypatch.setattr(Projector, "stage_messages", stage_messages)
    await _consume(trace, _deliveries(trace, 6), target=5, batch=2)

    for before, after in ((1, 3), (3, 5)):
        # The write of one batch runs between the start and the end of staging the next.
        assert trace.index(("staging", after)) < trace.index(("write", before))
        assert trace.index(("write", before)) < trace.index(("staged", after))
        assert trace.index(("staging", after)) < trace.index(("committed", before))


async def test_a_live_batch_is_committed_and_acked_before_the_next_is_read():
    trace: list = []
    deliveries = _deliveries(trace, 6)
    projector, store, orders = await _consume(trace, deliveries, target=1, batch=2)

    assert [c.offset for c in store.written] == [1, 3, 5]
    # Past the end at subscription nothing overlaps: write, commit, ack, then the next.
    assert trace == [
        (kind, offset) for offset in (1, 3, 5) for kind in ("write", "committed", "ack")
    ]
    assert orders == [1, 3, 5]


SERVING = (True, collector.THRESHOLDS)


async def test_a_long_catch_up_turns_the_collector_off_until_it_is_caught_up(monkeypatch):
    monkeypatch.setattr(stream_consumer, "BULK_CATCH_UP", 3)  # a "long" catch-up: 4 offsets
    before = gc.get_threshold()
    gc.set_threshold(*collector.THRESHOLDS)
    try:
        trace: list = []
        during: list = []
        await _consume(trace, _deliveries(trace, 6), target=3, batch=2, during=during)
        after = (gc.isenabled(), gc.get_threshold())
    finally:
        gc.enable()
        gc.unfreeze()
        gc.set_threshold(*before)

    # 5 events a message: those of offsets 0-3 (the catch-up) were applied with the collector
    # off, those of 4-5 (live, once it had caught up) with it on, at the serving thresholds.
    assert during == [(False, collector.THRESHOLDS)] * 20 + [SERVING] * 10
    assert after == SERVING


async def test_a_short_catch_up_leaves_the_collector_as_it_is():
    gc.set_threshold(*collector.THRESHOLDS)
    trace: list = []
    during: list = []
    await _consume(trace, _deliveries(trace, 6), target=3, batch=2, during=during)
    assert during == [SERVING] * 30


async def test_a_rebuild_turns_the_collector_off_until_the_node_has_caught_up_again():
    before = gc.get_threshold()
    gc.set_threshold(*collector.THRESHOLDS)
    try:
        consumer = StreamConsumer(Projector(SlowStore([])), Topology("unit"))  # type: ignore[arg-type]
        consumer.forget()  # a reset's or a Sync's first step
        assert not gc.isenabled()
        consumer.catch_up_to(3)  # the stream then held little: nothing long left to replay
        assert (gc.isenabled(), gc.get_threshold()) == SERVING
    finally:
        gc.enable()
        gc.unfreeze()
        gc.set_threshold(*before)


async def test_a_catch_up_snapshots_less_often_and_once_more_when_it_has_caught_up():
    trace: list = []
    policy = SnapshotPolicy(every_events=10, catch_up_spacing=4)
    projector, store, _ = await _consume(
        trace, _deliveries(trace, 12), target=9, batch=2, policy=policy
    )
    # 10 events a batch. Catching up (offsets 0-9): one snapshot every 40 events, in the batch
    # that reaches them (offset 7); caught up at 9, the 10 events since are the live spacing
    # due, so one is kept there at once; live (10-11), the spacing is every 10 events again.
    assert store.snapshots == [("batch", 7), ("kept", 9), ("batch", 11)]
    assert projector.checkpoint.offset == 11
