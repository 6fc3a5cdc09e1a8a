"""Vendor-signed entitlements on real nodes: the offline activation flow from the CLI, every
refusal in words, the receipt, and a forged activation on the stream ignored alike everywhere."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import orjson

from events.commands import Acquire, FeatureGrant, PairServers
from events.licenses import LicenseActivated
from services.trust import entitlement, keys, signed
from tests.support import cli
from tests.support.fake_log import publish_events
from tests.support.waiting import wait_for

FEATURE = "InTouch Dev 60K Tags:2017 (17.0):Server:50"


def licensing(site, api_url: str, *args: str, **env: str):
    # 200 columns: the CLI's own width when piped, the width this file's checks were written at.
    return cli.licensing(site, api_url, *args, columns=200, **env)


def refused(done: subprocess.CompletedProcess, code: str) -> str:
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert f"[{code}]" in done.stderr, done.stderr
    return done.stderr


async def paired_site(site, vendor_public: str, site_key: str):
    env = {"LICENSING_VENDOR_KEYS": vendor_public, "LICENSING_SITE_KEY": site_key}
    primary, backup = site.start_node("primary", **env), site.start_node("backup", **env)
    await primary.wait_registered()
    await backup.wait_registered()
    async with site.client(actor="admin") as admin:
        assert (await admin.send(PairServers(primary="primary", backup="backup"))).ok
    await wait_for(lambda: _paired(primary), 10, "the pair on the primary's API")
    return primary, backup


async def _paired(node):
    servers = await node.get("/api/servers")
    return servers if servers["pair"] else None


def rewrite(path: Path, change) -> Path:
    """The file with its signed payload decoded, changed and re-encoded: the signature kept."""
    document = json.loads(path.read_text())
    terms = orjson.loads(base64.b64decode(document["payload"]))
    change(terms)
    payload = orjson.dumps(terms, option=orjson.OPT_SORT_KEYS)
    document["payload"] = base64.b64encode(payload).decode()
    out = path.with_name(f"changed-{path.name}")
    out.write_text(json.dumps(document))
    return out


async def test_offline_activation_refusals_and_a_receipt_the_vendor_verifies(site, tmp_path):
    vendor_key = tmp_path / "vendor.key"
    made = await licensing(site, "", "vendor", "keygen", "--out", str(vendor_key))
    assert made.returncode == 0, made.stderr
    vendor_public = (tmp_path / "vendor.key.pub").read_text().strip()
    rotated_key = tmp_path / "vendor-2027.key"  # the vendor's next key, trusted next to the old
    made = await licensing(site, "", "vendor", "keygen", "--out", str(rotated_key))
    assert made.returncode == 0, made.stderr
    rotated_public = (tmp_path / "vendor-2027.key.pub").read_text().strip()
    site_key = keys.new_private_key()
    primary, backup = await paired_site(site, f"{vendor_public},{rotated_public}", site_key)
    health = await primary.health()
    assert health["entitlements"].startswith("vendor-signed only")
    assert health["site_public_key"] == keys.public_text(site_key)
    api = primary.url

    req = tmp_path / "request.json"
    asked = await licensing(site, api, "activation-request", "--out", str(req))
    assert asked.returncode == 0, asked.stderr
    request = json.loads(req.read_text())
    ids = [(await primary.health())["server_id"], (await backup.health())["server_id"]]
    assert request["server_ids"] == ids and request["site_public_key"] == keys.public_text(site_key)

    async def issue(
        out: str,
        *extra: str,
        request_file: Path = req,
        serial: str = "SN-1",
        license_id: str = "LIC-1",
        key: Path = vendor_key,
    ) -> Path:
        done = await licensing(
            site,
            api,
            "vendor",
            "issue",
            "--request",
            str(request_file),
            "--key",
            str(key),
            "--license-id",
            license_id,
            "--customer",
            "Plant 7",
            "--serial",
            serial,
            "--feature",
            FEATURE,
            *extra,
            "--out",
            str(tmp_path / out),
        )
        assert done.returncode == 0, done.stderr
        return tmp_path / out

    good = await issue("entitlement.json")
    more_seats = rewrite(good, lambda t: t["features"][0].update(seats=1_000_000))
    assert "changed after the vendor signed it" in refused(
        await licensing(site, api, "activate", str(more_seats)), "bad_signature"
    )
    added = rewrite(good, lambda t: t["features"].append({**t["features"][0], "name": "Historian"}))
    refused(await licensing(site, api, "activate", str(added)), "bad_signature")

    elsewhere = tmp_path / "other-request.json"
    elsewhere.write_text(json.dumps({**request, "server_ids": ["OTHER_1", "OTHER_2"]}))
    wrong = await issue("wrong.json", request_file=elsewhere, serial="SN-W", license_id="LIC-W")
    message = refused(await licensing(site, api, "activate", str(wrong)), "wrong_server")
    assert "OTHER_1, OTHER_2" in message and f"{ids[0]}, {ids[1]}" in message

    short = await issue("short.json", "--valid-days", "0.00002", serial="SN-S", license_id="LIC-S")
    await asyncio.sleep(2.0)
    refused(await licensing(site, api, "activate", str(short)), "expired")

    activated = await licensing(site, api, "activate", str(good))
    assert activated.returncode == 0, activated.stderr
    assert "already_activated" in refused(
        await licensing(site, api, "activate", str(good)), "already_activated"
    )
    by_new_key = await issue("lic-2.json", serial="SN-2", license_id="LIC-2", key=rotated_key)
    assert (await licensing(site, api, "activate", str(by_new_key))).returncode == 0
    async with site.client() as client:
        lease = await client.acquire("InTouch Dev 60K Tags", "2017 (17.0)", device="hmi", user="op")
        await client.release(lease.lease_id, lease_secret=lease.lease_secret)

    receipt = tmp_path / "receipt.json"
    returned = await licensing(site, api, "deactivate", "LIC-1", "--receipt", str(receipt))
    assert returned.returncode == 0, returned.stderr
    verified = await licensing(
        site, api, "vendor", "verify-receipt", str(receipt), "--request", str(req)
    )
    assert verified.returncode == 0, verified.stderr
    assert "Receipt valid: license LIC-1 (serial SN-1)" in verified.stdout
    changed = rewrite(receipt, lambda t: t.update(license_id="LIC-2"))
    rejected = await licensing(
        site, api, "vendor", "verify-receipt", str(changed), "--request", str(req)
    )
    assert rejected.returncode == 1 and "NOT valid" in rejected.stderr
    # Deactivated is not forgotten: the same file cannot bring the seats back.
    refused(await licensing(site, api, "activate", str(good)), "already_activated")


async def test_a_forged_activation_on_the_stream_is_ignored_by_every_node_alike(site, tmp_path):
    vendor, impostor = keys.new_private_key(), keys.new_private_key()
    primary, backup = await paired_site(site, keys.public_text(vendor), keys.new_private_key())
    h = await primary.health()
    servers = await primary.get("/api/servers")
    ids = [s["server_id"] for s in servers["servers"]]
    now = datetime.now(UTC)
    terms = entitlement.Terms(
        license_id="LIC-FORGED",
        serial="SN-F",
        customer="nobody",
        site=site.name,
        server_ids=ids,
        features=[FeatureGrant(name="InTouch", version="2017", seats=1_000_000)],
        not_before=now.replace(year=now.year - 1),
        not_after=now.replace(year=now.year + 1),
        nonce="n",
        issued_at=now,
    )
    # Valid-looking: the trusted vendor's key id, a real Ed25519 signature, by the wrong key.
    by_impostor = entitlement.issue(terms, impostor)
    forged_document = by_impostor.model_copy(
        update={"key_id": keys.key_id(keys.public_text(vendor))}
    )
    assert signed.terms_of(forged_document, entitlement.Terms) == terms
    forged = LicenseActivated(
        command_id="forged-1",
        epoch=h["epoch"],
        at=now,
        license_id="LIC-FORGED",
        features=terms.features,
        server_ids=ids,
        entitlement=forged_document,
    )
    await publish_events(site.name, [forged])

    async def settled():
        a, b = await primary.health(), await backup.health()
        return (
            a["offset"] == b["offset"]
            and a["offset"] == a["applied_offset"]
            and b["offset"] == b["applied_offset"]
            and a["events_applied"] > h["events_applied"]
            and (a, b)
        )

    a, b = await wait_for(settled, 10, "both nodes past the forged event")
    assert a["digest"] == b["digest"]
    for node in ("primary", "backup"):
        async with site.database(node) as db:
            verdict = await db.fetchval(
                "SELECT ignored FROM event_log WHERE type = 'LicenseActivated'"
            )
            licenses = await db.fetch("SELECT license_id FROM licenses")
        assert verdict == "bad_entitlement"
        assert licenses == []
    async with site.client() as client:
        denied = await client.send(
            Acquire(feature="InTouch", version="2017", device="hmi", user="op")
        )
        assert denied.error.reason == "unknown_feature"


async def test_without_vendor_keys_health_says_unsigned_is_accepted(site, tmp_path):
    node = site.start_node("solo")
    await node.wait_registered()
    health = await node.health()
    assert health["entitlements"] == (
        "unsigned accepted (no LICENSING_VENDOR_KEYS): demo and test mode"
    )
    api = node.url
    unsigned = await licensing(site, api, "activate", "--license-id", "U1", "--feature", "X:1:5")
    assert unsigned.returncode == 0, unsigned.stderr
    req = tmp_path / "request.json"
    assert (await licensing(site, api, "activation-request", "--out", str(req))).returncode == 0
    vendor_key = tmp_path / "vendor.key"
    made = await licensing(site, api, "vendor", "keygen", "--out", str(vendor_key))
    assert made.returncode == 0, made.stderr
    issued = await licensing(
        site,
        api,
        "vendor",
        "issue",
        "--request",
        str(req),
        "--key",
        str(vendor_key),
        "--license-id",
        "S1",
        "--customer",
        "c",
        "--serial",
        "SN",
        "--feature",
        FEATURE,
        "--out",
        str(tmp_path / "s1.json"),
    )
    assert issued.returncode == 0, issued.stderr
    message = refused(
        await licensing(site, api, "activate", str(tmp_path / "s1.json")), "bad_signature"
    )
    assert "no vendor keys" in message
