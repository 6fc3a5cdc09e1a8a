"""The projector on a signed site: what it does with a message that is not the site's.

Issue 9 rows 1-3: a forged activation, a forged promotion and raw bytes on the stream
are each recorded as ignored (bad_signature), the same way everywhere, and change
nothing; a signed message that cannot be read still halts.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import orjson
import pytest

from events import codec
from events.vocabulary import IgnoredReason
from events.writer import WriterPromoted
from projections.projector import ProjectionHalted, Projector
from projections.rejected import Rejected
from projections.store import Checkpoint
from services.auth.log_signing import NodeKeys

AT = datetime(2026, 1, 1, tzinfo=UTC)
SITE = NodeKeys.from_setting("site:" + "s" * 40)
OTHER = NodeKeys.from_setting("site:" + "x" * 40)  # the site's kid, the wrong secret
RAW = b"this is not an event batch"


class LogStore:
    """The part of ProjectionStore the projector uses, in memory: event_log and checkpoint."""

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.cp = Checkpoint()

    async def write(self, changes, state, checkpoint: Checkpoint, snapshot=None) -> None:
        for offset, idx, type_, ignored, body in changes.log_rows:
            self.rows.append(
                {
                    "stream_offset": offset,
                    "idx": idx,
                    "type": type_,
                    "ignored": ignored,
                    "body": body,
                }
            )
        self.cp = checkpoint

    async def checkpoint(self) -> Checkpoint:
        return self.cp

    async def newest_snapshot(self, version: int) -> None:
        return None  # writes none either: every load is a full replay of ``rows``

    async def event_log(self, after=(-1, -1), page: int = 5000):
        yield list(self.rows)

    async def reset(self) -> None:
        self.rows, self.cp = [], Checkpoint()


def promoted(epoch: int, node: str = "a") -> bytes:
    return codec.dumps_events([WriterPromoted(epoch=epoch, node=node, server_id="A", at=AT)])


def signed(body: bytes, keys: NodeKeys = SITE) -> tuple[bytes, str]:
    return body, keys.sign(body)


def tampered_log() -> list[tuple[int, bytes, object]]:
    return [
        (0, *signed(promoted(1))),
        (1, promoted(2, "forger"), None),  # unsigned
        (2, RAW, None),
        (3, *signed(promoted(2, "forger"), OTHER)),  # signed with a key the site does not hold
        (4, promoted(2, "forger"), SITE.sign(promoted(1))),  # a signature of another body
        (5, *signed(promoted(2))),
    ]


def verifying(store) -> Projector:
    return Projector(store, verify=SITE.verify)


async def test_messages_not_signed_by_the_site_are_recorded_as_ignored_and_change_nothing():
    store = LogStore()
    projector = verifying(store)

    assert await projector.apply_messages(tampered_log())

    assert projector.halted is None
    assert projector.state.epoch == 2 and projector.state.writer_node == "a"
    assert projector.unverified_messages == 4
    assert projector.checkpoint.offset == 5 and projector.checkpoint.events_applied == 6
    rejected = [r for r in store.rows if r["ignored"] == IgnoredReason.BAD_SIGNATURE]
    assert [(r["stream_offset"], r["idx"], r["type"]) for r in rejected] == [
        (1, 0, "?"),
        (2, 0, "?"),
        (3, 0, "?"),
        (4, 0, "?"),
    ]
    raw_row = orjson.loads(rejected[1]["body"])
    assert raw_row == {
        "sha256": hashlib.sha256(RAW).hexdigest(),
        "length": len(RAW),
        "reason": "bad_signature",
    }
    assert all("forger" not in r["body"] for r in rejected)  # never the raw bytes


async def test_every_node_records_the_same_verdicts_and_the_verdict_is_in_the_digest():
    a, b, honest = verifying(LogStore()), verifying(LogStore()), verifying(LogStore())
    await a.apply_messages(tampered_log())
    for message in tampered_log():  # one message a batch: the same verdicts
        await b.apply_messages([message])
    await honest.apply_messages([m for m in tampered_log() if m[0] in (0, 5)])

    assert a.checkpoint == b.checkpoint
    assert a.state == b.state == honest.state
    assert a.checkpoint.digest != honest.checkpoint.digest


async def test_a_signed_message_that_cannot_be_read_still_halts():
    projector = verifying(LogStore())
    with pytest.raises(ProjectionHalted):
        await projector.apply_messages([(0, *signed(promoted(1))), (1, *signed(RAW))])
    assert projector.halted and "offset 1" in projector.halted


async def test_an_open_site_accepts_unsigned_messages_as_before():
    projector = Projector(LogStore())  # type: ignore[arg-type]
    await projector.apply_messages([(0, promoted(1), None), (1, promoted(2, "b"), None)])
    assert projector.state.epoch == 2 and projector.unverified_messages == 0


async def test_local_replays_re_apply_the_recorded_verdicts():
    store = LogStore()
    live = verifying(store)
    await live.apply_messages(tampered_log())

    restarted = verifying(store)
    await restarted.load()
    assert restarted.checkpoint == live.checkpoint and restarted.state == live.state
    assert restarted.unverified_messages == 4

    copy = verifying(LogStore())
    await copy.rebuild_from(store)  # type: ignore[arg-type]
    assert copy.checkpoint == live.checkpoint and copy.state == live.state
    assert copy.unverified_messages == 4


async def test_a_reseeded_record_of_a_rejection_is_recorded_the_same_way():
    original, reseeded = verifying(LogStore()), verifying(LogStore())
    await original.apply_messages([(0, *signed(promoted(1))), (1, RAW, None)])
    record = Rejected.of(RAW).reseeded_body()
    await reseeded.apply_messages([(0, *signed(promoted(1))), (1, *signed(record))])

    assert reseeded.checkpoint == original.checkpoint
    assert reseeded.unverified_messages == 1
