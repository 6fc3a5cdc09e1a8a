"""The License Manager in a real headless browser, against two nodes and the watchdog as processes.

One administrator's session, the way the seed walks through it: sign in, pair (Enable
Backup + Apply), activate from an entitlement file, watch an acquisition appear live,
be refused in words, stop the backup and bring it back, force-release, deactivate,
reset the backup's License Server ID and watch it recover. Nothing reloads the page.

Set LICENSING_SCREENSHOTS=DIR to keep a screenshot of each step.
"""

from __future__ import annotations

import base64
import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from events.commands import Acquire, FeatureGrant
from services.auth.passwords import hash_password
from services.trust import entitlement, keys, receipt, signed
from services.trust.request import ActivationRequest
from tests.support.browser import chromium, chromium_or_skip
from tests.support.fake_log import license_events, publish_events
from tests.support.processes import ServiceProcess
from tests.support.waiting import wait_for

pytestmark = pytest.mark.timeout(240)

KEY = "browser-test-admin-key"
ADMIN, PASSWORD = "admin", "correct horse battery staple"
LIVE = 3_000  # ms: the page must show a change within this (the goal is under a second)
ENTITLEMENT = {
    "license_id": "LIC-BROWSER",
    "features": [
        {"name": "InTouch Dev 60K Tags", "type": "Server", "version": "2017 (17.0)", "seats": 50},
        {
            "name": "Historian Enterprise 3M Tags",
            "type": "Server",
            "version": "2017 (17.0)",
            "seats": 1000,
        },
    ],
}


async def test_an_administrator_runs_the_pair_from_the_browser(site, tmp_path):
    executable = chromium_or_skip()
    from playwright.async_api import expect

    shots = (
        Path(os.environ["LICENSING_SCREENSHOTS"])
        if os.environ.get("LICENSING_SCREENSHOTS")
        else None
    )

    async def shot(page, name: str) -> None:
        if shots:
            shots.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(shots / f"{name}.png"))

    # A long log first, so that a reset's replay lasts long enough to be seen as Recovering.
    events, _ = license_events(60_000, seed=5)
    await publish_events(site.name, events, per_message=10)
    env = {
        "LICENSING_ADMIN_KEY": KEY,
        "LICENSING_ADMIN_USERS": f"{ADMIN}:{hash_password(PASSWORD)}",
    }
    primary, backup = site.start_node("primary", **env), site.start_node("backup", **env)
    await primary.wait_registered(timeout=90)
    first_backup = await backup.wait_registered(timeout=90)
    site.processes.append(ServiceProcess(site, "watchdog", ["watchdog"], **env).start())
    entitlement = tmp_path / "entitlement.json"
    entitlement.write_text(json.dumps(ENTITLEMENT))

    async with chromium(executable) as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 860})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(primary.url + "/")
        await page.evaluate("window.__sameDocument = true")  # gone if anything reloads the page

        async def go(link: str) -> None:  # the sidebar: client-side navigation, no reload
            await (
                page.get_by_role("navigation", name="Pages")
                .get_by_role("link", name=link, exact=True)
                .click()
            )
            await expect(page.locator("#view[data-ready=true]")).to_have_count(1)

        def notice(kind: str):
            return page.locator(f"#notices .notice.{kind}").first

        async def manage(button: str) -> None:
            await page.click("#manage-open")
            await page.get_by_role("button", name=button, exact=True).click()
            await page.click("#confirm-ok")

        # Reading is open; managing needs a login.
        await expect(page.locator(".tile")).to_have_count(2)
        await expect(page.locator("#pair-status")).to_have_text("Not paired")
        await page.click("#manage-open")
        await expect(page.locator("#manage-signin")).to_be_visible()
        await page.click("#manage-close")
        await page.click("#signin")
        await page.fill("#login-form [name=username]", ADMIN)
        await page.fill("#login-form [name=password]", "wrong password")
        await page.click("#login-submit")
        await expect(page.locator("#login-error")).to_have_text("wrong user name or password")
        await page.fill("#login-form [name=password]", PASSWORD)
        await page.click("#login-submit")
        await expect(page.locator("#whoami")).to_have_text(ADMIN)

        # Pair: the seed's Enable Backup, the backup chosen from a list, Apply.
        await page.click("#manage-open")
        await page.check("#enable-backup")
        await page.select_option("#primary-server", "primary")
        await page.select_option("#backup-server", "backup")
        await page.click("#apply-redundancy")
        await expect(notice("ok")).to_contain_text("primary and backup are paired")
        await page.click("#manage-close")
        await expect(page.locator("#pair-status")).to_have_text(
            "Paired and Available", timeout=20_000
        )
        await expect(page.locator(".tile[data-node=backup] .badge")).to_have_text("backup")
        await shot(page, "paired")

        # Activate from an (unsigned) entitlement file: a site without vendor keys says plainly
        # that it accepts unsigned activations, and keeps the unsigned form too.
        await go("License Summary")
        await page.click("#activate-open")
        await expect(page.locator("#view[data-ready=true]")).to_have_count(1)
        await expect(page.locator("#activate-mode")).to_contain_text(
            "This site accepts unsigned activations"
        )
        await expect(page.locator("#unsigned-form")).to_be_visible()
        await page.set_input_files("#activate-file", str(entitlement))
        await expect(page.locator("#activate-preview")).to_contain_text("InTouch Dev 60K Tags")
        await page.click("#activate-submit")
        await expect(notice("ok")).to_contain_text("License LIC-BROWSER is activated")
        # The unsigned form, as licensing activate --license-id ... --feature ... (its license
        # is deactivated again at once, so the rest of the walk is about LIC-BROWSER alone).
        await page.fill("#unsigned-license", "LIC-FORM")
        await page.fill("#unsigned-features", "Historian Client 2020")
        await page.click("#unsigned-submit")
        await expect(page.locator("#unsigned-error")).to_contain_text(
            "is not NAME:VERSION:SEATS[:TYPE]"
        )
        await page.fill("#unsigned-features", "Historian Client:2020:3:Client")
        await page.click("#unsigned-submit")
        await expect(notice("ok")).to_contain_text("License LIC-FORM is activated (1 feature)")
        await go("License Summary")
        await expect(page.locator("tr[data-key=LIC-BROWSER]")).to_be_visible(timeout=LIVE)
        await expect(page.locator("tr[data-key=LIC-FORM]")).to_contain_text("Historian Client")
        await page.get_by_role("button", name="Deactivate LIC-FORM").click()
        await page.click("#confirm-ok")
        await page.click("#receipt-dialog [data-close]")
        await expect(page.locator("tr[data-key=LIC-FORM]")).to_have_count(0, timeout=LIVE)

        # Seats set aside for a device, and given back.
        await go("Reservations")
        await page.click("#reserve-open")
        option = page.locator("#reserve-feature option", has_text="InTouch Dev 60K Tags")
        await page.select_option("#reserve-feature", await option.get_attribute("value"))
        await page.fill("#reserve-form [name=holder]", "HMI-CONTROL-ROOM")
        await page.fill("#reserve-form [name=count]", "2")
        await page.click("#reserve-submit")
        await expect(notice("ok")).to_contain_text(
            "2 seats of InTouch Dev 60K Tags 2017 (17.0) reserved for HMI-CONTROL-ROOM"
        )
        reservation = page.locator("#view tbody tr", has_text="HMI-CONTROL-ROOM")
        await expect(reservation).to_contain_text("0/2", timeout=LIVE)
        await reservation.get_by_role("button", name="Cancel reservation").click()
        await page.click("#confirm-ok")
        await expect(notice("ok")).to_contain_text("is cancelled")
        await expect(reservation).to_have_count(0, timeout=LIVE)

        # An acquisition made by a product shows up in Usage Details by itself.
        await go("Usage Details")
        async with site.client() as product:
            started = time.monotonic()
            lease = await product.acquire(
                "InTouch Dev 60K Tags",
                "2017 (17.0)",
                device="HMI-LINE-2",
                user="operator",
                lease_seconds=3600,
            )
            await lease.stop_renewing()
        row = page.locator(f"tr[data-key='{lease.lease_id}']")
        await expect(row).to_be_visible(timeout=LIVE)
        print(f"BROWSER acquire visible after {time.monotonic() - started:.2f}s")
        await expect(row).to_contain_text("HMI-LINE-2")
        await expect(row).to_contain_text("1/50")
        await page.fill("input[aria-label^='Filter by feature']", "no-such-device")
        await expect(row).to_have_count(0)
        await page.fill("input[aria-label^='Filter by feature']", "hmi-line")
        await expect(row).to_be_visible()
        await shot(page, "usage")

        # A denial shows in Denials and on the capacity chart ("do we have enough seats?").
        async with site.client() as product:
            denied = await product.send(
                Acquire(
                    feature="Historian Enterprise 3M Tags",
                    version="2017 (17.0)",
                    device="K1HISTREP",
                    user="historian",
                    count=2000,
                )
            )
        assert denied.error.code == "denied"
        await go("Denials")
        await expect(page.locator("#view tbody tr").first).to_contain_text(
            "K1HISTREP", timeout=LIVE
        )
        await go("Capacity")
        await page.get_by_role("button", name="Last hour").click()
        historian = page.locator(
            '.chart-card[data-feature="Historian Enterprise 3M Tags|2017 (17.0)"]'
        )
        await expect(historian.locator(".verdict")).to_have_text("Not enough seats")
        await expect(historian.locator(".deny path")).to_have_count(1)
        intouch = page.locator('.chart-card[data-feature="InTouch Dev 60K Tags|2017 (17.0)"]')
        await expect(intouch.locator(".facts")).to_contain_text("Peak 1 of 50 (2%)")
        await expect(intouch.locator(".verdict")).to_have_text("Enough seats")
        await shot(page, "capacity")

        # A refusal, in the administrator's words: the pair cannot be undone while licensed.
        await page.click("#manage-open")
        await page.uncheck("#enable-backup")
        await page.click("#apply-redundancy")
        await page.click("#confirm-ok")
        await expect(notice("error")).to_contain_text(
            "the pair cannot be undone until all of them are deactivated"
        )
        await page.click("#manage-close")

        # Stop the backup: its tile says Stopped, the pair Backup not available.
        await go("Server Summary")
        await manage("Stop backup")
        await expect(notice("ok")).to_contain_text("backup was told to stop")
        await page.click("#manage-close")
        tile = page.locator(".tile[data-node=backup]")
        await expect(tile.locator("[data-field=status]")).to_have_text("Stopped", timeout=LIVE)
        await expect(page.locator("#pair-status")).to_have_text("Backup not available")
        await expect(tile.locator("[data-field=pair_status]")).to_have_text("Backup not available")
        await shot(page, "backup-stopped")
        backup.proc.wait(timeout=15)
        assert backup.proc.returncode == 0

        # Start it again: Running, Paired and Available.
        backup = site.start_node("backup", **env)
        await expect(tile.locator("[data-field=status]")).to_have_text("Running", timeout=30_000)
        await expect(page.locator("#pair-status")).to_have_text(
            "Paired and Available", timeout=30_000
        )

        # Force-release the stuck acquisition, with a reason; then deactivate the license.
        await go("Usage Details")
        await page.fill("input[aria-label^='Filter by feature']", "")
        await page.get_by_role(
            "button", name="Force release InTouch Dev 60K Tags on HMI-LINE-2"
        ).click()
        await page.click("#confirm-ok")
        await expect(page.locator("#confirm-error")).to_contain_text("Say why")
        await page.fill("#confirm-reason", "HMI-LINE-2 was replaced and still held its seat")
        await page.click("#confirm-ok")
        await expect(notice("ok")).to_contain_text("force-released")
        await expect(row).to_have_count(0, timeout=LIVE)
        await go("License Summary")
        await page.get_by_role("button", name="Deactivate LIC-BROWSER").click()
        await page.click("#confirm-ok")
        await expect(notice("ok")).to_contain_text("License LIC-BROWSER is deactivated")
        await expect(page.locator("#receipt-text")).to_contain_text("no site key")
        await expect(page.locator("#receipt-download")).to_be_hidden()
        await page.click("#receipt-dialog [data-close]")
        await expect(page.locator("tr[data-key=LIC-BROWSER]")).to_have_count(0, timeout=LIVE)

        # Reset the backup's License Server ID: Recovering while it replays, then Paired and
        # Available.
        await go("Server Summary")
        await manage("Reset backup")
        await expect(notice("ok")).to_contain_text("backup has a new License Server ID")
        await page.click("#manage-close")
        await expect(page.locator("#pair-status")).to_have_text("Recovering", timeout=20_000)
        await shot(page, "recovering")
        await expect(page.locator("#pair-status")).to_have_text(
            "Paired and Available", timeout=60_000
        )
        new_id = tile.locator("[data-field=server_id]")
        await expect(new_id).not_to_have_text(first_backup["server_id"])
        await expect(new_id).to_have_text(
            await wait_for(lambda: _server_id(backup), 10, "the backup's new id")
        )
        await go("Server Details")
        await expect(page.locator("#figure13 tr[data-node=backup]")).to_contain_text("Running")
        await expect(page.get_by_role("cell", name="License Server ID reset").first).to_be_visible()

        assert await page.evaluate("window.__sameDocument") is True, "the page reloaded"
        assert errors == [], errors

    # The acting administrator is the recorded actor of what was done in the browser.
    async with site.database("primary") as db:
        rows = await db.fetch(
            "SELECT type, body->>'actor' AS actor, body->>'reason' AS reason FROM event_log "
            "WHERE type IN ('ServersPaired', 'LicenseActivated', 'LeaseReleased', "
            "'StopRequested', 'ServerIdReset') AND body->>'actor' IS NOT NULL ORDER BY 1"
        )
    by_type = {r["type"]: r for r in rows}
    assert {t: r["actor"] for t, r in by_type.items()} == {
        "LeaseReleased": ADMIN,
        "LicenseActivated": ADMIN,
        "ServerIdReset": ADMIN,
        "ServersPaired": ADMIN,
        "StopRequested": ADMIN,
    }
    assert by_type["LeaseReleased"]["reason"] == "HMI-LINE-2 was replaced and still held its seat"


async def test_an_administrator_activates_a_vendor_signed_entitlement_by_upload(site, tmp_path):
    """The offline flow on the Activate page of a node that trusts a vendor key: download the
    activation request, the vendor issues against it, a tampered copy is refused in words, the
    file is activated and shows on the License Summary; deactivating it gives the receipt."""
    executable = chromium_or_skip()
    from playwright.async_api import expect

    vendor, site_key = keys.new_private_key(), keys.new_private_key()
    node = site.start_node(
        "solo",
        LICENSING_ADMIN_KEY=KEY,
        LICENSING_ADMIN_USERS=f"{ADMIN}:{hash_password(PASSWORD)}",
        LICENSING_VENDOR_KEYS=keys.public_text(vendor),
        LICENSING_SITE_KEY=site_key,
    )
    server_id = (await node.wait_registered())["server_id"]

    async with chromium(executable) as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 860})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        view_ready = page.locator("#view[data-ready=true]")
        refusal = page.locator("#activate-refusal")
        await page.goto(node.url + "/activate")
        await expect(view_ready).to_have_count(1)
        await expect(page.locator("#activate-mode")).to_contain_text(
            "Vendor-signed entitlements only"
        )
        await expect(page.locator("#unsigned-form")).to_have_count(0)  # only the signed upload
        await expect(page.locator("#request-facts")).to_contain_text(server_id)
        await page.click("#signin")
        await page.fill("#login-form [name=username]", ADMIN)
        await page.fill("#login-form [name=password]", PASSWORD)
        await page.click("#login-submit")
        await expect(page.locator("#whoami")).to_have_text(ADMIN)

        # 1. The activation request, downloaded from the page, is what the vendor issues against.
        async with page.expect_download() as asked:
            await page.click("#request-download")
        request_file = tmp_path / "request.json"
        await (await asked.value).save_as(request_file)
        made = ActivationRequest.model_validate_json(request_file.read_text())
        assert (made.site, made.server_ids) == (site.name, [server_id])
        assert made.site_public_key == keys.public_text(site_key) and made.nonce
        good = tmp_path / "LIC-SIGNED.json"
        good.write_bytes(signed.dumps(entitlement.issue(_terms(made), vendor)))
        tampered = tmp_path / "LIC-SIGNED-more-seats.json"
        document = json.loads(good.read_text())
        terms = json.loads(base64.b64decode(document["payload"]))
        terms["features"][0]["seats"] = 5000
        document["payload"] = base64.b64encode(json.dumps(terms).encode()).decode()
        tampered.write_text(json.dumps(document))

        # 2. A tampered copy is refused, in words, with what to do.
        await page.set_input_files("#activate-file", str(tampered))
        await expect(page.locator("#activate-preview")).to_contain_text(
            "this site's License Servers"
        )
        await page.click("#activate-submit")
        await expect(refusal).to_have_attribute("data-code", "bad_signature")
        await expect(refusal).to_contain_text("The vendor's signature does not check out")
        await expect(refusal).to_contain_text("changed after the vendor signed it")
        await expect(refusal).to_contain_text("ask the vendor for a fresh copy")

        # 3. The vendor's own file is activated and appears on the License Summary.
        await page.set_input_files("#activate-file", str(good))
        await expect(refusal).to_have_count(0)  # the answer was about the other file
        await page.click("#activate-submit")
        await expect(page.locator("#activate-result")).to_contain_text(
            "License LIC-SIGNED is activated"
        )
        await page.click("#activate-result a")
        row = page.locator("tr[data-key=LIC-SIGNED]")
        await expect(row).to_be_visible(timeout=LIVE)
        await expect(row).to_contain_text("InTouch Dev 60K Tags")

        # The same file pasted as text: activated before, and the page says what to do.
        await page.goto(node.url + "/activate")
        await expect(view_ready).to_have_count(1)
        await page.fill("#activate-text", good.read_text())
        await page.click("#activate-submit")
        await expect(refusal).to_have_attribute("data-code", "already_activated")
        await expect(refusal).to_contain_text("Activated on this site before")

        # 4. Deactivation gives the site-signed receipt the vendor checks.
        await page.goto(node.url + "/licenses")
        await page.get_by_role("button", name="Deactivate LIC-SIGNED").click()
        await page.click("#confirm-ok")
        await expect(page.locator("#receipt-title")).to_have_text(
            "License LIC-SIGNED is deactivated"
        )
        async with page.expect_download() as returned:
            await page.click("#receipt-download")
        receipt_file = tmp_path / "receipt.json"
        await (await returned.value).save_as(receipt_file)
        kept = receipt.verify(signed.loads(receipt_file.read_bytes()), made.site_public_key)
        assert (kept.license_id, kept.serial, kept.server_ids) == (
            "LIC-SIGNED",
            "SN-BROWSER-1",
            [server_id],
        )
        await page.click("#receipt-dialog [data-close]")
        await expect(row).to_have_count(0, timeout=LIVE)
        assert errors == [], errors


def _terms(made: ActivationRequest) -> entitlement.Terms:
    """What the vendor sells the site of ``made``, as ``licensing vendor issue`` would."""
    now = datetime.now(UTC)
    return entitlement.Terms(
        license_id="LIC-SIGNED",
        serial="SN-BROWSER-1",
        customer="Plant 7",
        site=made.site,
        server_ids=made.server_ids,
        features=[FeatureGrant(**ENTITLEMENT["features"][0])],
        not_before=now - timedelta(minutes=5),
        not_after=now + timedelta(days=30),
        nonce=made.nonce,
        issued_at=now,
    )


async def _server_id(node) -> str | None:
    health = await node.health()
    return health["server_id"] if health and health.get("caught_up") else None


async def test_manage_actions_need_a_login_and_the_page_token(site):
    """Reading is open; a POST without a session, without the CSRF token or with no
    administrators is refused."""
    import aiohttp

    node = site.start_node(
        "solo"
    )  # no LICENSING_ADMIN_USERS: Manage is refused, and says how to fix it
    await node.wait_registered()
    async with aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as http:  # cookies for 127.0.0.1
        async with http.get(node.url + "/usage") as page:
            assert page.status == 200 and "License Manager" in await page.text()
            assert "default-src 'self'" in page.headers["Content-Security-Policy"]
        async with http.get(node.url + "/api/session") as answer:
            session = await answer.json()
        assert session["admins_configured"] is False
        async with http.post(node.url + "/api/manage/unpair", json={}) as refused:
            body = await refused.json()
            assert refused.status == 403 and "LICENSING_ADMIN_USERS" in body["message"]
        async with http.post(
            node.url + "/login", json={"username": "a", "password": "b"}
        ) as no_token:
            assert no_token.status == 403 and (await no_token.json())["error"]["code"] == "csrf"
        async with http.post(
            node.url + "/login",
            json={"username": "a", "password": "b"},
            headers={"X-CSRF-Token": session["csrf"]},
        ) as no_admins:
            assert (
                no_admins.status == 403
                and "licensing hash-password" in (await no_admins.json())["message"]
            )


async def test_the_manage_api_for_scripts_and_pages(site):
    """The HTTP contract behind the Manage panel: login, CSRF, answers in words, logout."""
    import aiohttp

    node = site.start_node(
        "solo", LICENSING_ADMIN_KEY=KEY, LICENSING_ADMIN_USERS=f"{ADMIN}:{hash_password(PASSWORD)}"
    )
    await node.wait_registered()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:

        async def post(path: str, body: dict, token: str | None) -> tuple[int, dict]:
            headers = {"X-CSRF-Token": token} if token else {}
            async with http.post(node.url + path, json=body, headers=headers) as response:
                return response.status, await response.json()

        async with http.get(node.url + "/api/session") as answer:
            anonymous = await answer.json()
        assert anonymous["user"] is None and anonymous["admins_configured"] is True
        assert await post("/api/manage/sync", {"node": "solo"}, anonymous["csrf"]) == (
            401,
            {
                "ok": False,
                "error": {
                    "code": "login",
                    "message": "sign in as an administrator to manage the license servers",
                },
                "message": "sign in as an administrator to manage the license servers",
            },
        )
        status, login = await post(
            "/login", {"username": ADMIN, "password": PASSWORD}, anonymous["csrf"]
        )
        assert status == 200 and login["user"] == ADMIN and login["csrf"] != anonymous["csrf"]
        cookie = next(c for c in http.cookie_jar if c.key == "lm_session_solo")
        assert cookie["httponly"] and cookie["samesite"] == "Strict"

        # The old (anonymous) token is no good any more; the new one is required.
        assert (await post("/api/manage/sync", {"node": "solo"}, anonymous["csrf"]))[0] == 403
        assert (await post("/api/manage/sync", {"node": "solo"}, None))[0] == 403
        status, bad = await post(
            "/api/manage/reserve",
            {"feature": "X", "version": "1", "holder": "h", "holder_type": "both"},
            login["csrf"],
        )
        assert status == 400 and bad["message"] == "a reservation is for a device or for a user"
        status, bad_file = await post(
            "/api/manage/activate", {"license_id": "L", "features": [{"name": "F"}]}, login["csrf"]
        )
        assert status == 400 and "version" in bad_file["message"] and "seats" in bad_file["message"]
        status, unknown = await post(
            "/api/manage/deactivate", {"license_id": "LIC-NONE"}, login["csrf"]
        )
        assert status == 200 and unknown == {
            **unknown,
            "ok": False,
            "message": "license LIC-NONE is not activated",
        }
        status, synced = await post("/api/manage/sync", {"node": "solo"}, login["csrf"])
        assert (
            status == 200
            and synced["ok"]
            and synced["message"] == "solo is replaying the log to sync with its pair."
        )
        assert synced["actor"] == ADMIN

        status, out = await post("/logout", {}, login["csrf"])
        assert status == 200 and out["user"] is None
        assert (await post("/api/manage/sync", {"node": "solo"}, out["csrf"]))[0] == 401


async def test_the_usage_time_picker_shows_the_seats_held_at_a_moment(site):
    """Usage Details asks /api/usage?at= for the picked moment; Now goes back to live."""
    executable = chromium_or_skip()
    from playwright.async_api import expect

    node = site.start_node("solo")
    await node.wait_registered()
    async with site.client() as product, chromium(executable) as browser:
        grant = FeatureGrant(name="InTouch", type="Server", version="2017", seats=5)
        assert (await product.activate("LIC-AT", [grant])).ok
        page = await browser.new_page(timezone_id="UTC")  # datetime-local is in the page's zone
        await page.goto(node.url + "/usage")
        rows = page.locator("#view tbody tr[data-key]")
        first = await product.acquire("InTouch", "2017", device="HMI-FIRST", user="op")
        await expect(rows).to_have_count(1, timeout=LIVE)
        second = await product.acquire("InTouch", "2017", device="HMI-SECOND", user="op")
        await expect(rows).to_have_count(2, timeout=LIVE)
        for lease in (first, second):
            await lease.stop_renewing()
        held = await node.get("/api/usage")
        since = next(r["since"] for r in held["usage"] if r["lease_id"] == first.lease_id)
        moment = datetime.fromisoformat(since).astimezone(UTC) + timedelta(milliseconds=1)
        await page.fill("#usage-at", moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:23])
        await expect(rows).to_have_count(1)
        await expect(rows).to_contain_text("HMI-FIRST")
        await expect(page.locator("#usage-as-of")).to_contain_text("Held at")
        await page.click("#usage-now")
        await expect(rows).to_have_count(2)
