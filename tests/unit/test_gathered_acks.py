"""The writer's command acks, gathered into multiple acks (services/writer/outlet.py).

What the broker relies on: a multiple ack names a tag that is still outstanding (RabbitMQ
closes the channel on an unknown tag, and every command in flight goes with it), it never
settles a command that is not answered yet, and every answered command is acked.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from services.writer.outlet import MAX_HELD, GatheredAcks


class FakeChannel:
    """Plays the broker's side: which tags are outstanding, and what each ack settles."""

    def __init__(self, delivered: int) -> None:
        self.outstanding = set(range(1, delivered + 1))
        self.frames: list[tuple[int, bool]] = []
        self.is_closed = False

    async def basic_ack(self, tag: int, multiple: bool = False, wait: bool = True) -> None:
        assert tag in self.outstanding, f"unknown delivery tag {tag}: the channel would close"
        self.frames.append((tag, multiple))
        if multiple:
            self.outstanding -= {t for t in self.outstanding if t <= tag}
        else:
            self.outstanding.discard(tag)

    def settle_alone(self, tag: int) -> None:  # a nack or reject of one delivery
        assert tag in self.outstanding
        self.outstanding.discard(tag)


CHANNEL: FakeChannel | None = None  # the channel the tracker under test counts


def delivery(tag: int, channel: object | None = None) -> SimpleNamespace:
    return SimpleNamespace(delivery_tag=tag, channel=channel or CHANNEL)


def tracker(channel: FakeChannel) -> GatheredAcks:
    global CHANNEL
    CHANNEL = channel
    return GatheredAcks(channel)  # type: ignore[arg-type]


async def settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


async def test_commands_answered_in_one_loop_turn_go_in_one_frame():
    channel = FakeChannel(5)
    acks = tracker(channel)
    for tag in (2, 1, 3, 5, 4):
        await acks.ack(delivery(tag))  # type: ignore[arg-type]
    await settle()
    assert channel.frames == [(5, True)]
    assert not channel.outstanding


async def test_a_command_still_in_flight_is_never_acked_with_the_others():
    channel = FakeChannel(4)
    acks = tracker(channel)
    for tag in (1, 3, 4):
        await acks.ack(delivery(tag))  # type: ignore[arg-type]
    await settle()
    assert channel.outstanding == {2, 3, 4}  # 2 is in flight: nothing past it is acked
    await acks.ack(delivery(2))  # type: ignore[arg-type]
    await settle()
    assert channel.frames == [(1, True), (4, True)]
    assert not channel.outstanding


async def test_a_nacked_command_is_passed_over_and_never_named():
    channel = FakeChannel(4)
    acks = tracker(channel)
    await acks.ack(delivery(1))  # type: ignore[arg-type]
    await acks.ack(delivery(2))  # type: ignore[arg-type]
    channel.settle_alone(3)
    await acks.settled(delivery(3))  # type: ignore[arg-type]
    channel.settle_alone(4)
    await acks.settled(delivery(4))  # type: ignore[arg-type]
    await settle()
    assert channel.frames == [(2, True)]
    assert not channel.outstanding
    channel.outstanding = {5}
    await acks.ack(delivery(5))  # type: ignore[arg-type]
    await settle()
    assert channel.frames[-1] == (5, True)


async def test_answers_held_behind_a_slow_command_are_acked_one_by_one_past_the_limit():
    channel = FakeChannel(MAX_HELD + 3)
    acks = tracker(channel)
    for tag in range(2, MAX_HELD + 4):  # tag 1 waits
        await acks.ack(delivery(tag))  # type: ignore[arg-type]
    await settle()
    assert channel.outstanding == {1}
    await acks.ack(delivery(1))  # type: ignore[arg-type]
    await settle()
    assert channel.frames[-1] == (1, True)
    assert not channel.outstanding


async def test_later_answers_wait_for_the_flush_in_progress():
    channel = FakeChannel(6)
    acks = tracker(channel)
    gate = asyncio.Event()
    original = channel.basic_ack

    async def slow_first(tag: int, multiple: bool = False, wait: bool = True) -> None:
        if not channel.frames:
            await gate.wait()  # the write queue is full: the first frame waits
        await original(tag, multiple, wait)

    channel.basic_ack = slow_first  # type: ignore[method-assign]
    for tag in (1, 2, 3):
        await acks.ack(delivery(tag))  # type: ignore[arg-type]
    await settle()
    for tag in (4, 5, 6):
        await acks.ack(delivery(tag))  # type: ignore[arg-type]
    await settle()
    gate.set()
    await settle()
    assert channel.frames == [(3, True), (6, True)]
    assert not channel.outstanding


async def test_a_delivery_of_an_earlier_session_is_acked_by_itself_and_never_counted():
    channel, earlier = FakeChannel(2), FakeChannel(1)
    acks = tracker(channel)
    old = delivery(1, earlier)
    old.acked = False

    async def ack() -> None:
        old.acked = True

    old.ack = ack
    await acks.ack(old)  # type: ignore[arg-type]
    await acks.settled(delivery(1, earlier))  # type: ignore[arg-type]
    await acks.ack(delivery(2))  # type: ignore[arg-type]
    await settle()
    assert old.acked
    assert channel.frames == []  # this channel's tag 1 is still in flight: nothing passes it
    await acks.ack(delivery(1))  # type: ignore[arg-type]
    await settle()
    assert channel.frames == [(2, True)]
