"""Scenario 3: how fast a fresh node rebuilds itself from a long stream, against a bare consumer.

The log is made by tests/support/fake_log.py: ``license_events`` runs the real pure
domain (decide + evolve) to produce a promotion, a license activation, then acquires
(some denied) and releases; ``publish_events`` appends them to the site's stream,
``events_per_message`` events per stream message (a writer's group commit does the
same: one stream message holds the events of every command decided while the last
publish awaited its confirm).

Both readers are started as new OS processes and timed from spawn, so both pay the
interpreter start:
- floor: bench/stream_floor.py, subscribes from ``first`` with prefetch 1000, acks in
  batches with ``multiple=True``, does nothing else, exits after the last message;
- node: ``licensing server`` with an empty database; done when its /api/health
  reports ``events_applied`` >= the events of the log (polled every 50 ms).
"""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
import time
from pathlib import Path

import orjson

from bench.config import Plan
from bench.processes import NodeProcess, Process
from bench.sites import remove_site
from services.adapters.topology import Topology
from tests.support.fake_log import license_events, publish_events


async def replay(plan: Plan, site: str, log_dir: Path, say) -> dict:
    t = time.perf_counter()
    events, _state = await asyncio.to_thread(license_events, plan.replay_events, seed=11)
    generated_s = time.perf_counter() - t
    t = time.perf_counter()
    await publish_events(site, events, per_message=plan.events_per_message)
    published_s = time.perf_counter() - t
    total = len(events)
    messages = math.ceil(total / plan.events_per_message)
    say(
        f"  replay: {total} events in {messages} stream messages "
        f"(generated in {generated_s:.1f} s, published in {published_s:.1f} s)"
    )
    node: NodeProcess | None = None
    try:
        floor = await _floor(site, messages, log_dir)
        floor["events_per_s"] = round(total / floor["spawn_to_last_s"], 1)
        say(
            f"  replay floor (bare consumer): {floor['spawn_to_last_s']:.2f} s from spawn, "
            f"{floor['events_per_s']:.0f} events/s"
        )
        # The same stream over streams' own protocol (rstream), to decide the node's reader.
        try:
            stream_protocol = await _floor(site, messages, log_dir, "bench.stream_floor_rstream")
            stream_protocol["events_per_s"] = round(total / stream_protocol["spawn_to_last_s"], 1)
            say(
                f"  replay floor over the stream protocol (rstream): "
                f"{stream_protocol['spawn_to_last_s']:.2f} s from spawn, "
                f"{stream_protocol['events_per_s']:.0f} events/s"
            )
        except Exception as exc:  # no stream plugin (port 5552) on this broker
            stream_protocol = {"error": str(exc)[-500:]}
            say(f"  replay floor over the stream protocol: skipped ({str(exc)[-200:]})")
        node = NodeProcess(site, "fresh", log_dir)
        result = await _rebuild(node, total)
        say(
            f"  replay node: {result['spawn_to_caught_up_s']:.2f} s from spawn, "
            f"{result['events_per_s']:.0f} events/s"
        )
        return {
            "site": site,
            "events": total,
            "events_per_message": plan.events_per_message,
            "messages": messages,
            "generate_s": round(generated_s, 2),
            "publish_s": round(published_s, 2),
            "floor": floor,
            "floor_rstream": stream_protocol,
            "node": result,
            "ratio": round(result["events_per_s"] / floor["events_per_s"], 3),
        }
    finally:
        if node is not None:
            node.stop()
            await node.close_session()
        await remove_site(site, ["fresh"])


async def _floor(
    site: str, messages: int, log_dir: Path, module: str = "bench.stream_floor"
) -> dict:
    proc = Process(
        f"{site}-{module.rsplit('.', 1)[-1]}",
        [
            sys.executable,
            "-m",
            module,
            "--stream",
            Topology(site).events,
            "--messages",
            str(messages),
        ],
        log_dir,
    )
    proc.start(stdout=subprocess.PIPE)
    try:
        out, _ = await asyncio.to_thread(proc.proc.communicate, timeout=300)  # type: ignore[union-attr]
        spawn_to_exit = time.perf_counter() - proc.started_at
        if proc.proc.returncode != 0:  # type: ignore[union-attr]
            raise RuntimeError(f"stream floor failed:\n{proc.log_tail()}")
    finally:
        proc.stop()
    inner = orjson.loads(out.strip().splitlines()[-1])
    # The reader stamps the wall clock at its last message; same host and clock as the spawn stamp.
    return {
        "pid": proc.pid,
        "spawn_to_exit_s": round(spawn_to_exit, 3),
        "spawn_to_last_s": round(inner.pop("last_wall") - proc.started_wall, 3),
        **inner,
    }


async def _rebuild(node: NodeProcess, total: int) -> dict:
    node.start()
    trace: list[tuple[float, int]] = []
    first_health = None
    deadline = time.perf_counter() + 400
    while True:
        if not node.running:
            raise RuntimeError(f"the replaying node exited:\n{node.log_tail()}")
        h = await node.health()
        now = time.perf_counter() - node.started_at
        if h is not None:
            if first_health is None:
                first_health = now
            trace.append((round(now, 3), int(h["events_applied"])))
            if h.get("projector_halted"):
                raise RuntimeError(f"projector halted during replay: {h['projector_halted']}")
            if int(h["events_applied"]) >= total:
                break
        if time.perf_counter() > deadline:
            raise TimeoutError(f"replay not done after 400 s:\n{node.log_tail()}")
        await asyncio.sleep(0.05)
    spawn_to_caught_up = trace[-1][0]
    return {
        "pid": node.pid,
        "spawn_to_caught_up_s": round(spawn_to_caught_up, 3),
        "spawn_to_first_health_s": round(first_health or 0.0, 3),
        "events_per_s": round(total / spawn_to_caught_up, 1),
        "events_per_s_after_first_health": round(
            total / max(spawn_to_caught_up - (first_health or 0), 1e-9), 1
        ),
        "trace": trace,
    }
