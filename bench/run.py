"""The orchestrator: one unique run id, one throwaway site per scenario, everything cleaned up."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import tempfile
import time
import traceback
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from bench import acquire, cluster, failover, history, machine, memory, replay, report, signing
from bench.config import RESULTS, Plan
from bench.sites import new_run_id

SCENARIOS = ("acquire", "replay", "failover", "memory", "signing", "history", "cluster")
console = Console(width=max(150, Console().width))


def say(text: str) -> None:
    console.print(text, highlight=False)


# Stolen time (the hypervisor serving other guests) from which a scenario's figures are flagged.
STOLEN_WARNING_PCT = 5.0


async def run(plan: Plan, only: tuple[str, ...], quiet_wait: float, log_dir: Path) -> dict:
    run_id = new_run_id()
    started = time.perf_counter()
    results: dict = {
        "run_id": run_id,
        "started_at": datetime.now(UTC).isoformat(),
        "plan": plan.__dict__,
        "machine": await machine.describe(),
        "conditions": {},
        "errors": {},
        # set only for experiments (see README): nodes started through another entry point
        "node_entry": os.environ.get("BENCH_NODE_ENTRY"),
    }
    say(f"[bold]bench {run_id}[/] on {results['machine']['summary']}")

    async def scenario(name: str, label: str, coro_factory) -> None:
        say(f"[bold]{label}[/]")
        results["conditions"][name] = await machine.wait_quiet(quiet_wait, 30.0, say)
        t = time.perf_counter()
        other = machine.OtherWork().start()
        try:
            results[name] = await coro_factory()
        except Exception as exc:  # one broken scenario must not hide the others' figures
            results["errors"][name] = f"{type(exc).__name__}: {exc}"
            say(f"  [red]{name} failed: {type(exc).__name__}: {exc}[/]")
            traceback.print_exc()
        results["conditions"][name]["seconds"] = round(time.perf_counter() - t, 1)
        during = results["conditions"][name]["during"] = other.stop()
        if during["stolen_cpu_pct"] >= STOLEN_WARNING_PCT:
            say(
                f"  [yellow]warning: the host took {during['stolen_cpu_pct']}% of the cores' "
                f"time from this VM (steal) during {name}; its figures are lower for it[/]"
            )

    if "acquire" in only:
        await scenario(
            "acquire",
            "1+2. acquire path (system vs bare echo floor) and projection under load",
            lambda: acquire.acquire_path(plan, run_id, log_dir, say),
        )
    if "replay" in only:
        await scenario(
            "replay",
            f"3. replay of {plan.replay_events:,} events",
            lambda: replay.replay(plan, f"{run_id}r", log_dir, say),
        )
    if "failover" in only:
        await scenario(
            "failover",
            f"4. failover, {plan.failover_runs} runs",
            lambda: failover.failover(plan, f"{run_id}f", log_dir, say),
        )
    if "memory" in only:

        async def answer_memory() -> dict:
            figure = await asyncio.to_thread(memory.answer_memory)
            say(f"  {figure['bytes_per_command_id']:,} bytes per remembered command id")
            return figure

        await scenario("memory", "5. the writer's answer memory (pure domain)", answer_memory)
    if "signing" in only:
        await scenario(
            "signing",
            "6. the cost of signing: an open pair against a signed one, side by side",
            lambda: signing.signing_cost(plan, run_id, log_dir, say),
        )
    if "history" in only:
        await scenario(
            "history",
            f"7. a history of {plan.history_events:,} events: restart and Sync",
            lambda: history.history(plan, f"{run_id}h", log_dir, say),
        )
    if "cluster" in only:
        await scenario(
            "cluster",
            "8. the 3-node broker cluster: throughput beside the single node, kill -9 under load",
            lambda: cluster.on_cluster(plan, f"{run_id}k", log_dir, say),
        )
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["summary"] = report.verdicts(results)
    return results


def cli() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="a short smoke run (about a minute), small log"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=SCENARIOS,
        default=list(SCENARIOS),
        help="run only these scenarios",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=20.0,
        help="before each scenario wait up to this many seconds for other work on the "
        "machine to settle (default 20)",
    )
    parser.add_argument(
        "--history-events",
        type=int,
        default=None,
        help="the history scenario's log size (default 1,000,000; 100,000 with --quick)",
    )
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help="where latest.json and latest.png go"
    )
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the node logs even after a clean run"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for noisy in ("aio_pika", "aiormq", "services.client"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    plan = Plan.quick() if args.quick else Plan()
    if args.history_events is not None:
        plan = replace(plan, history_events=args.history_events)
    log_dir = Path(tempfile.mkdtemp(prefix="licensing-bench-"))
    results = asyncio.run(run(plan, tuple(args.only), args.quiet_wait, log_dir))
    args.out.mkdir(parents=True, exist_ok=True)
    report.write_json(results, args.out / "latest.json")
    report.plot(results, args.out / "latest.png")
    console.print(report.table(results))
    say(
        f"{results['seconds']} s; results in {args.out / 'latest.json'} and "
        f"{args.out / 'latest.png'}"
    )
    if results["errors"] or args.keep_logs:
        say(f"node and helper logs kept in {log_dir}")
    else:
        shutil.rmtree(log_dir, ignore_errors=True)
    if results["errors"]:
        raise SystemExit(1)
