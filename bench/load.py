"""The load: product clients doing acquire + release, closed-loop (saturation) or open-loop
(fixed rate).

One *session* is an ``Acquire`` followed, once it is granted, by a ``Release`` of
that lease: two commands. Both go through ``LicenseClient.send`` (the public client
API: publisher confirms, reply queue, retry with the same command id), so the
system and the echo floor are driven by exactly the same code.

- ``saturate``: every client runs ``in_flight`` sessions back to back; throughput is
  the commands completed inside the measured window divided by its length.
- ``open_loop``: sessions are *scheduled* at ``rate / 2`` per second (so ``rate``
  commands/s), whatever the replies do; each is started at its scheduled time on the
  next client (round robin). An acquire's latency runs from its scheduled send time
  (so a late start or a backlog counts against it: no coordinated omission); a
  release's from the moment its acquire was answered, which is when it is due.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from bench.stats import summary_ms
from events.commands import Acquire, Release
from services.client import ClientError, LicenseClient

FEATURE, VERSION = "Bench", "1"
WALL = time.time() - time.perf_counter()  # perf_counter + WALL = wall clock


@dataclass
class Samples:
    acquire: list[tuple[float, float]] = field(default_factory=list)  # (due, done), perf_counter
    release: list[tuple[float, float]] = field(default_factory=list)
    # (sent, decided, done) of granted acquires, perf_counter; ``decided`` is the writer's clock
    # when it decided (the grant's expires_at less its lease period), so only for the real system.
    stages: list[tuple[float, float, float]] = field(default_factory=list)
    refused: int = 0  # replies with ok = false (a denial would mean too few seats: a bench bug)
    errors: list[str] = field(default_factory=list)  # client-side failures (timeouts, broker)


class Load:
    def __init__(self, clients: list[LicenseClient]) -> None:
        self.clients = clients
        self._n = 0

    async def session(self, client: LicenseClient, due: float, out: Samples) -> None:
        self._n += 1
        n = self._n
        try:
            sent = time.perf_counter()
            reply = await client.send(
                Acquire(
                    feature=FEATURE, version=VERSION, device=f"dev{n % 97}", user=f"user{n % 13}"
                )
            )
            done = time.perf_counter()
            out.acquire.append((due, done))
            if not reply.ok:
                out.refused += 1
                return
            result = reply.result or {}
            if "expires_at" in result:
                decided = (
                    datetime.fromisoformat(result["expires_at"]).timestamp()
                    - result["lease_seconds"]
                )
                out.stages.append((sent, decided - WALL, done))
            reply = await client.send(
                Release(
                    lease_id=reply.result["lease_id"], lease_secret=reply.result["lease_secret"]
                )
            )  # type: ignore[index]
            out.release.append((done, time.perf_counter()))
            if not reply.ok:
                out.refused += 1
        except ClientError as exc:
            out.errors.append(f"{type(exc).__name__}: {exc}")

    async def saturate(self, in_flight: int, warmup: float, window: float) -> dict:
        out = Samples()
        stop = time.perf_counter() + warmup + window

        async def worker(client: LicenseClient) -> None:
            while time.perf_counter() < stop:
                await self.session(client, time.perf_counter(), out)

        start = time.perf_counter()
        t0, t1 = start + warmup, start + warmup + window
        await asyncio.gather(*(worker(c) for c in self.clients for _ in range(in_flight)))
        return _window(out, t0, t1, by="done") | {
            "mode": "saturation",
            "sessions_in_flight": in_flight * len(self.clients),
            "t0": t0,
            "t1": t1,
        }

    async def open_loop(self, rate: float, warmup: float, window: float) -> dict:
        out = Samples()
        interval = 2.0 / rate
        start = time.perf_counter() + 0.05
        t0, t1 = start + warmup, start + warmup + window
        count = int((warmup + window) / interval)
        tasks: list[asyncio.Task] = []
        behind = 0.0
        for k in range(count):
            due = start + k * interval
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                behind = max(behind, -delay)
            tasks.append(
                asyncio.create_task(self.session(self.clients[k % len(self.clients)], due, out))
            )
        _, late = await asyncio.wait(tasks, timeout=60)
        for task in late:  # far beyond any window: do not let them spill into the next phase
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        return _window(out, t0, t1, by="due") | {
            "mode": "open-loop",
            "unfinished_after_60s": len(late),
            "offered_per_s": rate,
            "scheduler_max_behind_ms": round(behind * 1000, 2),
            "t0": t0,
            "t1": t1,
        }


def phase_line(who: str, name: str, phase: dict) -> str:
    """One phase's throughput and latency, as the scenarios print it."""
    latency = phase["latency_ms"]
    return (
        f"  {who:7} {name:12} {phase['completed_per_s']:7.1f} cmd/s  "
        f"p50 {latency['p50']} ms  p99 {latency['p99']} ms"
    )


async def alternate_saturation(
    loads: dict[str, Load],
    rounds: int,
    in_flight: int,
    warmup: float,
    window: float,
    say: Callable[[str], None],
) -> dict[str, dict]:
    """Saturation rounds of each load in turn (the dict's order), so that every target sees the
    same machine; each gets every round (``saturation_N``) and its best as ``saturation``."""
    phases: dict[str, dict] = {name: {} for name in loads}
    for r in range(1, rounds + 1):
        for name, load in loads.items():
            phase = await load.saturate(in_flight, warmup, window)
            phases[name][f"saturation_{r}"] = phase
            say(phase_line(name, f"saturation_{r}", phase))
    for name in loads:
        tried = [phases[name][f"saturation_{r}"] for r in range(1, rounds + 1)]
        phases[name]["saturation"] = max(tried, key=lambda p: p["completed_per_s"])
    return phases


def _window(out: Samples, t0: float, t1: float, by: str) -> dict:
    """Commands inside [t0, t1): by completion time (saturation) or by due time (open loop)."""
    pick = (
        (lambda due, done: t0 <= done < t1) if by == "done" else (lambda due, done: t0 <= due < t1)
    )
    acq = [(d, e) for d, e in out.acquire if pick(d, e)]
    rel = [(d, e) for d, e in out.release if pick(d, e)]
    latencies = [e - d for d, e in acq + rel]
    stages = [st for st in out.stages if t0 <= st[0] < t1]
    completed = sum(1 for d, e in out.acquire + out.release if t0 <= e < t1)
    return {
        "window_s": round(t1 - t0, 3),
        "commands_in_phase": len(out.acquire) + len(out.release),  # warm-up and drain included
        "commands": len(acq) + len(rel),
        "completed_per_s": round(completed / (t1 - t0), 1),
        "latency_ms": summary_ms(latencies),
        "acquire_latency_ms": summary_ms([e - d for d, e in acq]),
        "release_latency_ms": summary_ms([e - d for d, e in rel]),
        # Where an acquire's time goes (real system only): from the client's send to the writer's
        # decision (client publish + quorum queue + writer intake), and from the decision to the
        # reply in the client (group-commit publish + stream confirm + read-back + reply).
        "acquire_send_to_decided_ms": summary_ms([dec - sent for sent, dec, _ in stages])
        if stages
        else None,
        "acquire_decided_to_reply_ms": summary_ms([done - dec for _, dec, done in stages])
        if stages
        else None,
        "refused": out.refused,
        "errors": len(out.errors),
        "first_errors": out.errors[:3],
    }
