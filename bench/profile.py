"""``python -m bench.profile``: where the acquire path spends its CPU, with py-spy.

Starts a primary and a backup (as the bench does), drives them at saturation with
the bench's load, and samples the writer, the follower and this driver process
with ``py-spy record`` (install it with ``pip install py-spy``). Prints, per
process, the CPU seconds it used per 1,000 commands and the functions that
dominate (own time and inclusive time), and leaves the raw collapsed stacks in
bench/results/profile-*.txt for a flame graph tool.

``--no-spy`` measures only the CPU per 1,000 commands, without py-spy (which stops each
process 200 times a second to sample it): on a shared machine, where throughput and latency
move with everyone else's work, CPU per command is the steadier A/B figure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import AsyncExitStack
from pathlib import Path

from bench.config import RESULTS, Plan
from bench.load import FEATURE, VERSION, Load
from bench.processes import NodeProcess
from bench.sites import new_run_id, remove_site, settings_for
from services.client import LicenseClient


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summarize(raw: Path, top: int) -> list[str]:
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = [
            f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0].split("/")[-1] + ")"
            if " (" in f
            else f
            for f in stack.split(";")
        ]
        if "process " in frames[0]:
            frames = frames[1:]
        own[frames[-1]] += n
        for frame in set(frames):
            incl[frame] += n
    out = [f"    samples: {total}", "    own time:"]
    out += [f"      {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    out += ["    inclusive:"]
    out += [f"      {100 * n / total:5.1f}%  {name}" for name, n in incl.most_common(top * 2)]
    return out


def _record(pyspy: str, pid: int, seconds: float, out: Path) -> subprocess.Popen:
    """``py-spy record`` of one process into ``out`` (raw collapsed stacks).

    ``--nonblocking`` for our own pid: py-spy cannot stop the process that waits on it; it only
    reads its memory then.
    """
    argv = [pyspy, "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "200", "-f", "raw"]
    argv += ["-o", str(out), *(["--nonblocking"] if pid == os.getpid() else [])]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def main(seconds: float, top: int, spy: bool = True) -> None:
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if spy and not Path(pyspy).exists():
        raise SystemExit("py-spy is missing: pip install py-spy")
    site = new_run_id() + "p"
    log_dir = Path(tempfile.mkdtemp(prefix="licensing-profile-"))
    nodes = {n: NodeProcess(site, n, log_dir) for n in ("primary", "backup")}
    plan = Plan()
    try:
        for node in nodes.values():
            node.start()
            await node.wait_healthy()
        async with AsyncExitStack() as stack:
            clients = [
                await stack.enter_async_context(LicenseClient(settings_for(site), timeout=60.0))
                for _ in range(plan.clients)
            ]
            await clients[0].activate(
                "BENCH", [{"name": FEATURE, "version": VERSION, "seats": 1_000_000}]
            )
            roles = {}
            for node in nodes.values():
                roles["writer" if (await node.wait_healthy())["writer"] else "follower"] = node.pid
            roles["driver"] = os.getpid()
            load = Load(clients)
            loading = asyncio.create_task(load.saturate(plan.in_flight, 2.0, seconds + 2.0))
            await asyncio.sleep(2.0)
            before = {role: cpu_seconds(pid) for role, pid in roles.items()}
            t0 = time.perf_counter()
            spies = {}
            if spy:
                spies = {
                    role: _record(pyspy, pid, seconds, RESULTS / f"profile-{role}.txt")
                    for role, pid in roles.items()
                }
            await asyncio.sleep(seconds)
            after = {role: cpu_seconds(pid) for role, pid in roles.items()}
            elapsed = time.perf_counter() - t0
            result = await loading
            for process in spies.values():
                await asyncio.to_thread(process.wait)
        commands = result["completed_per_s"] * elapsed
        print(
            f"saturation: {result['completed_per_s']} commands/s, p50 "
            f"{result['latency_ms']['p50']} ms, p99 {result['latency_ms']['p99']} ms"
        )
        for role in ("writer", "follower", "driver"):
            used = after[role] - before[role]
            print(
                f"  {role} (pid {roles[role]}): {100 * used / elapsed:.0f}% of a core, "
                f"{1000 * used / commands * 1000:.0f} ms CPU per 1,000 commands"
            )
            raw = RESULTS / f"profile-{role}.txt"
            if spy and raw.exists():
                print("\n".join(summarize(raw, top)))
    finally:
        for node in nodes.values():
            node.stop()
            await node.close_session()
        await remove_site(site, list(nodes))
        shutil.rmtree(log_dir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument(
        "--no-spy", action="store_true", help="only the CPU per 1,000 commands, without py-spy"
    )
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.top, spy=not args.no_spy))
