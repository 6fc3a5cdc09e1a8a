"""The writer's appends have a deadline (issue 10, item 4).

A broker cluster that lost its majority neither acks nor nacks a publish to the stream
(docs/cluster-notes.md). A writer that waited for that confirm for ever would keep the writer
role and its pending commands while nothing can be decided. With the deadline, an append not
confirmed in time (or nacked) ends the writer's term: nothing pending is answered, the
commands go back to the queue, and the node is promoted anew once the log answers (its next
session; tests/e2e/test_cluster_faults.py shows that part on a real cluster).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from types import SimpleNamespace

import aiormq.exceptions
import pytest
from aiormq import spec

from events import codec
from events.commands import Acquire
from services.writer.writer import AppendFailed, Demoted, Writer
from tests.unit import harness
from tests.unit.test_writer_errors import FakeDelivery

DEADLINE = 0.2
ACQUIRE = codec.dumps(Acquire(feature="F", version="1", device="d", user="u"))


class SilentStream:
    """A stream publish that never gets its confirm (the majority is gone), or gets a nack."""

    def __init__(self, nack: bool = False) -> None:
        self.nack = nack
        self.published = 0

    async def publish(self, message, routing_key: str) -> None:
        self.published += 1
        if self.nack:
            raise aiormq.exceptions.DeliveryError(None, spec.Basic.Nack(delivery_tag=1))
        await asyncio.Event().wait()


class Replies:
    def __init__(self) -> None:
        self.published: list = []

    async def publish(self, message, routing_key: str) -> None:
        self.published.append(codec.loads_reply(message.body))


def _writer(stream: SilentStream, promoted: bool = True) -> tuple[Writer, Replies]:
    site = harness.Writer()
    site.activate("LIC-1", harness.grant(name="F", version="1", seats=2))
    projector = SimpleNamespace(state=site.state, checkpoint=SimpleNamespace(offset=0))
    writer = Writer(
        "a",
        "A_X",
        projector,  # type: ignore[arg-type]
        SimpleNamespace(site="s", events="s.events"),  # type: ignore[arg-type]
        append_deadline=DEADLINE,
    )
    if promoted:
        writer.epoch, writer.speculative = site.epoch, site.state
    replies = Replies()
    writer._reply_to = itertools.cycle([SimpleNamespace(default_exchange=replies)])
    writer._publish_channel = SimpleNamespace(default_exchange=stream)  # type: ignore[assignment]
    return writer, replies


async def _serve_as_run_does(writer: Writer, delivery: FakeDelivery) -> float:
    """The writer's session as ``Writer.run`` holds it: the publish loop, a delivery, and the
    step-down once the session's failure is set. Returns when the term ended (seconds)."""
    writer._failure = asyncio.get_running_loop().create_future()
    publisher = asyncio.create_task(writer._publish_loop())
    publisher.add_done_callback(writer._on_task_done)
    served = asyncio.create_task(writer._on_delivery(delivery))  # type: ignore[arg-type]
    started = time.monotonic()
    try:
        with pytest.raises(Demoted, match="confirmed no append|refused an append"):
            await asyncio.wait_for(writer._failure, 5)
        ended = time.monotonic() - started
    finally:
        writer._step_down("writer stopped")  # run()'s finally
        await asyncio.wait_for(served, 5)
        publisher.cancel()
        await asyncio.gather(publisher, return_exceptions=True)
    return ended


async def test_an_append_without_a_confirm_ends_the_term_and_answers_nothing():
    stream = SilentStream()
    writer, replies = _writer(stream)
    delivery = FakeDelivery(ACQUIRE, message_id="acq-1")
    ended = await _serve_as_run_does(writer, delivery)
    assert DEADLINE <= ended < DEADLINE + 1.0, ended
    assert stream.published == 1
    # Not answered as granted (nor at all): back to the queue for the next writer.
    assert replies.published == [] and delivery.settled == ["nack requeue=True"]
    assert writer.epoch is None and not writer.pending and writer._outbox.empty()


async def test_a_nacked_append_ends_the_term_at_once():
    stream = SilentStream(nack=True)
    writer, replies = _writer(stream)
    delivery = FakeDelivery(ACQUIRE, message_id="acq-2")
    ended = await _serve_as_run_does(writer, delivery)
    assert ended < DEADLINE, ended
    assert replies.published == [] and delivery.settled == ["nack requeue=True"]
    assert writer.epoch is None and not writer.pending


async def test_a_promotion_marker_without_a_confirm_gives_the_command_back():
    """A candidate's first delivery promotes it; with no confirm for the marker it takes no
    role and the command goes back, instead of waiting for ever (and holding it)."""
    stream = SilentStream()
    writer, replies = _writer(stream, promoted=False)
    writer._failure = asyncio.get_running_loop().create_future()
    delivery = FakeDelivery(ACQUIRE, message_id="acq-3")
    started = time.monotonic()
    await asyncio.wait_for(writer._on_delivery(delivery), 5)  # type: ignore[arg-type]
    assert DEADLINE <= time.monotonic() - started < DEADLINE + 1.0
    assert delivery.settled == ["nack requeue=True"] and replies.published == []
    assert writer.epoch is None
    assert isinstance(writer._failure.exception(), Demoted)


async def test_append_failed_is_a_demotion():
    # The node's supervisor restarts the session on Demoted (services/node/node.py _RETRYABLE).
    assert issubclass(AppendFailed, Demoted)
