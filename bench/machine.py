"""What the bench ran on, and how busy the machine was before each scenario."""

from __future__ import annotations

import asyncio
import os
import platform
import time

import aio_pika
import asyncpg

from bench.config import AMQP_URL, PG_DSN


def _cpu_times() -> tuple[int, int, int]:
    """(busy, total, stolen) ticks of all cores so far. Stolen: the hypervisor ran another
    guest while this VM had work (a busy host), counted as busy, as the cores were not ours."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    stolen = fields[7] if len(fields) > 7 else 0
    return sum(fields) - idle, sum(fields), stolen


def cpu_busy(seconds: float = 1.0) -> float:
    """Share of all cores busy over ``seconds`` (0-100)."""
    b0, t0, _ = _cpu_times()
    time.sleep(seconds)
    b1, t1, _ = _cpu_times()
    return round(100 * (b1 - b0) / max(t1 - t0, 1), 1)


async def wait_quiet(limit: float, threshold: float, say) -> dict:
    """Wait (at most ``limit`` s) until other work on the machine leaves the cores mostly idle."""
    start = time.monotonic()
    busy = await asyncio.to_thread(cpu_busy, 1.0)
    while busy > threshold and time.monotonic() - start < limit:
        busy = await asyncio.to_thread(cpu_busy, 1.0)
    waited = round(time.monotonic() - start, 1)
    if busy > threshold:
        say(
            f"  [yellow]warning: the machine is {busy}% busy with other work; "
            "figures will be lower[/]"
        )
    return {"cpu_busy_before_pct": busy, "waited_s": waited, "loadavg": os.getloadavg()}


async def describe() -> dict:
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    rabbit = postgres = "unknown"
    try:
        conn = await aio_pika.connect(AMQP_URL)
        props = conn.transport.connection.server_properties  # type: ignore[union-attr]
        rabbit = props.get("version", "unknown")
        rabbit = rabbit.decode() if isinstance(rabbit, bytes) else rabbit
        await conn.close()
    except Exception:
        pass
    try:
        pg = await asyncpg.connect(PG_DSN)
        postgres = await pg.fetchval("SHOW server_version")
        await pg.close()
    except Exception:
        pass
    cores = os.cpu_count()
    return {
        "cores": cores,
        "cpu": cpu,
        "memory_gb": mem_gb,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "rabbitmq": rabbit,
        "postgres": postgres,
        "summary": f"{cores} cores ({cpu}), {mem_gb} GB, RabbitMQ {rabbit}, PostgreSQL {postgres}, "
        f"Python {platform.python_version()}",
    }


def _proc_cpu() -> dict[int, tuple[str, float]]:
    """pid -> (command name, CPU seconds so far) of every process we may read."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                raw = f.read()
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw.rsplit(")", 1)[1].split()
        out[int(entry)] = (name, (int(fields[11]) + int(fields[12])) / tick)
    return out


def _ours(pids: dict[int, tuple[str, float]]) -> set[int]:
    """This process and everything it started (by parent pid)."""
    parents = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                parents[pid] = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            pass
    ours, frontier = {os.getpid()}, [os.getpid()]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in ours:
                ours.add(pid)
                frontier.append(pid)
    return ours


class OtherWork:
    """CPU used during a window by processes that are neither ours nor the shared broker/database.

    The broker and Postgres serve every client on the machine, so their CPU cannot be
    split; everything else that is not this process or its children is someone else's
    work competing for the same cores (e.g. another test suite)."""

    SHARED = ("beam.smp", "postgres", "epmd", "erl_child_setup", "inet_gethost")

    def start(self) -> OtherWork:
        self.t0, self.before, self.stat0 = time.monotonic(), _proc_cpu(), _cpu_times()
        return self

    def stop(self) -> dict:
        after, elapsed, stat1 = _proc_cpu(), time.monotonic() - self.t0, _cpu_times()
        ours = _ours(after) | _ours(self.before)
        other = shared = mine = 0.0
        for pid, (name, cpu) in after.items():
            used = cpu - self.before.get(pid, (name, 0.0))[1]
            if used <= 0:
                continue
            if pid in ours:
                mine += used
            elif name in self.SHARED:
                shared += used
            else:
                other += used
        cores = os.cpu_count() or 1
        ticks = max(stat1[1] - self.stat0[1], 1)
        busy = 100 * (stat1[0] - self.stat0[0]) / ticks
        return {
            "seconds": round(elapsed, 3),
            "bench_and_nodes_cpu_s": round(mine, 3),
            "broker_and_db_cpu_s": round(shared, 3),
            "other_cpu_pct": round(100 * other / (elapsed * cores), 1),
            "bench_and_nodes_cpu_pct": round(100 * mine / (elapsed * cores), 1),
            "broker_and_db_cpu_pct": round(100 * shared / (elapsed * cores), 1),
            "machine_busy_pct": round(busy, 1),
            # Of all the cores' time, how much the host gave to other guests (a VM's noise
            # that no process here shows: the same code then runs slower).
            "stolen_cpu_pct": round(100 * (stat1[2] - self.stat0[2]) / ticks, 1),
        }
