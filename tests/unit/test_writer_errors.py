"""The writer's error path: whatever fails in deciding is answered, whatever else is let go.

Issue 9, row 6: a TypeError inside decide left deliveries unacked until they filled the
writer's prefetch and it took no command at all.
"""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import orjson

from events import codec
from events.commands import Acquire
from events.replies import ErrorCode
from services.writer import writer as writer_module
from services.writer.writer import Writer
from tests.unit import harness


class FakeDelivery:
    def __init__(self, body: bytes, message_id: str = "c1", reply_to: str | None = "reply"):
        self.body, self.message_id, self.reply_to = body, message_id, reply_to
        self.headers: dict = {}
        self.correlation_id = "corr"
        self.settled: list[str] = []

    async def ack(self) -> None:
        self.settled.append("ack")

    async def reject(self, requeue: bool = False) -> None:
        self.settled.append(f"reject requeue={requeue}")

    async def nack(self, requeue: bool = True) -> None:
        self.settled.append(f"nack requeue={requeue}")


class FakeExchange:
    def __init__(self) -> None:
        self.published: list = []

    async def publish(self, message, routing_key: str) -> None:
        self.published.append(codec.loads_reply(message.body))


def _writer() -> tuple[Writer, FakeExchange]:
    site = harness.Writer()
    projector = SimpleNamespace(state=site.state)
    writer = Writer("a", "A_X", projector, SimpleNamespace(site="s"))  # type: ignore[arg-type]
    writer.epoch, writer.speculative = site.epoch, site.state
    exchange = FakeExchange()
    writer._reply_to = itertools.cycle([SimpleNamespace(default_exchange=exchange)])
    return writer, exchange


ACQUIRE = codec.dumps(Acquire(feature="F", version="1", device="d", user="u"))


async def test_an_exception_in_decide_is_an_invalid_reply_and_changes_nothing(monkeypatch):
    writer, exchange = _writer()
    before = writer.speculative

    def broken(*args):
        raise TypeError("can't compare offset-naive and offset-aware datetimes")

    monkeypatch.setattr(writer_module, "decide", broken)
    delivery = FakeDelivery(ACQUIRE)
    await writer._on_delivery(delivery)  # type: ignore[arg-type]
    assert delivery.settled == ["ack"]
    [reply] = exchange.published
    assert not reply.ok and reply.error.code == ErrorCode.INVALID and reply.command_id == "c1"
    assert writer.speculative is before and not writer.pending and writer._outbox.empty()


async def test_an_exception_in_evolve_changes_nothing_either(monkeypatch):
    writer, exchange = _writer()
    before = writer.speculative
    monkeypatch.setattr(writer_module, "evolve", lambda *a: 1 / 0)
    delivery = FakeDelivery(ACQUIRE, message_id="c2")
    await writer._on_delivery(delivery)  # type: ignore[arg-type]
    assert delivery.settled == ["ack"] and exchange.published[0].error.code == ErrorCode.INVALID
    assert writer.speculative is before and writer._outbox.empty()


async def test_any_other_failure_dead_letters_the_message_instead_of_leaving_it_unacked():
    writer, exchange = _writer()

    async def reply_fails(message, routing_key):
        raise RuntimeError("the reply could not be sent")

    exchange.publish = reply_fails  # type: ignore[method-assign]
    delivery = FakeDelivery(orjson.dumps({"type": "Acquire", "feature": "F"}))
    await writer._on_delivery(delivery)  # type: ignore[arg-type]
    assert delivery.settled == ["reject requeue=False"] and writer.dead_lettered == 1
