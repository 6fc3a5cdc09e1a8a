"""``demo``: a plant's product traffic against the pair until Ctrl-C or ``--duration``.

What to run in a second terminal after ``licensing up``, so the License Manager's pages
and capacity charts have something to show. What it asks is decided in
``demo_traffic``; here it is sent with the real client, as products send it: each
granted lease renews itself until the product lets it go. It has a product's rights
only: its settings carry no admin key, so nothing it sends is signed.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

import click

from events.vocabulary import ErrorCode
from services.cli.api import ApiUnavailable, fetch
from services.cli.commands_view import api_option
from services.cli.context import CliContext, json_option, pass_cli
from services.cli.demo_traffic import (
    SESSIONS_PER_PRODUCT,
    Ask,
    Feature,
    Product,
    Tally,
    in_peak,
    next_ask,
    pause,
    products,
    usable_features,
)
from services.cli.output import emit_json, fail, note
from services.cli.running import with_client
from services.client import ClientError, LicenseClient, LicenseDenied

FEATURES_REFRESH_SECONDS = 30.0  # licenses activated meanwhile join the traffic
LIVE_EVERY_TTY, LIVE_EVERY_PIPED = 0.5, 5.0


@dataclass(frozen=True)
class Plan:
    catalogue: list[Product]
    rate: float
    duration: float | None
    peak_every: float
    seed: int | None


async def _stopped(stop: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds``; True if ``stop`` came first."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=max(seconds, 0.0))
    return stop.is_set()


async def _features(api_url: str) -> list[Feature] | None:
    (answer,) = await fetch(api_url, "/api/features")
    if isinstance(answer, ApiUnavailable) or not isinstance(answer, dict):
        return None
    return usable_features(answer.get("features") or [], datetime.now(UTC))


async def _hold(lease_lost: asyncio.Future[None], seconds: float, ending: asyncio.Event) -> None:
    """Until the product is done (``seconds``), the demo ends, or the lease is lost."""
    ended = asyncio.ensure_future(ending.wait())
    try:
        await asyncio.wait(
            [lease_lost, ended], timeout=seconds, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        ended.cancel()
        lease_lost.cancel()


async def _session(
    client: LicenseClient, ask: Ask, tally: Tally, busy: Counter[str], ending: asyncio.Event
) -> None:
    """One product's use of a feature: acquire, hold (renewed by the lease), release."""
    device = ask.product.device
    busy[device] += 1
    try:
        acquiring = client.acquire(
            ask.feature.name, ask.feature.version, device, ask.product.user, ask.count
        )
        async with acquiring as lease:
            tally.acquired += 1
            tally.held += 1
            try:
                await _hold(asyncio.ensure_future(lease.wait_lost()), ask.hold_seconds, ending)
            finally:
                tally.held -= 1
        if lease.lost:
            tally.lost += 1
        elif lease.released:
            tally.released += 1
    except LicenseDenied as denied:
        if denied.code == ErrorCode.DENIED:
            tally.denied[denied.reason or denied.code] += 1
        else:
            tally.errors += 1
    except ClientError:
        tally.errors += 1
    finally:
        busy[device] -= 1


async def _live(tally: Tally, plan: Plan, started: float, done: asyncio.Event) -> None:
    """The live line on stderr: rewritten in place on a terminal, a line now and then in a log."""
    loop = asyncio.get_running_loop()
    tty = sys.stderr.isatty()
    every = LIVE_EVERY_TTY if tty else LIVE_EVERY_PIPED

    def show(final: bool) -> None:
        elapsed = loop.time() - started
        line = tally.line(elapsed, in_peak(elapsed, plan.peak_every), len(plan.catalogue))
        if tty:
            sys.stderr.write(f"\r\x1b[K{line}" + ("\n" if final else ""))
        else:
            sys.stderr.write(f"{line}\n")
        sys.stderr.flush()

    while not await _stopped(done, every):
        show(final=False)
    show(final=True)


async def _drive(client: LicenseClient, api_url: str, features: list[Feature], plan: Plan) -> Tally:
    loop = asyncio.get_running_loop()
    ending = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)

    def end() -> None:  # the first Ctrl-C releases every lease; a second one quits at once
        ending.set()
        for sig in signals:
            loop.remove_signal_handler(sig)

    for sig in signals:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, end)
    rng = random.Random(plan.seed)
    tally, busy = Tally(), Counter[str]()
    sessions: set[asyncio.Task[None]] = set()
    started = loop.time()
    done = asyncio.Event()  # set once every lease is released: the final line counts them
    live = asyncio.create_task(_live(tally, plan, started, done))
    refresh_at, number = started + FEATURES_REFRESH_SECONDS, 0
    while True:
        elapsed = loop.time() - started
        left = None if plan.duration is None else plan.duration - elapsed
        wait = pause(plan.rate, in_peak(elapsed, plan.peak_every), rng)
        if await _stopped(ending, wait if left is None else min(wait, left)):
            break
        if left is not None and wait >= left:
            break
        if loop.time() >= refresh_at:
            refresh_at = loop.time() + FEATURES_REFRESH_SECONDS
            features = await _features(api_url) or features
        ask = next_ask(number, plan.catalogue, features, rng)
        number += 1
        if busy[ask.product.device] >= SESSIONS_PER_PRODUCT:
            tally.skipped += 1
            continue
        task = asyncio.create_task(_session(client, ask, tally, busy, ending))
        sessions.add(task)
        task.add_done_callback(sessions.discard)
    ending.set()  # every product lets its lease go
    await asyncio.gather(*sessions, return_exceptions=True)
    done.set()
    await live
    return tally


@click.command()
@click.option(
    "--products",
    "product_count",
    type=click.IntRange(1, 1000),
    default=12,
    show_default=True,
    help="How many products (HMIs, historians, engineering tools) ask for licenses.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True, max=1000),
    default=0.5,
    show_default=True,
    help="Acquires a second, on average, outside the peaks (five times that in a peak).",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    help="Stop after this many seconds (default: at Ctrl-C).",
)
@click.option(
    "--peak-every",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="A short peak of traffic every this many seconds (0: none).",
)
@click.option("--seed", type=int, help="Seed of the random traffic, to repeat a run.")
@api_option
@json_option
@pass_cli
def demo(
    ctx: CliContext,
    product_count: int,
    rate: float,
    duration: float | None,
    peak_every: float,
    seed: int | None,
    api_url: str,
) -> None:
    """Drive realistic product traffic (acquires, renewals, releases, some denials, a peak
    each minute) against the pair until Ctrl-C, so the License Manager comes alive."""
    features = asyncio.run(_features(api_url))
    if features is None:
        fail(ctx, ErrorCode.UNAVAILABLE, f"cannot read /api/features from {api_url}")
    if not features:
        fail(
            ctx,
            ErrorCode.NOT_FOUND,
            "the site has no licensed feature to ask for: activate a license first "
            "('licensing up' does, with a demo license, on a fresh machine)",
        )
    plan = Plan(products(product_count), rate, duration, peak_every, seed)
    settings = ctx.settings().model_copy(update={"admin_key": None})  # a product's rights only
    names = ", ".join(sorted({f.name for f in features}))
    note(
        f"Demo traffic of {product_count} products on site {settings.site} ({names}); "
        + (f"{duration:g} s." if duration else "Ctrl-C stops it (every lease is released).")
    )
    tally = with_client(
        ctx, lambda client: _drive(client, api_url, features, plan), settings=settings
    )
    if ctx.json:
        emit_json({"ok": True, **tally.summary()})
