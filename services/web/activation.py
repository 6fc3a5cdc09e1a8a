"""The Activate page's server side: the command an upload becomes, refusals explained, and the
activation request to download.

An uploaded or pasted file is either the vendor's signed entitlement, which travels whole
(the writer and every node verify it), or an unsigned ``{"license_id", "features"}`` that
only a site without vendor keys accepts. Reading the terms here is only to fill the
command's fields and never to trust them: that is the writer's check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from events.commands import ActivateLicense
from events.vocabulary import ErrorCode
from services.config.settings import Settings
from services.trust import entitlement, request, signed
from services.views import ServersView
from services.web.responses import json_response

UNSIGNED_SHAPE = (
    'an unsigned entitlement is JSON: {"license_id": ..., "features": [{"name", "type", '
    '"version", "seats", "expires_at"?}, ...]}'
)


class NotAnEntitlement(ValueError):
    """The upload is neither a signed entitlement nor an unsigned one; the message says why."""


def command_of(body: dict[str, Any]) -> ActivateLicense:
    """The page sends ``{"entitlement": <the file's text or its JSON>}`` for an upload or a
    paste, or ``{"license_id", "features"}`` from the unsigned form."""
    if "entitlement" not in body:
        return _unsigned(body)
    data = body["entitlement"]
    if isinstance(data, str):
        try:
            data = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise NotAnEntitlement(
                "this is not an entitlement file: it is not JSON; paste the whole text block "
                "the vendor sent, from { to }"
            ) from None
    if not isinstance(data, dict):
        raise NotAnEntitlement("this is not an entitlement file: expected a JSON object")
    if "signature" not in data:
        return _unsigned(data)
    try:
        document = signed.loads(orjson.dumps(data))
        terms = entitlement.read(document)
    except signed.Unreadable as exc:
        raise NotAnEntitlement(f"this is not an entitlement file: {exc}") from None
    return ActivateLicense(
        license_id=terms.license_id, features=terms.features, entitlement=document
    )


def _unsigned(data: dict[str, Any]) -> ActivateLicense:
    if not isinstance(data.get("features"), list):
        raise NotAnEntitlement(UNSIGNED_SHAPE)
    license_id = data.get("license_id")
    if not isinstance(license_id, str) or not license_id.strip():
        raise NotAnEntitlement("the entitlement's license_id is required")
    return ActivateLicense(license_id=license_id.strip(), features=data["features"])


@dataclass(frozen=True, slots=True)
class Refusal:
    title: str
    advice: str


# What the administrator reads above the servers' own message (which names the IDs and dates).
REFUSALS: dict[str, Refusal] = {
    ErrorCode.BAD_SIGNATURE: Refusal(
        "The vendor's signature does not check out",
        "The file is not signed by a vendor key this site trusts, or it was changed after the "
        "vendor signed it. Do not edit an entitlement: ask the vendor for a fresh copy (or, "
        "if the vendor rotated its key, add the new public key to LICENSING_VENDOR_KEYS).",
    ),
    ErrorCode.WRONG_SERVER: Refusal(
        "Issued for other License Servers",
        "The entitlement is bound to other License Server IDs than this pair's (both are named "
        "below). Download a new activation request from this page and send it to the vendor.",
    ),
    ErrorCode.EXPIRED: Refusal(
        "Outside its activation window",
        "An entitlement can be activated only within the window the vendor set. Ask the vendor "
        "to re-issue it; check this server's clock if the dates below look wrong.",
    ),
    ErrorCode.ALREADY_ACTIVATED: Refusal(
        "Activated on this site before",
        "Its serial or license id was activated here already (a deactivated license stays "
        "used). To activate it again, send the vendor the deactivation receipt and ask for a "
        "re-issued entitlement with a new serial and license id.",
    ),
}


def explain(code: str | None) -> dict[str, str]:
    """The ``title`` and ``advice`` an activation refusal is shown with; empty if none fits."""
    refusal = REFUSALS.get(code or "")
    return {"title": refusal.title, "advice": refusal.advice} if refusal else {}


class ActivationRequests:
    """``GET /api/activation-request``: the file ``licensing activation-request`` writes.

    The pair's License Server IDs come from this node's own view of the site (what
    ``/api/servers`` shows, so the list is exactly what the page shows).
    """

    def __init__(self, settings: Settings, servers: Callable[[], ServersView]) -> None:
        self.settings = settings
        self.servers = servers

    async def download(self, http_request: web.Request) -> web.Response:
        servers = self.servers().model_dump(mode="json")
        server_ids = request.activation_targets(servers)
        if not server_ids:
            return json_response(
                {"ok": False, "message": "no License Server is registered yet; start the nodes"},
                409,
            )
        made = request.make(
            servers.get("site") or self.settings.site,
            server_ids,
            self.settings.site_public_key(),
            datetime.now(UTC),
        )
        response = json_response(made.model_dump(mode="json"))
        name = f"activation-request-{made.site}.json"
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
