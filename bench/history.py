"""Scenario 7: a long history (invariant 13). What a node's start costs when the log is long.

The log is made with the real pure domain (tests/support/fake_log.py ``license_events``),
events two seconds apart in log time (a month per 1.3 million events, so the answer memory
holds its 12 to 24 hours, as on a real site), ``history_events_per_message`` events per
stream message so a million are published in seconds. Then one node:
- first start: replays the whole stream (writing snapshots as it goes);
- restart (SIGTERM, same database): from spawn to its first health answer, and to caught
  up (Running, at the stream's end), from its newest snapshot plus the log's tail;
  RSS after loading;
- a full Sync (``SyncServer``: its read models emptied, the stream replayed): from the
  order to caught up at the same digest: the fast full replay (the fold, one validation
  call a message, the catch-up's staging overlapped with its writes) over a long history.
"""

from __future__ import annotations

import asyncio
import math
import time
from datetime import timedelta
from pathlib import Path

from bench.config import Plan
from bench.processes import NodeProcess
from bench.sites import remove_site, settings_for
from events.commands import SyncServer
from services.client import LicenseClient
from tests.support.fake_log import license_events, publish_events

SPACING = timedelta(seconds=2)


async def history(plan: Plan, site: str, log_dir: Path, say) -> dict:
    total = plan.history_events
    t = time.perf_counter()
    events, _state = await asyncio.to_thread(license_events, total, seed=13, spacing=SPACING)
    generated_s = time.perf_counter() - t
    t = time.perf_counter()
    await publish_events(site, events, per_message=plan.history_events_per_message)
    published_s = time.perf_counter() - t
    total = len(events)
    del events
    say(
        f"  history: {total:,} events in "
        f"{math.ceil(total / plan.history_events_per_message):,} stream messages "
        f"(generated in {generated_s:.1f} s, published in {published_s:.1f} s)"
    )
    node: NodeProcess | None = None
    try:
        node = NodeProcess(site, "history", log_dir)
        first = await _start(node, total)
        say(f"  first start (whole stream): {first['spawn_to_caught_up_s']:.1f} s")
        node.stop()
        await node.close_session()
        node = NodeProcess(site, "history", log_dir)
        restart = await _start(node, total)
        say(
            f"  restart: first health answer {restart['spawn_to_first_health_s']:.2f} s, "
            f"caught up {restart['spawn_to_caught_up_s']:.2f} s "
            f"(from the snapshot at offset {restart['loaded_from_offset']}), "
            f"RSS {restart['rss_mb']:.0f} MB"
        )
        sync = await _sync(node, site)
        say(f"  full Sync: {sync['seconds']:.1f} s")
        return {
            "site": site,
            "events": total,
            "events_per_message": plan.history_events_per_message,
            "generate_s": round(generated_s, 2),
            "publish_s": round(published_s, 2),
            "first_start": first,
            "restart": restart,
            "sync": sync,
        }
    finally:
        if node is not None:
            node.stop()
            await node.close_session()
        await remove_site(site, ["history"])


async def _start(node: NodeProcess, total: int) -> dict:
    """Spawn it; time its first health answer and its caught-up (Running, every event)."""
    node.start()
    first_health = None
    deadline = time.perf_counter() + 900
    while True:
        if not node.running:
            raise RuntimeError(f"the node exited:\n{node.log_tail()}")
        h = await node.health()
        now = time.perf_counter() - node.started_at
        if h is not None:
            first_health = first_health if first_health is not None else now
            if h.get("projector_halted"):
                raise RuntimeError(f"projector halted: {h['projector_halted']}")
            if h["status"] == "Running" and h["caught_up"] and h["events_applied"] >= total:
                break
        if time.perf_counter() > deadline:
            raise TimeoutError(f"not caught up after 900 s:\n{node.log_tail()}")
        await asyncio.sleep(0.02)
    return {
        "pid": node.pid,
        "spawn_to_first_health_s": round(first_health or 0.0, 3),
        "spawn_to_caught_up_s": round(now, 3),
        "loaded_from_offset": h.get("loaded_from_offset"),
        "events_applied": h["events_applied"],
        "digest": h["digest"],
        "rss_mb": round(_rss_bytes(node.pid) / 2**20, 1),
    }


async def _sync(node: NodeProcess, site: str) -> dict:
    await node.wait_healthy()
    while not any(s["node"] == "history" for s in (await node.get("/api/servers"))["servers"]):
        await asyncio.sleep(0.1)  # registered: the log knows it, so a Sync may name it
    before = await node.health()
    assert before is not None
    async with LicenseClient(settings_for(site), actor="admin") as admin:
        started = time.perf_counter()
        reply = await admin.send(SyncServer(node="history"))
        if not reply.ok:
            raise RuntimeError(f"SyncServer refused: {reply}")
    deadline = started + 900
    while True:
        h = await node.health()
        if h and h.get("last_rebuild") and h["caught_up"] and h["status"] == "Running":
            if h["offset"] >= before["offset"] and h["events_applied"] >= before["events_applied"]:
                break
        if time.perf_counter() > deadline:
            raise TimeoutError(f"Sync not done after 900 s:\n{node.log_tail()}")
        await asyncio.sleep(0.05)
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "events_applied": h["events_applied"],
        "rss_mb": round(_rss_bytes(node.pid) / 2**20, 1),
    }


def _rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0
