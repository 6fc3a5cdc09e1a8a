"""An activation request: what a site sends the vendor so that it can issue an entitlement.

Not signed: it carries only public facts (the site, its License Server IDs, its public
key) and a nonce the entitlement echoes back.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from events import limits

FORMAT = "licensing-activation-request/1"


class ActivationRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["licensing-activation-request/1"] = FORMAT
    site: str = Field(max_length=limits.MAX_NAME)
    server_ids: list[str] = Field(min_length=1, max_length=16)
    site_public_key: str | None = Field(default=None, max_length=64)  # None: the site has no key
    nonce: str = Field(min_length=1, max_length=limits.MAX_NAME)
    made_at: AwareDatetime


def activation_targets(servers: dict[str, Any]) -> list[str]:
    """The License Server IDs an entitlement must be bound to, from a node's ``/api/servers``.

    The pair's two when there is a pair, else every server of the site (as the writer binds).
    """
    pair = servers.get("pair")
    listed = [s for s in servers.get("servers") or [] if s.get("server_id")]
    if pair:
        by_node = {s["node"]: s["server_id"] for s in listed}
        return [by_node[n] for n in (pair["primary"], pair["backup"]) if n in by_node]
    return [s["server_id"] for s in sorted(listed, key=lambda s: s["node"])]


def make(
    site: str, server_ids: list[str], site_public_key: str | None, now: datetime
) -> ActivationRequest:
    return ActivationRequest(
        site=site,
        server_ids=server_ids,
        site_public_key=site_public_key,
        nonce=secrets.token_hex(16),
        made_at=now,
    )
