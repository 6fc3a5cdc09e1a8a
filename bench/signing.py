"""Scenario 6: what signing costs the acquire path, an open pair against a signed one.

Two pairs side by side, each on its own site: one without keys (open: nothing signed,
nothing verified) and one with node keys and an admin key (signed: the writer signs every
stream message, every projector verifies it, each grant derives its lease secret with an
HMAC). Products send the same unsigned acquire+release sessions to both (a product holds no
key). The phases alternate, open first, so both see the same machine: saturation rounds
(the best counts), then the latency at a fixed offered rate. Target: the signed pair does
at least 0.9 of the open pair's throughput (issue 9: signing costs under 10 %).
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

from bench.config import Plan
from bench.load import FEATURE, VERSION, Load, alternate_saturation, phase_line
from bench.processes import NodeProcess
from bench.sites import remove_site, settings_for
from services.client import LicenseClient
from services.config.settings import Settings

NODES = ("primary", "backup")
VARIANTS = ("open", "signed")
TARGET_RATIO = 0.9
LATENCY_RATE = 200  # commands/s offered for the p50/p99
ATTEMPT_TIMEOUT, TIMEOUT = 30.0, 90.0
# Bench-only secrets: a throwaway site, removed at the end of the scenario.
SIGNED_ENV = {
    "LICENSING_NODE_KEYS": "bench-1:" + "b" * 40,
    "LICENSING_ADMIN_KEY": "bench-admin-key-" + "c" * 24,
}


def _env(variant: str) -> dict[str, str]:
    return SIGNED_ENV if variant == "signed" else {}


async def _pair(stack: AsyncExitStack, site: str, variant: str, plan: Plan, log_dir: Path):
    nodes = [NodeProcess(site, name, log_dir, **_env(variant)) for name in NODES]
    stack.callback(lambda: [node.stop() for node in nodes])
    for node in nodes:  # primary first: it gets the commands queue (single active consumer)
        node.start()
        health = await node.wait_healthy()
    assert health["stream"].startswith(variant), health["stream"]
    key = SIGNED_ENV["LICENSING_ADMIN_KEY"] if variant == "signed" else None
    base = settings_for(site)
    settings = Settings(amqp_url=base.amqp_url, pg_dsn=base.pg_dsn, site=site, admin_key=key)
    admin = LicenseClient(settings, actor="bench")
    async with admin:
        grant = {"name": FEATURE, "version": VERSION, "seats": 1_000_000}
        reply = await admin.activate("BENCH", [grant])
        if not reply.ok:
            raise RuntimeError(f"could not activate the {variant} bench license: {reply}")
    clients = []
    for _ in range(plan.clients):
        client = LicenseClient(settings_for(site), attempt_timeout=ATTEMPT_TIMEOUT, timeout=TIMEOUT)
        await stack.enter_async_context(client)
        clients.append(client)
    for node in nodes:
        stack.push_async_callback(node.close_session)
    return Load(clients)


async def signing_cost(plan: Plan, run_id: str, log_dir: Path, say) -> dict:
    sites = {"open": f"{run_id}o", "signed": f"{run_id}k"}
    phases: dict[str, dict] = {variant: {} for variant in VARIANTS}
    try:
        async with AsyncExitStack() as stack:
            loads = {v: await _pair(stack, sites[v], v, plan, log_dir) for v in VARIANTS}
            phases = await alternate_saturation(
                loads,
                plan.saturation_rounds,
                plan.in_flight,
                plan.warmup,
                plan.saturation,
                say,
            )
            for variant in VARIANTS:
                name = f"rate_{LATENCY_RATE}"
                phase = await loads[variant].open_loop(LATENCY_RATE, plan.warmup, plan.rate_window)
                phases[variant][name] = phase
                say(phase_line(variant, name, phase))
    finally:
        for site in sites.values():
            await remove_site(site, list(NODES))
    open_tp, signed_tp = (phases[v]["saturation"]["completed_per_s"] for v in VARIANTS)
    ratio = round(signed_tp / open_tp, 3) if open_tp else None
    say(
        f"  signed / open throughput at saturation: {ratio} "
        f"({signed_tp:.1f} / {open_tp:.1f} cmd/s; target at least {TARGET_RATIO})"
    )
    return {
        "sites": sites,
        "phases": phases,
        "ratio": ratio,
        "target_ratio": TARGET_RATIO,
        "ok": ratio is not None and ratio >= TARGET_RATIO,
    }
