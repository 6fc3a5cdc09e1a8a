"""A deactivation receipt: the site's signed word that a license is no longer in use here.

The vendor checks it (``licensing vendor verify-receipt``) against the site public key
of the activation request before it re-issues the license elsewhere.
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from events import limits
from events.signed import SignedDocument
from services.trust import keys, signed

FORMAT = "licensing-receipt/1"


class Terms(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    site: str = Field(max_length=limits.MAX_NAME)
    license_id: str = Field(min_length=1, max_length=limits.MAX_NAME)
    serial: str | None = Field(default=None, max_length=limits.MAX_NAME)  # None: it was unsigned
    server_ids: list[str]
    deactivated_at: AwareDatetime  # the LicenseDeactivated event's time
    log_offset: int  # where the deactivation is in the site's log
    command_id: str = Field(max_length=limits.MAX_NAME)


class BadReceipt(ValueError):
    """Not signed with the expected site key, or changed after signing."""


def sign(terms: Terms, site_private_key: str) -> SignedDocument:
    return signed.seal(FORMAT, terms, site_private_key)


def verify(document: SignedDocument, site_public_key: str) -> Terms:
    if document.format != FORMAT:
        raise BadReceipt(f"format {document.format!r} is not a receipt ({FORMAT})")
    try:
        terms = signed.terms_of(document, Terms)
    except signed.Unreadable as exc:
        raise BadReceipt(str(exc)) from None
    if document.key_id != keys.key_id(site_public_key):
        raise BadReceipt(
            f"the receipt is signed with key {document.key_id}, not with this site's "
            f"key {keys.key_id(site_public_key)} (from its activation request)"
        )
    if not signed.is_signed_by(document, site_public_key):
        raise BadReceipt(
            "the receipt's signature does not match its contents: it was changed "
            "after the site signed it"
        )
    return terms
