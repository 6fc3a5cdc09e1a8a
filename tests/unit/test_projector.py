"""The projector without a broker: which stream messages are new, the halt, and its layer."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest

from events import codec
from events.writer import WriterPromoted
from projections.projector import ProjectionHalted, Projector
from projections.store import Checkpoint

AT = datetime(2026, 1, 1, tzinfo=UTC)


class MemoryStore:
    """What the projector asks of ProjectionStore, kept in a list of committed batches."""

    def __init__(self) -> None:
        self.written: list[Checkpoint] = []

    async def write(self, changes, state, checkpoint: Checkpoint, snapshot=None) -> None:
        self.written.append(checkpoint)


def promoted(epoch: int) -> bytes:
    return codec.dumps_events([WriterPromoted(epoch=epoch, node="a", server_id="A", at=AT)])


async def test_only_messages_past_the_checkpoint_are_applied_and_offsets_need_not_be_dense():
    store = MemoryStore()
    projector = Projector(store)  # type: ignore[arg-type]

    assert await projector.apply_messages([(3, promoted(1), None), (7, promoted(2), None)])
    # A redelivery from the start of the chunk, then one new message further on.
    assert await projector.apply_messages(
        [(3, promoted(1), None), (7, promoted(2), None), (12, promoted(3), None)]
    )
    assert not await projector.apply_messages([(12, promoted(3), None)])

    assert [c.offset for c in store.written] == [7, 12]
    assert [c.events_applied for c in store.written] == [2, 3]
    assert projector.checkpoint.offset == projector.applied_offset == 12
    assert projector.state.epoch == 3


async def test_a_message_that_is_not_an_event_batch_halts_and_writes_nothing():
    store = MemoryStore()
    projector = Projector(store)  # type: ignore[arg-type]

    with pytest.raises(ProjectionHalted):
        await projector.apply_messages([(0, promoted(1), None), (1, b"not json", None)])

    assert projector.halted and "offset 1" in projector.halted
    assert store.written == [] and projector.checkpoint.offset == -1


def test_the_read_models_load_no_broker_or_node_code():
    probe = (
        "import sys, projections.projector, projections.database, projections.store\n"
        "print(' '.join(m for m in sys.modules if m.split('.')[0] in "
        "('aio_pika', 'aiormq', 'aiohttp') or m.startswith(('services.adapters', "
        "'services.node', 'services.writer'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == []
