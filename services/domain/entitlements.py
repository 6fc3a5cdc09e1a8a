"""Whether a site may activate an entitlement now: the writer asks before deciding, every
projector asks again in the fence (invariant 12). Pure: state, document, time and trust in.

The trust (the vendor public keys) is data handed in by the node: to the writer in the
decision's ``Context``, to the projector (``Projector(store, trust)``), which passes it to
``evolve.apply``. Nothing here reads the environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from events.commands import FeatureGrant
from events.signed import SignedDocument
from events.vocabulary import ErrorCode
from services.domain.model import State
from services.trust import entitlement
from services.trust.keys import Trust


@dataclass(frozen=True, slots=True)
class Problem:
    code: ErrorCode
    message: str


def activation_targets(state: State) -> list[str]:
    """A license activates on the pair when there is one, else on every server of the site."""
    nodes = list(state.pair) if state.pair else sorted(state.servers.keys())
    return [state.servers[n].server_id for n in nodes if n in state.servers]


def problem(
    state: State, document: SignedDocument | None, at: datetime, trust: Trust
) -> Problem | None:
    """None if ``document`` may be activated on this site at ``at``; else the refusal."""
    if document is None:
        if not trust.required:
            return None
        return Problem(
            ErrorCode.BAD_SIGNATURE,
            "this site activates only vendor-signed entitlements (LICENSING_VENDOR_KEYS "
            "is set); send the entitlement file the vendor issued for this pair",
        )
    if not trust.required:
        return Problem(
            ErrorCode.BAD_SIGNATURE,
            "this site has no vendor keys to check the entitlement's signature against; "
            "set LICENSING_VENDOR_KEYS to the vendor's public keys on every node",
        )
    try:
        terms = entitlement.verify(document, trust)
    except entitlement.BadSignature as exc:
        return Problem(ErrorCode.BAD_SIGNATURE, str(exc))
    current = activation_targets(state)
    if sorted(terms.server_ids) != sorted(current):
        return Problem(
            ErrorCode.WRONG_SERVER,
            f"entitlement {terms.license_id} is bound to License Server IDs "
            f"{', '.join(terms.server_ids)}, but this site's are "
            f"{', '.join(current) or 'none'}; send a new activation request "
            f"(licensing activation-request) to the vendor",
        )
    if not terms.valid_at(at):
        return Problem(
            ErrorCode.EXPIRED,
            f"entitlement {terms.license_id} can be activated from {terms.window()}, "
            f"not at {at.isoformat()}; ask the vendor to re-issue it",
        )
    before = state.activations.get(terms.license_id)
    serial_before = state.serials.get(terms.serial)
    if terms.license_id in state.licenses or before is not None or serial_before is not None:
        return Problem(
            ErrorCode.ALREADY_ACTIVATED,
            f"license {terms.license_id} (serial {terms.serial}) was activated on this "
            f"site before; a re-activation needs an entitlement the vendor re-issues "
            f"with a new serial and license id (send it the deactivation receipt)",
        )
    return None


def matches(
    document: SignedDocument,
    license_id: str,
    features: list[FeatureGrant],
    server_ids: list[str] | None = None,
) -> bool:
    """Do these fields say exactly what the (already verified) entitlement says?"""
    terms = entitlement.read(document)
    return (
        terms.license_id == license_id
        and terms.features == features
        and (server_ids is None or sorted(terms.server_ids) == sorted(server_ids))
    )


def serial_of(document: SignedDocument | None) -> str | None:
    return None if document is None else entitlement.read(document).serial
