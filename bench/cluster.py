"""Scenario 8: the acquire load on the 3-node broker cluster (issue 10, item 8).

Two pairs side by side, each on its own site: one on the single default broker
(``LICENSING_AMQP_URL``, as the other scenarios) and one on the loopback cluster of
scripts/ensure-cluster.sh, started here if it does not run (nodes ``c1..c3`` on 5681-5683;
``LICENSING_CLUSTER_PREFIX`` and ``LICENSING_CLUSTER_PORT`` pick another one, e.g. ``y`` and
5700 for an experiment beside a test run). On the cluster the primary lists node 1 first and
the backup node 2, the clients nodes 1, 2, 3 in turn, as a plant lists each host's own node
first (docs/deployment.md). Both pairs get the same acquire+release sessions
(bench/load.py); the phases alternate, single node first, so both see the same machine:
saturation rounds, the best counts.

Then, ``plan.cluster_kills`` times: a background load on the cluster pair (every client, two
sessions each), ``kill -9`` of the broker node the writer is connected to, and at once a probe
acquire from a client whose list begins at a survivor. The figure is the time from the kill to
the first acquire served (the probe, or a background acquire started after the kill). The
killed node is started again and must rejoin before the next run; the cluster is left whole
(all three running and joined) when the scenario ends, even on an error. Target: under 5 s
(issue 10), the bound tests/e2e/test_cluster_faults.py asserts.

Without root or rabbitmq-server the scenario says why and records ``skipped``.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import AsyncExitStack
from pathlib import Path

from bench.config import AMQP_URL, PG_DSN, Plan
from bench.load import FEATURE, VERSION, Load, Samples, alternate_saturation
from bench.processes import NodeProcess
from bench.stats import median
from events.commands import Acquire, Release
from services.adapters import teardown
from services.client import LicenseClient
from services.config.settings import Settings
from tests.support import cluster

NODES = ("primary", "backup")
VARIANTS = ("single", "cluster")
KILL_TARGET = 5.0
# Resends only on a failure: no confirm within 3 s moves the client to the next broker node.
ATTEMPT_TIMEOUT, TIMEOUT = 3.0, 90.0


def _urls(variant: str, first: int) -> str:
    return cluster.url_list(first=first) if variant == "cluster" else AMQP_URL


def _client(site: str, variant: str, first: int) -> LicenseClient:
    settings = Settings(amqp_url=_urls(variant, first), pg_dsn=PG_DSN, site=site)
    return LicenseClient(settings, attempt_timeout=ATTEMPT_TIMEOUT, timeout=TIMEOUT)


async def _pair(
    stack: AsyncExitStack, site: str, variant: str, plan: Plan, log_dir: Path
) -> tuple[dict[str, NodeProcess], list[LicenseClient]]:
    nodes = {
        name: NodeProcess(site, name, log_dir, LICENSING_AMQP_URL=_urls(variant, first))
        for first, name in enumerate(NODES, start=1)
    }
    stack.callback(lambda: [node.stop() for node in nodes.values()])
    for node in nodes.values():
        stack.push_async_callback(node.close_session)
    for node in nodes.values():  # primary first: it gets the commands queue (single active)
        node.start()
        await node.wait_healthy()
    clients = [
        await stack.enter_async_context(_client(site, variant, 1 + i % 3))
        for i in range(plan.clients)
    ]
    reply = await clients[0].activate(
        "BENCH", [{"name": FEATURE, "version": VERSION, "seats": 1_000_000}]
    )
    if not reply.ok:
        raise RuntimeError(f"could not activate the {variant} bench license: {reply}")
    return nodes, clients


async def _writer(nodes: dict[str, NodeProcess], timeout: float = 60.0) -> tuple[str, int]:
    """The writer's name and the cluster node it is connected to, once both nodes are healthy."""
    deadline = time.monotonic() + timeout
    while True:
        healths = {name: await node.health() for name, node in nodes.items()}
        for name, h in healths.items():
            broker = cluster.node_at(h.get("broker")) if h else None
            healthy = all(x and x.get("healthy") for x in healths.values())
            if h and h.get("writer") and broker is not None and healthy:
                return name, broker
        if time.monotonic() > deadline:
            raise TimeoutError(f"no healthy writer on the cluster: {healths}")
        await asyncio.sleep(0.1)


async def _kill_run(nodes: dict[str, NodeProcess], clients: list[LicenseClient], site: str) -> dict:
    writer, victim = await _writer(nodes)
    epoch_before = (await nodes[writer].health() or {}).get("epoch")
    survivor = next(n for n in cluster.NODES if n != victim)
    load, out, stop = Load(clients), Samples(), asyncio.Event()

    async def worker(client: LicenseClient) -> None:
        while not stop.is_set():
            await load.session(client, time.perf_counter(), out)
            await asyncio.sleep(0.005)

    workers = [asyncio.create_task(worker(c)) for c in clients for _ in range(2)]
    # Connected (on entering) before the kill: the probe measures the pair, not a connect.
    async with _client(site, "cluster", survivor) as probe:
        try:
            await asyncio.sleep(1.0)  # the writer busy when its broker node dies
            t_kill = time.perf_counter()
            pid = await cluster.kill_node(victim)
            t_dead = time.perf_counter()
            reply = await probe.send(
                Acquire(feature=FEATURE, version=VERSION, device="probe", user="bench")
            )
            t_served = time.perf_counter()
            if not reply.ok:
                raise RuntimeError(f"the probe acquire after the kill was refused: {reply}")
            await probe.send(
                Release(
                    lease_id=reply.result["lease_id"],  # type: ignore[index]
                    lease_secret=reply.result["lease_secret"],  # type: ignore[index]
                )
            )
            await asyncio.sleep(0.5)
        finally:
            stop.set()
            await asyncio.gather(*workers)
    later = [done for due, done in out.acquire if due >= t_dead]
    t_start = time.perf_counter()
    await cluster.start_node(victim)
    rejoin = await cluster.wait_until_joined(victim)
    after = {name: await node.health() or {} for name, node in nodes.items()}
    return {
        "writer": writer,
        "killed_node": cluster.node_name(victim),
        "killed_pid": pid,
        "kill_to_probe_served_s": round(t_served - t_kill, 4),
        "kill_to_first_acquire_served_s": round(min([t_served, *later]) - t_kill, 4),
        "reap_s": round(t_dead - t_kill, 4),
        "epoch_before": epoch_before,
        "epoch_after": max(h.get("epoch") or 0 for h in after.values()),
        "writer_after": next((n for n, h in after.items() if h.get("writer")), None),
        "restart_and_rejoin_s": round(time.perf_counter() - t_start, 2),
        "rejoin_wait_s": round(rejoin, 2),
        "background_errors": len(out.errors),
        "first_background_errors": out.errors[:3],
        "background_refused": out.refused,
    }


async def on_cluster(plan: Plan, run_id: str, log_dir: Path, say) -> dict:
    reason = cluster.unavailable()
    if reason is not None:
        say(f"  [yellow]skipped: {reason}[/]")
        return {"skipped": reason}
    t = time.perf_counter()
    urls = await cluster.ensure_cluster()
    say(f"  cluster {cluster.node_name(1)}.. ready in {time.perf_counter() - t:.1f} s: {urls}")
    sites = {"single": f"{run_id}n", "cluster": f"{run_id}c"}
    phases: dict[str, dict] = {variant: {} for variant in VARIANTS}
    runs: list[dict] = []
    try:
        async with AsyncExitStack() as stack:
            pairs = {v: await _pair(stack, sites[v], v, plan, log_dir) for v in VARIANTS}
            loads = {v: Load(clients) for v, (_, clients) in pairs.items()}
            phases = await alternate_saturation(
                loads,
                plan.saturation_rounds,
                plan.in_flight,
                plan.warmup,
                plan.saturation,
                say,
            )
            nodes, clients = pairs["cluster"]
            for i in range(plan.cluster_kills):
                run = await _kill_run(nodes, clients, sites["cluster"])
                runs.append(run)
                say(
                    f"  kill {i + 1}: {run['killed_node']} (the writer {run['writer']}'s); "
                    f"an acquire served {run['kill_to_first_acquire_served_s'] * 1000:.0f} ms "
                    f"after the kill (epoch {run['epoch_before']} -> {run['epoch_after']}, "
                    f"writer {run['writer_after']}); rejoined {run['restart_and_rejoin_s']} s "
                    "after its restart began"
                )
    finally:
        await cluster.restore()  # whole again, and able to delete the site's queues
        for variant, site in sites.items():
            await teardown.remove_site(_urls(variant, 1), PG_DSN, site, list(NODES))
    single, clustered = (phases[v]["saturation"]["completed_per_s"] for v in VARIANTS)
    ratio = round(clustered / single, 3) if single else None
    times = [r["kill_to_first_acquire_served_s"] for r in runs]
    say(
        f"  cluster / single node throughput at saturation: {ratio} "
        f"({clustered:.1f} / {single:.1f} cmd/s)"
    )
    return {
        "sites": sites,
        "cluster_nodes": [cluster.node_name(n) for n in cluster.NODES],
        "phases": phases,
        "ratio": ratio,
        "runs": runs,
        "min_s": min(times, default=None),
        "median_s": median(times),
        "max_s": max(times, default=None),
        "target_s": KILL_TARGET,
        "ok": bool(times) and max(times) < KILL_TARGET,
    }


def rows(results: dict) -> list[dict]:
    """Scenario 8's lines of the final table (bench/report.py)."""
    cl = results.get("cluster") or {}
    if not cl or cl.get("skipped"):
        return []
    phases = cl.get("phases") or {}
    runs = cl.get("runs") or []
    return [
        {
            "scenario": "8 cluster",
            "figure": "throughput at saturation, 3-node cluster vs single node, commands/s",
            "system": (phases.get("cluster") or {}).get("saturation", {}).get("completed_per_s"),
            "floor": (phases.get("single") or {}).get("saturation", {}).get("completed_per_s"),
            "ratio": cl.get("ratio"),
            "target": "—",
            "met": None,
        },
        {
            "scenario": "8 cluster",
            "figure": f"kill -9 writer's broker node → acquire served, min/med/max s "
            f"({len(runs)} runs)",
            "system": " / ".join(
                "—" if cl.get(k) is None else f"{cl[k]:.3f}" for k in ("min_s", "median_s", "max_s")
            ),
            "floor": None,
            "ratio": None,
            "target": f"< {KILL_TARGET:g} s (every run)",
            "met": cl.get("ok") if runs else None,
        },
    ]
