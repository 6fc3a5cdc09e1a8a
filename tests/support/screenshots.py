"""Screenshots of every License Manager page, for docs/license-manager.md.

    python -m tests.support.screenshots [--out docs/screenshots]

Stands up a throwaway site on the local broker and PostgreSQL, shaped like the seed's
(nodes K1AOS1RED and K1GRRED with its License Server IDs), with a day of plant usage
written to the log first (the real domain's decisions, back-dated, as
tests.support.fake_log does), then runs both nodes and the watchdog as processes and
drives Debian's headless Chromium through the pages. The site trusts a vendor key made
here, as a real plant's does: its license is vendor-signed, and the Activate page is walked
through (the activation request, an entitlement the vendor functions issue against it, a
refusal, the license activated, its deactivation receipt). The site is removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from events.base import Event
from events.commands import (
    Acquire,
    ActivateLicense,
    FeatureGrant,
    PairServers,
    RegisterServer,
    Release,
    Reserve,
)
from events.writer import WriterPromoted
from projections.database import database_name, open_pool
from services.auth.passwords import hash_password
from services.domain import lease_secrets
from services.domain.decide import Context, decide
from services.domain.evolve import evolve
from services.domain.model import State
from services.trust import entitlement, keys, signed
from services.trust.keys import Trust
from services.trust.request import ActivationRequest
from tests.support.browser import chromium
from tests.support.fake_log import publish_events
from tests.support.processes import ServiceProcess
from tests.support.site import Site
from tests.support.sites import PG_DSN, new_site_name
from tests.support.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]
PRIMARY, BACKUP = "k1aos1red", "k1grred"
IDS = {PRIMARY: "K1AOS1RED_1TU61JVZ", BACKUP: "K1GRRED_CZTJ42CG"}
ADMIN, PASSWORD = "plant-admin", "demo-password-1"
VENDOR = keys.new_private_key()  # the vendor's key, for these pictures only
SITE_KEY = keys.new_private_key()
# name, type, version, seats, share of the seats wanted at the busiest hour
FEATURES = [
    ("InTouch Runtime 3K Tags", "Client", "2017 (17.0)", 25, 0.9),
    ("InTouch Dev 60K Tags", "Server", "2017 (17.0)", 10, 0.55),
    ("Historian Client", "Client", "2020", 8, 1.2),
    (
        "Historian Enterprise 3M Tags",
        "Server",
        "2017 (17.0)",
        2,
        None,
    ),  # held by both servers all day
]


def entitlement_file(
    license_id: str, serial: str, server_ids: list[str], grants: list[FeatureGrant], at: datetime
) -> bytes:
    """What ``licensing vendor issue`` writes: the terms signed with the vendor's key."""
    terms = entitlement.Terms(
        license_id=license_id,
        serial=serial,
        customer="Plant K1 (demo)",
        site="k1",
        server_ids=server_ids,
        features=grants,
        not_before=at - timedelta(days=1),
        not_after=at + timedelta(days=30),
        nonce=serial,
        issued_at=at,
    )
    return signed.dumps(entitlement.issue(terms, VENDOR))


def demo_log(now: datetime, seed: int = 17) -> list[Event]:
    """A day of a plant: registration, pairing, a license, a reservation, shifts of operators."""
    rng = random.Random(seed)
    start = now - timedelta(hours=26)
    state, events, n = State(), [], 0
    trust = Trust.of(keys.public_text(VENDOR))

    def step(command: object, at: datetime, actor: str | None = None) -> Event:
        nonlocal state, n
        n += 1
        event = decide(state, command, Context(f"demo-{n}", 1, at, actor, trust))
        state = evolve(state, event)
        events.append(event)
        return event

    promoted = WriterPromoted(epoch=1, node=PRIMARY, server_id=IDS[PRIMARY], at=start)
    state = evolve(state, promoted)
    events.append(promoted)
    for i, node in enumerate((PRIMARY, BACKUP)):
        step(RegisterServer(node=node, server_id=IDS[node]), start + timedelta(seconds=5 + i))
    step(PairServers(primary=PRIMARY, backup=BACKUP), start + timedelta(minutes=3), ADMIN)
    grants = [
        FeatureGrant(
            name=name,
            type=kind,
            version=version,
            seats=seats,
            expires_at=datetime(2027, 12, 31, tzinfo=UTC) if kind == "Client" else None,
        )
        for name, kind, version, seats, _ in FEATURES
    ]
    document = signed.loads(
        entitlement_file("LIC-2017-0042-PLANT", "SN-0042", list(IDS.values()), grants, start)
    )
    step(
        ActivateLicense(license_id="LIC-2017-0042-PLANT", features=grants, entitlement=document),
        start + timedelta(minutes=9),
        ADMIN,
    )
    step(
        Reserve(
            feature="InTouch Runtime 3K Tags",
            version="2017 (17.0)",
            device="HMI-CONTROL-ROOM",
            count=2,
        ),
        start + timedelta(minutes=12),
        ADMIN,
    )
    name, _k, version, _s, _w = FEATURES[3]
    for host in ("K1AOS1RED", "K1GRRED"):
        step(
            Acquire(
                feature=name, version=version, device=host, user="historian", lease_seconds=28800
            ),
            start + timedelta(minutes=15),
        )
    step(
        Acquire(
            feature="InTouch Runtime 3K Tags",
            version="2017 (17.0)",
            device="HMI-CONTROL-ROOM",
            user="op.shift-lead",
            lease_seconds=28800,
        ),
        start + timedelta(minutes=16),
    )

    held: dict[str, list[str]] = {f[0]: [] for f in FEATURES}
    granted_by: dict[str, str] = {}  # lease id -> the acquire's command id (its secret's seed)
    t = start + timedelta(minutes=20)
    while t < now - timedelta(seconds=40):
        hour = t.hour + t.minute / 60
        busy = max(
            0.08, math.exp(-(((hour - 11.5) / 4.2) ** 2))
        )  # one day shift, busiest before noon
        for name, kind, version, seats, share in FEATURES:
            if share is None:
                continue
            wanted = round(seats * share * busy + rng.uniform(-1.2, 1.2))
            if len(held[name]) < wanted and rng.random() < 0.7:
                who = rng.randrange(1, 40)
                device = f"HMI-{who:02d}" if kind == "Client" else f"ENG-WS-{who % 6 + 1}"
                event = step(
                    Acquire(
                        feature=name,
                        version=version,
                        device=device,
                        user=f"op{who:02d}",
                        lease_seconds=28800,
                    ),
                    t + timedelta(seconds=rng.uniform(0, 100)),
                )
                if getattr(event, "lease_id", None):
                    held[name].append(event.lease_id)
                    granted_by[event.lease_id] = event.command_id
            elif len(held[name]) > wanted and held[name] and rng.random() < 0.6:
                lease = held[name].pop(rng.randrange(len(held[name])))
                secret = lease_secrets.secret_for(None, granted_by[lease])
                release = Release(lease_id=lease, lease_secret=secret)
                step(release, t + timedelta(seconds=rng.uniform(0, 100)))
        t += timedelta(minutes=2)
    return events


async def take(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    site = await Site(new_site_name(), Path(tempfile.mkdtemp(prefix="lm-screens-"))).create()
    taken: list[Path] = []
    try:
        await publish_events(site.name, demo_log(datetime.now(UTC)), per_message=20)
        for node, server_id in IDS.items():  # the nodes keep the seed's License Server IDs
            pool = await open_pool(PG_DSN, database_name(site.name, node))
            await pool.execute(
                "INSERT INTO node_identity (node, server_id) VALUES ($1, $2)", node, server_id
            )
            await pool.close()
        env = {
            "LICENSING_ADMIN_KEY": "screenshots-key",
            "LICENSING_ADMIN_USERS": f"{ADMIN}:{hash_password(PASSWORD)}",
            "LICENSING_VENDOR_KEYS": keys.public_text(VENDOR),
            "LICENSING_SITE_KEY": SITE_KEY,
        }
        primary, backup = site.start_node(PRIMARY, **env), site.start_node(BACKUP, **env)
        await primary.wait_registered(60)
        await backup.wait_registered(60)
        site.processes.append(ServiceProcess(site, "watchdog", ["watchdog"], **env).start())

        async def paired() -> bool:
            return (await primary.get("/api/servers"))["pair_status"] == "Paired and Available"

        await wait_for(paired, 30, "the pair Paired and Available")
        async with (
            site.client() as product
        ):  # one denial a minute ago, so today's list is not empty
            await product.send(
                Acquire(
                    feature="Historian Enterprise 3M Tags",
                    version="2017 (17.0)",
                    device="K1HISTREP",
                    user="historian",
                )
            )

        from playwright.async_api import expect

        async with chromium() as browser:
            page = await browser.new_page(
                viewport={"width": 1280, "height": 800}, accept_downloads=True
            )
            page.on("pageerror", lambda exc: print(f"page error: {exc}"))

            async def snap(name: str, full: bool = False, part: str | None = None) -> None:
                await page.wait_for_selector("#view[data-ready=true]", state="attached")
                await page.wait_for_timeout(400)
                path = out / f"{name}.png"
                if part:  # one panel: the picture stays small
                    await page.locator(part).screenshot(path=str(path))
                else:
                    await page.screenshot(path=str(path), full_page=full)
                taken.append(path)

            await page.goto(primary.url + "/")
            await page.click("#signin")
            await page.fill("#login-form [name=username]", ADMIN)
            await page.fill("#login-form [name=password]", PASSWORD)
            await snap("login")
            await page.click("#login-submit")
            await page.wait_for_selector("#whoami")
            await page.evaluate(
                "document.querySelectorAll('#notices .notice').forEach(n => n.remove())"
            )
            for path, name in [
                ("/", "server-summary"),
                ("/servers", "server-details"),
                ("/licenses", "license-summary"),
                ("/features", "features-summary"),
                ("/usage", "usage-details"),
                ("/capacity", "capacity"),
                ("/reservations", "reservations"),
                ("/denials", "denials"),
            ]:
                await page.goto(primary.url + path)
                await snap(name)
            await walk_through_activation(page, primary.url, out, snap)
            await page.goto(primary.url + "/")
            await page.click("#manage-open")
            await snap("manage")
            await page.get_by_role("button", name=f"Stop {BACKUP}", exact=True).click()
            await page.click("#confirm-ok")
            await page.click("#manage-close")
            await expect(page.locator("#pair-status")).to_have_text(
                "Backup not available", timeout=15_000
            )
            await snap("backup-stopped")
    finally:
        await site.close()
    return taken


async def walk_through_activation(page, url: str, out: Path, snap) -> None:
    """docs/license-manager.md's walk-through: request, issue, a refusal, upload, receipt."""
    await page.goto(url + "/activate")
    await snap("activate-request")
    async with page.expect_download() as asked:
        await page.click("#request-download")
    request_file = out / "activation-request.tmp.json"
    await (await asked.value).save_as(request_file)
    made = ActivationRequest.model_validate_json(request_file.read_text())
    request_file.unlink()
    now = datetime.now(UTC)
    grants = [FeatureGrant(name="Historian Client", type="Client", version="2020", seats=12)]
    files = {
        "LIC-2026-0107.json": entitlement_file(
            "LIC-2026-0107", "SN-0107", made.server_ids, grants, now
        ),
        # issued against a request made before the backup's License Server ID was reset
        "LIC-2026-0107-old.json": entitlement_file(
            "LIC-2026-0107", "SN-0107", [IDS[PRIMARY], "K1GRRED_7QX2M4PA"], grants, now
        ),
    }
    folder = Path(tempfile.mkdtemp(prefix="lm-entitlements-"))
    for name, text in files.items():
        (folder / name).write_bytes(text)
    await page.set_input_files("#activate-file", str(folder / "LIC-2026-0107-old.json"))
    await page.click("#activate-submit")
    await page.wait_for_selector("#activate-refusal")
    await clear_notices(page)
    await snap("activate-refused", part="#activate-form")
    await page.set_input_files("#activate-file", str(folder / "LIC-2026-0107.json"))
    await page.wait_for_selector("#activate-preview dl")
    await page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar stays on top
    await snap("activate-preview", full=True)
    await page.click("#activate-submit")
    await page.wait_for_selector("#activate-result .done")
    await page.click("#activate-result a")
    await page.wait_for_selector("tr[data-key=LIC-2026-0107]")
    await clear_notices(page)
    await snap("license-activated")
    await page.get_by_role("button", name="Deactivate LIC-2026-0107").click()
    await page.click("#confirm-ok")
    await page.wait_for_selector("#receipt-dialog[open]")
    await clear_notices(page)
    await snap("deactivation-receipt")
    await page.click("#receipt-dialog [data-close]")


async def clear_notices(page) -> None:
    await page.evaluate("document.querySelectorAll('#notices .notice').forEach(n => n.remove())")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args()
    for path in asyncio.run(take(args.out)):
        print(f"{path} ({path.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
