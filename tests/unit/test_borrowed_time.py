"""Borrowed time (issue 10, item 5): a lease outlives an unreachable pair for its grace.

The client's side: a lease handle whose renewals fail because nobody answers is borrowed,
not lost, until the grace from its last successful renewal runs out; a refusal still loses
it. The writer's side: a writer that may have been deaf to renewals (paused, or its log took
no appends) gives every open lease a fresh period instead of expiring it.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest

from events.replies import ErrorCode, Reply
from services.client.errors import CommandTimeout
from services.client.lease import Lease, LeaseState
from services.writer import writer as writer_module
from services.writer.leases import LeaseClock
from services.writer.writer import Writer
from tests.unit.harness import Writer as Site
from tests.unit.harness import at, grant

# -- the lease handle --------------------------------------------------------------------


class FakeSender:
    """Answers renewals as the test says: ``renewed``, ``silent`` (nobody answers), or a reply."""

    def __init__(self) -> None:
        self.mode: str | Reply = "renewed"
        self.renewals = 0

    async def renew(self, leases: dict[str, str | None], *, timeout: float | None = None) -> Reply:
        self.renewals += 1
        if self.mode == "cancelled":  # aiormq cancels a call in flight on a silent connection
            raise asyncio.CancelledError
        if self.mode == "silent":  # at once, as a broker that refuses connections
            await asyncio.sleep(0)
            raise CommandTimeout("RenewLeases", "c", timeout or 0, 1)
        if isinstance(self.mode, Reply):
            return self.mode
        return Reply.success("c", renewed=list(leases), gone=[], refused=[])

    async def release(self, lease_id: str, reason: str | None = None, **_: object) -> Reply:
        return Reply.success("r", released=lease_id)


def _lease(sender: FakeSender, grace: float) -> Lease:
    reply = Reply.success("acq", lease_id="L-1", lease_secret="s", lease_seconds=5)
    return Lease(sender, reply, lease_seconds=5, renew_every=0.05, grace_seconds=grace)


async def _until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_an_unreachable_pair_makes_the_lease_borrowed_and_its_return_held_again():
    sender = FakeSender()
    lease = _lease(sender, grace=30)
    lease.start()
    try:
        await _until(lambda: lease.renewals >= 1)
        assert lease.state == LeaseState.HELD and not lease.borrowed
        sender.mode = "silent"
        await _until(lambda: lease.borrowed)
        assert lease.state == LeaseState.BORROWED and lease.held and not lease.lost
        first = lease.remaining_grace()
        await asyncio.sleep(0.3)
        assert 0 < lease.remaining_grace() < first <= 30
        assert lease.borrowed_until > lease.expires_at  # borrowed past the lease period
        sender.mode = "renewed"
        before = lease.renewals
        await _until(lambda: lease.renewals > before)
        assert lease.state == LeaseState.HELD and not lease.borrowed
        assert lease.remaining_grace() > first  # the grace runs from the last renewal
    finally:
        await lease.stop_renewing()


async def test_past_the_grace_the_lease_is_lost_and_says_why():
    sender = FakeSender()
    sender.mode = "silent"
    lease = _lease(sender, grace=1.0)
    lease.start()
    await asyncio.wait_for(lease.wait_lost(), timeout=5)
    assert lease.state == LeaseState.LOST and lease.lost and not lease.borrowed
    assert lease.lost_reason is not None and "grace" in lease.lost_reason
    assert lease.remaining_grace() == 0
    assert await lease.release() is None  # lost: nothing to give back


async def test_a_call_cancelled_by_a_broken_connection_does_not_end_the_renewer():
    sender = FakeSender()
    sender.mode = "cancelled"
    lease = _lease(sender, grace=30)
    lease.start()
    task = lease._task
    try:
        await _until(lambda: sender.renewals >= 3)  # it went on renewing
        assert lease.state == LeaseState.BORROWED
        sender.mode = "renewed"
        await _until(lambda: lease.state == LeaseState.HELD)
    finally:
        await lease.stop_renewing()
    assert task is not None and task.cancelled()  # and stop_renewing() still ends it


@pytest.mark.parametrize("code", [ErrorCode.UNAVAILABLE, ErrorCode.NOT_WRITER, ErrorCode.TIMEOUT])
async def test_a_reply_that_nobody_could_decide_is_borrowed_time(code: ErrorCode):
    sender = FakeSender()
    sender.mode = Reply.failure("c", code, "no majority")
    lease = _lease(sender, grace=30)
    lease.start()
    try:
        await _until(lambda: sender.renewals >= 3)
        assert lease.state == LeaseState.BORROWED and not lease.lost
    finally:
        await lease.stop_renewing()


@pytest.mark.parametrize(
    "reply",
    [
        Reply.failure("c", ErrorCode.NOT_FOUND, "no such lease"),
        Reply.failure("c", ErrorCode.UNAUTHORIZED, "needs the secret"),
        Reply.success("c", renewed=[], gone=["L-1"], refused=[]),
        Reply.success("c", renewed=[], gone=[], refused=["L-1"]),
    ],
)
async def test_a_refusal_is_lost_at_once_even_on_borrowed_time(reply: Reply):
    sender = FakeSender()
    sender.mode = "silent"
    lease = _lease(sender, grace=30)
    lease.start()
    await _until(lambda: lease.borrowed)
    sender.mode = reply
    await asyncio.wait_for(lease.wait_lost(), timeout=5)
    assert lease.state == LeaseState.LOST and lease.lost_reason


# -- the writer's lease clock ------------------------------------------------------------


def _site_with_lease() -> tuple[Site, str]:
    site = Site()
    site.activate("LIC-1", grant(seats=2))
    lease = site.acquire(command_id="acq-1")
    return site, lease.lease_id


def test_a_restarted_clock_gives_open_leases_a_fresh_period_but_keeps_expiries_in_flight():
    site, lease_id = _site_with_lease()
    other = site.acquire(command_id="acq-2").lease_id
    clock = LeaseClock()
    clock.fresh_period_for_all(site.state, at(0))
    assert sorted(clock.overdue(site.state, at(61))) == sorted([lease_id, other])
    clock.expiring.discard(other)  # say only lease_id's expiry was decided before the stall
    clock.restart(site.state, at(100))
    assert clock.deadlines[other] == at(160)
    assert lease_id in clock.expiring and lease_id not in clock.deadlines
    assert clock.overdue(site.state, at(159)) == []


def _writer(site: Site, now: list) -> tuple[Writer, list[str]]:
    projector = SimpleNamespace(state=site.state)
    writer = Writer(
        "a",
        "A_X",
        projector,  # type: ignore[arg-type]
        SimpleNamespace(site="s"),  # type: ignore[arg-type]
        lease_check_seconds=0.05,
        clock=lambda: now[0],
    )
    writer.epoch, writer.speculative = site.epoch, site.state
    writer.leases.fresh_period_for_all(site.state, now[0])
    expired: list[str] = []

    async def expire(lease_id: str) -> None:
        expired.append(lease_id)

    writer._expire = expire  # type: ignore[method-assign]
    return writer, expired


async def test_a_writer_paused_past_the_lease_period_renews_instead_of_expiring(monkeypatch):
    monkeypatch.setattr(writer_module, "STALL_SECONDS", 0.3)
    site, lease_id = _site_with_lease()
    now = [at(0)]
    writer, expired = _writer(site, now)
    loop = asyncio.create_task(writer._expiry_loop())
    try:
        await asyncio.sleep(0.15)
        now[0] = at(120)  # two lease periods pass while the process is frozen
        time.sleep(0.5)  # the frozen process: its event loop runs nothing
        await asyncio.sleep(0.15)
        assert expired == []
        assert writer.leases.deadlines[lease_id] == at(180)
        now[0] = at(181)  # and a lease nobody renews after the stall still expires
        await _until(lambda: expired == [lease_id], timeout=2)
    finally:
        loop.cancel()


async def test_a_writer_expires_nothing_while_its_log_takes_no_append(monkeypatch):
    monkeypatch.setattr(writer_module, "STALL_SECONDS", 0.2)
    site, lease_id = _site_with_lease()
    now = [at(0)]
    writer, expired = _writer(site, now)
    unblock = asyncio.Event()

    async def publish(events: list) -> None:
        await unblock.wait()  # no confirm: the log (its majority) is gone

    writer._publish = publish  # type: ignore[method-assign]
    writer._reply_to = itertools.cycle([None])
    tasks = [
        asyncio.create_task(writer._publish_loop()),
        asyncio.create_task(writer._expiry_loop()),
    ]
    try:
        writer._outbox.put_nowait(object())  # type: ignore[arg-type]
        await asyncio.sleep(0.4)
        now[0] = at(120)
        await asyncio.sleep(0.3)
        assert expired == []  # deaf while the append waits
        unblock.set()
        await asyncio.sleep(0.2)
        assert writer.leases.deadlines[lease_id] == at(120) + timedelta(seconds=60)
        assert expired == []
    finally:
        for task in tasks:
            task.cancel()
