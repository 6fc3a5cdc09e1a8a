"""Scenarios 1 and 2: the acquire path (system vs echo floor) and projection under that load.

Both targets are set up first, side by side, each on its own site: the echo server
(bench/echo.py, its own process) and a primary + backup (``licensing server``, two
processes). Then the phases alternate between them, echo first, so that both see
the same machine: saturation (``saturation_rounds`` rounds each, the best round
counts, every round is kept in the JSON), then each fixed offered rate. The idle
target costs next to nothing meanwhile (the nodes' heartbeats, once a second).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from contextlib import AsyncExitStack
from pathlib import Path

from bench.config import Plan
from bench.lag import LagWatcher
from bench.load import FEATURE, VERSION, WALL, Load
from bench.machine import OtherWork
from bench.processes import NodeProcess, Process
from bench.sites import node_dsn, remove_site, settings_for
from bench.stats import summary_ms
from services.client import LicenseClient

NODES = ("primary", "backup")
# No failover happens here, so a resend (same command id) could only add load: the
# attempt timeout is set well above any latency the phases produce.
ATTEMPT_TIMEOUT, TIMEOUT = 30.0, 90.0


async def _clients(stack: AsyncExitStack, site: str, count: int) -> list[LicenseClient]:
    clients = []
    for _ in range(count):
        client = LicenseClient(settings_for(site), attempt_timeout=ATTEMPT_TIMEOUT, timeout=TIMEOUT)
        await stack.enter_async_context(client)
        clients.append(client)
    return clients


class HealthSampler:
    """events_applied of each node every 0.2 s, to get events/s over a window."""

    def __init__(self, nodes: dict[str, NodeProcess]) -> None:
        self.nodes = nodes
        self.samples: dict[str, list[tuple[float, int]]] = {name: [] for name in nodes}
        self._task: asyncio.Task | None = None

    def start(self) -> HealthSampler:
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        while True:
            for name, node in self.nodes.items():
                h = await node.health()
                if h:
                    self.samples[name].append((time.perf_counter(), int(h["events_applied"])))
            await asyncio.sleep(0.2)

    def rate(self, name: str, t0: float, t1: float) -> float | None:
        inside = [(t, n) for t, n in self.samples[name] if t0 <= t < t1]
        if len(inside) < 2 or inside[-1][0] == inside[0][0]:
            return None
        return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


async def _start_echo(site: str, log_dir: Path) -> Process:
    echo = Process(f"{site}-echo", [sys.executable, "-m", "bench.echo", "--site", site], log_dir)
    echo.start(stdout=subprocess.PIPE)
    line = await asyncio.wait_for(asyncio.to_thread(echo.proc.stdout.readline), timeout=30)  # type: ignore
    if b"ready" not in line:
        raise RuntimeError(f"echo server did not start:\n{echo.log_tail()}")
    return echo


async def acquire_path(plan: Plan, run_id: str, log_dir: Path, say) -> dict:
    echo_site, system_site = f"{run_id}e", f"{run_id}s"
    echo: Process | None = None
    nodes = {name: NodeProcess(system_site, name, log_dir) for name in NODES}
    watchers: dict[str, LagWatcher] = {}
    sampler = HealthSampler(nodes)
    try:
        echo = await _start_echo(echo_site, log_dir)
        for (
            node
        ) in nodes.values():  # primary first: it gets the commands queue (single active consumer)
            node.start()
            await node.wait_healthy()
        async with AsyncExitStack() as stack:
            echo_load = Load(await _clients(stack, echo_site, plan.clients))
            clients = await _clients(stack, system_site, plan.clients)
            reply = await clients[0].activate(
                "BENCH", [{"name": FEATURE, "version": VERSION, "seats": 1_000_000}]
            )
            if not reply.ok:
                raise RuntimeError(f"could not activate the bench license: {reply}")
            roles = {}
            for name, node in nodes.items():
                h = await node.wait_healthy()
                roles["writer" if h["writer"] else "follower"] = name
            if set(roles) != {"writer", "follower"}:
                raise RuntimeError(f"expected one writer and one follower, got {roles}")
            say(
                f"  echo server pid {echo.pid}; "
                f"writer {roles['writer']} (pid {nodes[roles['writer']].pid}), "
                f"follower {roles['follower']} (pid {nodes[roles['follower']].pid})"
            )
            # The follower's lag is the figure; the writer's own is context, polled less often
            # so that the measurement itself loads Postgres less.
            for role, name in roles.items():
                interval = plan.lag_poll if role == "follower" else plan.lag_poll * 5
                watchers[role] = await LagWatcher(node_dsn(system_site, name), interval).start()
            sampler.start()
            loads = {"echo": echo_load, "system": Load(clients)}
            phases: dict[str, dict] = {"echo": {}, "system": {}}

            async def measure(who: str, name: str, run) -> None:
                other = OtherWork().start()
                phase = await run(loads[who])
                phase["machine"] = other.stop()
                done = phase["commands_in_phase"]
                if done:  # CPU per command: steadier than throughput on a shared machine
                    phase["cpu_ms_per_command"] = {
                        "bench_and_target": round(
                            1000 * phase["machine"]["bench_and_nodes_cpu_s"] / done, 3
                        ),
                        "broker_and_db": round(
                            1000 * phase["machine"]["broker_and_db_cpu_s"] / done, 3
                        ),
                    }
                if who == "system":
                    w0, w1 = phase["t0"] + WALL, phase["t1"] + WALL
                    phase["lag_ms"] = {
                        role: summary_ms(w.between(w0, w1)) for role, w in watchers.items()
                    }
                    phase["events_per_s"] = {
                        role: _round(sampler.rate(roles[role], phase["t0"], phase["t1"]))
                        for role in roles
                    }
                phases[who][name] = phase
                line = (
                    f"  {who:6} {name:12} {phase['completed_per_s']:7.1f} cmd/s  "
                    f"p50 {phase['latency_ms']['p50']} ms  p99 {phase['latency_ms']['p99']} ms"
                )
                if who == "system":
                    line += (
                        f"; follower {phase['events_per_s']['follower']} ev/s, "
                        f"lag p99 {phase['lag_ms']['follower']['p99']} ms"
                    )
                say(line + _busy(phase))

            for r in range(1, plan.saturation_rounds + 1):
                for who in ("echo", "system"):
                    await measure(
                        who,
                        f"saturation_{r}",
                        lambda load: load.saturate(plan.in_flight, plan.warmup, plan.saturation),
                    )
            for who in (
                "echo",
                "system",
            ):  # the best round is the capacity; every round stays in the JSON
                rounds = [
                    phases[who][f"saturation_{r}"] for r in range(1, plan.saturation_rounds + 1)
                ]
                phases[who]["saturation"] = max(rounds, key=lambda p: p["completed_per_s"])
            for rate in plan.rates:
                for who in ("echo", "system"):
                    await measure(
                        who,
                        f"rate_{rate}",
                        lambda load, rate=rate: load.open_loop(rate, plan.warmup, plan.rate_window),
                    )
            lag_trace = _binned(watchers["follower"].samples)
            final = {name: await node.health() for name, node in nodes.items()}
        return {
            "echo": {"site": echo_site, "pid": echo.pid, "phases": phases["echo"]},
            "system": {
                "site": system_site,
                "roles": roles,
                "pids": {n: p.pid for n, p in nodes.items()},
                "phases": phases["system"],
                "follower_lag_trace": lag_trace,
                "final_health": final,
            },
        }
    finally:
        await sampler.stop()
        for w in watchers.values():
            await w.stop()
        for node in nodes.values():
            node.stop()
            await node.close_session()
        if echo is not None:
            echo.stop()
        await remove_site(echo_site, [])
        await remove_site(system_site, list(NODES))


def _binned(
    samples: list[tuple[float, float]], width: float = 0.1
) -> list[tuple[float, float, float]]:
    """The follower's lag over time, for the plot: (start, median ms, max ms) per 100 ms bin."""
    bins: dict[int, list[float]] = {}
    for seen, lag in samples:
        bins.setdefault(int((seen - WALL) / width), []).append(lag * 1000)
    return [
        (round(k * width, 1), round(sorted(v)[len(v) // 2], 2), round(max(v), 2))
        for k, v in sorted(bins.items())
    ]


def _busy(phase: dict) -> str:
    other = phase["machine"]["other_cpu_pct"]
    return f" [yellow](other work on the machine: {other}% of the cores)[/]" if other >= 5 else ""


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 1)
