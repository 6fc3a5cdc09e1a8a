"""Product load for the fault tests, and what the clients were told against what the log says.

``Load`` runs clients looping acquire -> short hold -> release on a feature with fewer seats
than clients, and keeps a ledger of every answer; ``SeatWatch`` samples the nodes'
``/api/features`` for a feature with more seats in use than it has; ``LogView`` and
``check_told`` compare the ledger with a node's ``event_log`` and ``usage``. Shared by
tests/e2e/test_failover.py (the writer's process fails) and tests/e2e/test_cluster_faults.py
(a broker node fails).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from services.client import LicenseClient
from services.client.errors import LicenseDenied
from tests.support.processes import NodeProcess

RUNTIME = ("Runtime", "2017")  # contended: fewer seats than load clients
HOLD_SECONDS = 0.03
MAX_CYCLES = 5000  # per client, a backstop: a test ends its load with `stop` (about 10 a second)


class LoadEnded(Exception):
    """Every load client has stopped before the test stopped the load: waiting for service
    is pointless (not an AssertionError, so ``wait_for`` gives up at once)."""


ClientFactory = Callable[[int], AbstractAsyncContextManager[LicenseClient]]


@dataclass
class Acquired:
    command_id: str
    sent: float
    replied: float
    lease_id: str | None  # None: denied


@dataclass
class Load:
    """Clients looping acquire -> short hold -> release, and a ledger of what they were told.

    ``client(i)`` opens client ``i`` (default: the site's product client); a client that gets
    an error it could not ride out records it and stops, and the test reports ``errors``.
    """

    site: Any
    clients: int = 4
    feature: tuple[str, str] = RUNTIME
    max_cycles: int = MAX_CYCLES
    hold_seconds: float = HOLD_SECONDS
    client: ClientFactory | None = None
    acquires: list[Acquired] = field(default_factory=list)
    held: dict[str, str] = field(default_factory=dict)  # lease id -> acquire command id
    released: set[str] = field(default_factory=set)
    releases: list[tuple[float, float]] = field(default_factory=list)  # (sent, replied)
    errors: list[str] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task] = field(default_factory=list)

    def start(self) -> None:
        self.tasks = [
            asyncio.create_task(self._client(i), name=f"load-{i}") for i in range(self.clients)
        ]

    async def until(self, condition: Callable[[], bool]) -> bool | None:
        """For ``wait_for``: True once ``condition()`` holds, None while not yet; raises
        ``LoadEnded`` (with the clients' errors) when no client runs any more."""
        if condition():
            return True
        if self.tasks and all(task.done() for task in self.tasks):
            raise LoadEnded(f"every load client has stopped; errors: {self.errors}")
        return None

    def round_trips(self) -> list[tuple[float, float]]:
        return [(a.sent, a.replied) for a in self.acquires] + self.releases

    def served_since(self, t: float) -> int:
        return sum(1 for a in self.acquires if a.replied > t)

    def first_served_after(self, t: float) -> float | None:
        """When the first acquire *sent* after ``t`` was answered (granted or denied)."""
        return min((a.replied for a in self.acquires if a.sent > t), default=None)

    def longest_gap(self, start: float, end: float) -> float:
        """The longest time within [start, end] in which no acquire was answered."""
        times = sorted(a.replied for a in self.acquires if start <= a.replied <= end)
        edges = [start, *times, end]
        return max(b - a for a, b in zip(edges, edges[1:], strict=False))

    async def finish(self) -> None:
        self.stop.set()
        await asyncio.wait_for(asyncio.gather(*self.tasks), 60)

    def _open(self, i: int) -> AbstractAsyncContextManager[LicenseClient]:
        return self.client(i) if self.client is not None else self.site.client()

    async def _client(self, i: int) -> None:
        async with self._open(i) as client:
            for _ in range(self.max_cycles):
                cid = f"load{i}-{uuid.uuid4().hex[:12]}"
                sent = time.monotonic()
                try:
                    lease = await client.acquire(
                        *self.feature, device=f"hmi{i}", user="op", command_id=cid
                    )
                except LicenseDenied:
                    self.acquires.append(Acquired(cid, sent, time.monotonic(), None))
                    if self.stop.is_set():
                        return
                    await asyncio.sleep(0.01)
                    continue
                except Exception as exc:  # a timeout or an outage the client did not ride out
                    self.errors.append(f"acquire {cid}: {exc!r}")
                    return
                self.acquires.append(Acquired(cid, sent, time.monotonic(), lease.lease_id))
                self.held[lease.lease_id] = cid
                await asyncio.sleep(self.hold_seconds)
                if self.stop.is_set():
                    await lease.stop_renewing()
                    return  # the last lease stays held: the survivor must still show it
                sent = time.monotonic()
                try:
                    reply = await lease.release()
                    self.releases.append((sent, time.monotonic()))
                except Exception as exc:
                    self.errors.append(f"release {lease.lease_id}: {exc!r}")
                    return
                if reply is None or not reply.ok:
                    self.errors.append(f"release {lease.lease_id} refused: {reply}")
                    return
                del self.held[lease.lease_id]
                self.released.add(lease.lease_id)
            if not self.stop.is_set():
                self.errors.append(f"client {i} ran all {self.max_cycles} cycles before the end")


class SeatWatch:
    """Samples /api/features on the nodes and remembers any feature with in_use > total."""

    def __init__(self, nodes: Callable[[], list[NodeProcess]]) -> None:
        self.nodes = nodes
        self.samples = 0
        self.violations: list[tuple[str, dict]] = []
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def check(self, node: NodeProcess, timeout: float = 0.5) -> None:
        try:
            features = (await node.get("/api/features", timeout=timeout))["features"]
        except Exception:
            return  # frozen, killed or restarting: nothing to sample
        self.samples += 1
        self.violations += [
            (node.node, f) for f in features if f["in_use"] > f["total"] or f["in_use"] < 0
        ]

    async def _run(self) -> None:
        while True:
            await asyncio.gather(*(self.check(n) for n in self.nodes()))
            await asyncio.sleep(0.05)


@dataclass
class LogView:
    """A node's event_log (decisions with their epoch, command and lease ids) and usage."""

    events: list[dict]
    usage: set[str]
    over: list  # usage_history rows with more seats in use than exist

    @classmethod
    async def of(cls, site: Any, node: str) -> LogView:
        async with site.database(node) as db:
            events = [
                dict(r)
                for r in await db.fetch(
                    "SELECT stream_offset, idx, type, ignored, (body->>'epoch')::int AS epoch, "
                    "body->>'command_id' AS command_id, body->>'lease_id' AS lease_id "
                    "FROM event_log ORDER BY stream_offset, idx"
                )
            ]
            usage = {r["lease_id"] for r in await db.fetch("SELECT lease_id FROM usage")}
            over = await db.fetch("SELECT * FROM usage_history WHERE in_use > total OR in_use < 0")
        return cls(events, usage, list(over))

    @property
    def accepted(self) -> dict[str, dict]:
        return {e["command_id"]: e for e in self.events if e["ignored"] is None and e["command_id"]}


def check_told(load: Load, log: LogView) -> None:
    """What the clients were told against the node's log: no seat over-allocated at any step,
    every lease a client holds is in usage and nothing else is, every answer is an accepted
    event, and nothing was granted twice."""
    assert not log.over, f"the log shows more seats in use than exist: {log.over[:5]}"

    # Every lease a client holds is on the node, and nothing else is (no leaked seat).
    assert log.usage == set(load.held), (
        f"missing on the node: {set(load.held) - log.usage}; "
        f"never told to a client: {log.usage - set(load.held)}"
    )

    # Every granted reply is an accepted event with the same lease id.
    accepted = log.accepted
    for a in load.acquires:
        event = accepted.get(a.command_id)
        assert event is not None, (
            f"acquire {a.command_id} was answered but is not accepted in the log"
        )
        if a.lease_id is not None:
            assert event["type"] == "LeaseGranted" and event["lease_id"] == a.lease_id, (a, event)
        else:
            assert event["type"] == "AcquireDenied", (a, event)

    grants = [e for e in log.events if e["type"] == "LeaseGranted" and e["ignored"] is None]
    lease_ids = [g["lease_id"] for g in grants]
    command_ids = [g["command_id"] for g in grants]
    assert len(lease_ids) == len(set(lease_ids)), "a lease was granted twice"
    assert len(command_ids) == len(set(command_ids)), "one acquire was granted two seats"


def brief(h: dict | None) -> str:
    """A node's health in one line, for assertion messages."""
    if not h:
        return "no answer"
    return (
        f"{h['node']}: healthy={h['healthy']} writer={h['writer']} epoch={h['epoch']} "
        f"offset={h['offset']} events={h['events_applied']} restarts={h['restarts']} "
        f"error={h['last_error']!r}"
    )


async def identical_read_models(site: Any, a: str, b: str) -> dict[str, list[tuple]]:
    """Every read-model row of node ``a`` equal to node ``b``'s; returns ``a``'s."""
    models_a, models_b = await site.read_models(a), await site.read_models(b)
    differ = {
        table: (len(models_a[table]), len(models_b[table]))
        for table in models_a
        if models_a[table] != models_b[table]
    }
    assert not differ, f"tables that differ ({a} rows, {b} rows): {differ}"
    return models_a
