"""First run: a demo vendor, so a fresh ``licensing up`` shows real, signed licenses at once.

On a fresh machine (no ``.run/secrets.env`` yet, no ``LICENSING_VENDOR_KEYS`` set) ``up``
makes a demo vendor key in ``.run/demo-vendor.json``, marked demo, and configures the
nodes to trust it. Once the new pair is formed it issues an entitlement for the pair's
License Server IDs with the seed's Figure 14 features and activates it, exactly as a
vendor and an administrator would. A ``.run/`` made before vendor keys existed stays
unsigned: trusting a key changes how its log replays (unsigned activations would be
ignored), so that needs a new site.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from events.commands import ActivateLicense, FeatureGrant
from services.cli.api import ApiUnavailable, get_json
from services.cli.output import note
from services.client import ClientError, LicenseClient
from services.config.settings import Settings
from services.trust import entitlement, keys, request, signed

VENDOR_FILE = "demo-vendor.json"
VENDOR_KEYS = "LICENSING_VENDOR_KEYS"
FIGURE_14 = [  # the seed's License Manager Usage Details (name, type, version, seats)
    ("Historian Enterprise 3M Tags", "Server", "2017 (17.0)", 1000),
    ("Historian Tag Count", "", "2017 (17.0)", 400_000_000),
    ("InTouch Dev 60K Tags", "Server", "2017 (17.0)", 50),
    ("InTouch Dev Tag Count", "", "2017 (17.0)", 1_942_060),
]


def ensure_demo_vendor(run_dir: Path) -> str | None:
    """Trust the demo vendor key (made on a fresh machine); its public key, or None if not used."""
    path = run_dir / VENDOR_FILE
    if os.environ.get(VENDOR_KEYS):
        return None  # a real vendor's keys are configured
    if not path.exists():
        if (run_dir / "secrets.env").exists():
            return None  # a site from before vendor keys: it stays unsigned (see the docstring)
        private = keys.new_private_key()
        public = keys.public_text(private)
        run_dir.mkdir(parents=True, exist_ok=True)
        path.write_bytes(
            orjson.dumps(
                {
                    "demo": True,
                    "note": "a DEMO vendor key made by licensing up: never trust it on a real site",
                    "key_id": keys.key_id(public),
                    "public_key": public,
                    "private_key": private,
                },
                option=orjson.OPT_INDENT_2,
            )
        )
        path.chmod(0o600)
    stored = orjson.loads(path.read_bytes())
    os.environ[VENDOR_KEYS] = stored["public_key"]
    return stored["public_key"]


def demo_terms(made: request.ActivationRequest, now: datetime) -> entitlement.Terms:
    tag = made.nonce[:8].upper()
    features = [FeatureGrant(name=n, type=t, version=v, seats=s) for n, t, v, s in FIGURE_14]
    return entitlement.Terms(
        license_id=f"DEMO-{tag}",
        serial=f"DEMO-SN-{tag}",
        customer="Demo (not for production)",
        site=made.site,
        server_ids=made.server_ids,
        features=features,
        not_before=now - timedelta(minutes=5),
        not_after=now + timedelta(days=1),
        nonce=made.nonce,
        issued_at=now,
    )


async def _servers_with_pair(api_url: str, seconds: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2.0)) as session:
        while True:
            try:
                servers = await get_json(session, api_url, "/api/servers")
                if servers.get("pair") and len(request.activation_targets(servers)) == 2:
                    return servers
            except ApiUnavailable:
                if time.monotonic() > deadline:
                    raise
            if time.monotonic() > deadline:
                raise ApiUnavailable(f"{api_url}/api/servers shows no pair after {seconds:g} s")
            await asyncio.sleep(0.2)


async def activate_demo(settings: Settings, api_url: str, run_dir: Path) -> bool:
    """Issue and activate the demo entitlement for the new pair (if the demo vendor is trusted)."""
    path = run_dir / VENDOR_FILE
    if not path.exists():
        return False
    stored = orjson.loads(path.read_bytes())
    if settings.trust().public_key(stored["key_id"]) is None:
        return False
    try:
        servers = await _servers_with_pair(api_url)
    except ApiUnavailable as exc:
        note(f"No demo license: {exc}")
        return False
    now = datetime.now(UTC)
    made = request.make(
        servers.get("site") or settings.site,
        request.activation_targets(servers),
        settings.site_public_key(),
        now,
    )
    document = entitlement.issue(demo_terms(made, now), stored["private_key"])
    (run_dir / "demo-activation-request.json").write_bytes(
        orjson.dumps(made.model_dump(mode="json"), option=orjson.OPT_INDENT_2)
    )
    (run_dir / "demo-entitlement.json").write_bytes(signed.dumps(document))
    terms = entitlement.read(document)
    command = ActivateLicense(
        license_id=terms.license_id, features=terms.features, entitlement=document
    )
    try:
        async with LicenseClient(settings, actor="licensing-up") as client:
            reply = await client.send(command)
    except ClientError as exc:
        note(f"No demo license: {exc.message}")
        return False
    if not reply.ok:
        note(f"No demo license: {reply.error.message if reply.error else 'refused'}")
        return False
    note(
        f"Activated the DEMO license {terms.license_id} (the seed's Figure 14 features), "
        f"signed by the demo vendor key {document.key_id} in {path}: demo only."
    )
    return True
