"""Scenario 4: kill -9 the writer's process; how long until the backup serves an acquire.

Each run: both nodes healthy and in sync, a writer known from /api/health, a light
background load (4 clients, 2 sessions each, closed loop) so the writer is busy
when it dies. Then ``SIGKILL`` by pid (and reap it), and at once a probe ``Acquire``
from a client. The figure is the time from just before the kill to the probe's
granted reply. Nothing sent after the writer died can have been answered by it, so
the reply is the backup's; the bench also checks that the backup now reports itself
as the writer at a higher epoch. The killed node is then restarted (same name, same
database) and the next run kills whichever node is the writer then.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import AsyncExitStack
from pathlib import Path

from bench.config import Plan
from bench.load import FEATURE, VERSION, Load, Samples
from bench.processes import NodeProcess
from bench.sites import remove_site, settings_for
from bench.stats import median
from events.commands import Acquire, Release
from services.client import LicenseClient

NODES = ("primary", "backup")


async def _writer(nodes: dict[str, NodeProcess], client: LicenseClient, timeout: float = 60) -> str:
    """The node that is the writer, once both are healthy and hold the same log."""
    deadline = time.monotonic() + timeout
    while True:
        healths = {name: await node.health() for name, node in nodes.items()}
        writers = [n for n, h in healths.items() if h and h.get("healthy") and h.get("writer")]
        synced = (
            all(h and h.get("healthy") for h in healths.values())
            and len({(h["events_applied"], h["digest"]) for h in healths.values() if h}) == 1
        )
        if len(writers) == 1 and synced:
            return writers[0]
        if not writers:  # a writer promotes itself on its first command
            reply = await client.send(
                Acquire(feature=FEATURE, version=VERSION, device="wake", user="bench")
            )
            if reply.ok:
                await client.send(
                    Release(
                        lease_id=reply.result["lease_id"], lease_secret=reply.result["lease_secret"]
                    )
                )  # type: ignore[index]
        if time.monotonic() > deadline:
            raise TimeoutError(f"no single writer with both nodes in sync: {healths}")
        await asyncio.sleep(0.1)


async def failover(plan: Plan, site: str, log_dir: Path, say) -> dict:
    nodes = {name: NodeProcess(site, name, log_dir) for name in NODES}
    spawned: list[NodeProcess] = []
    runs = []
    try:
        for name in NODES:
            spawned.append(nodes[name].start())
            await nodes[name].wait_healthy()
        async with AsyncExitStack() as stack:
            clients = []
            for _ in range(5):
                client = LicenseClient(settings_for(site), attempt_timeout=5.0, timeout=60.0)
                clients.append(await stack.enter_async_context(client))
            probe_client, background = clients[0], clients[1:]
            reply = await probe_client.activate(
                "BENCH", [{"name": FEATURE, "version": VERSION, "seats": 100_000}]
            )
            if not reply.ok:
                raise RuntimeError(f"could not activate the bench license: {reply}")
            for i in range(plan.failover_runs):
                victim = await _writer(nodes, probe_client)
                survivor = next(n for n in NODES if n != victim)
                epoch_before = (await nodes[victim].health() or {}).get("epoch")
                load, out, stop = Load(background), Samples(), asyncio.Event()

                async def worker(
                    client: LicenseClient, load: Load, out: Samples, stop: asyncio.Event
                ) -> None:
                    while not stop.is_set():
                        await load.session(client, time.perf_counter(), out)
                        await asyncio.sleep(0.005)

                workers = [
                    asyncio.create_task(worker(c, load, out, stop))
                    for c in background
                    for _ in range(2)
                ]
                await asyncio.sleep(1.0)
                pid = nodes[victim].pid
                t_kill = time.perf_counter()
                nodes[victim].kill()
                t_dead = time.perf_counter()
                reply = await probe_client.send(
                    Acquire(feature=FEATURE, version=VERSION, device="probe", user="bench")
                )
                t_served = time.perf_counter()
                if not reply.ok:
                    raise RuntimeError(f"the probe acquire after the kill was refused: {reply}")
                await asyncio.sleep(0.5)
                stop.set()
                await asyncio.gather(*workers)
                await probe_client.send(
                    Release(
                        lease_id=reply.result["lease_id"], lease_secret=reply.result["lease_secret"]
                    )
                )  # type: ignore[index]
                after = await nodes[survivor].health() or {}
                later = [done for due, done in out.acquire if due >= t_dead]
                run = {
                    "killed": victim,
                    "killed_pid": pid,
                    "survivor": survivor,
                    "kill_to_probe_served_s": round(t_served - t_kill, 4),
                    "kill_to_first_acquire_served_s": round(min([t_served, *later]) - t_kill, 4),
                    "reap_s": round(t_dead - t_kill, 4),
                    "epoch_before": epoch_before,
                    "epoch_after": after.get("epoch"),
                    "survivor_is_writer": bool(after.get("writer")),
                    "background_errors": len(out.errors),
                    "background_refused": out.refused,
                }
                runs.append(run)
                say(
                    f"  failover {i + 1}: killed {victim} (pid {pid}); "
                    f"{survivor} served an acquire after "
                    f"{run['kill_to_first_acquire_served_s'] * 1000:.0f} ms "
                    f"(epoch {epoch_before} -> {run['epoch_after']})"
                )
                if not run["survivor_is_writer"]:
                    raise RuntimeError(
                        f"{survivor} does not report itself as the writer after the failover"
                    )
                await nodes[victim].close_session()
                nodes[victim] = NodeProcess(site, victim, log_dir)
                spawned.append(nodes[victim].start())
                await nodes[victim].wait_healthy()
        times = [r["kill_to_first_acquire_served_s"] for r in runs]
        return {
            "site": site,
            "runs": runs,
            "min_s": min(times),
            "median_s": median(times),
            "max_s": max(times),
        }
    finally:
        for node in spawned:
            node.stop()
        for node in nodes.values():
            await node.close_session()
        await remove_site(site, list(NODES))
