"""An entitlement: what the vendor sold one site, signed with the vendor's key.

Pure: issuing and checking are functions of their arguments. The checks a site makes
against its own state (binding, window, "activated before") are in
``services.domain.entitlements``; here is only "is this the vendor's, unchanged".
"""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from events import limits
from events.commands import FeatureGrant
from events.signed import SignedDocument
from services.trust import keys, signed

FORMAT = "licensing-entitlement/1"


class Terms(BaseModel):
    """The signed content of an entitlement (docs/protocol.md, "Entitlements")."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    license_id: str = Field(min_length=1, max_length=limits.MAX_NAME)
    serial: str = Field(min_length=1, max_length=limits.MAX_NAME)
    customer: str = Field(min_length=1, max_length=limits.MAX_NAME)
    site: str = Field(max_length=limits.MAX_NAME)
    server_ids: list[str] = Field(min_length=1, max_length=16)  # the pair, or the lone server
    features: list[FeatureGrant] = Field(min_length=1, max_length=limits.MAX_FEATURES_PER_LICENSE)
    # The activation window: a site may activate it from not_before up to (not at) not_after.
    not_before: AwareDatetime
    not_after: AwareDatetime
    nonce: str = Field(max_length=limits.MAX_NAME)  # echoes the activation request's
    issued_at: AwareDatetime

    @model_validator(mode="after")
    def _window_and_features(self) -> Terms:
        if self.not_after <= self.not_before:
            raise ValueError("the activation window ends before it starts")
        keys_ = [(f.name, f.version) for f in self.features]
        if len(keys_) != len(set(keys_)):
            raise ValueError("an entitlement lists the same feature and version twice")
        return self

    def window(self) -> str:
        return f"{self.not_before.isoformat()} to {self.not_after.isoformat()}"

    def valid_at(self, at: datetime) -> bool:
        return self.not_before <= at < self.not_after


class BadSignature(ValueError):
    """Not signed by a key the site trusts, or changed after it was signed."""


def issue(terms: Terms, vendor_private_key: str) -> SignedDocument:
    return signed.seal(FORMAT, terms, vendor_private_key)


def read(document: SignedDocument) -> Terms:
    """The terms, unverified (raises signed.Unreadable)."""
    if document.format != FORMAT:
        raise signed.Unreadable(f"format {document.format!r} is not an entitlement ({FORMAT})")
    return signed.terms_of(document, Terms)


def verify(document: SignedDocument, trust: keys.Trust) -> Terms:
    """The terms, if a trusted vendor key signed exactly these bytes; else BadSignature."""
    try:
        terms = read(document)
    except signed.Unreadable as exc:
        raise BadSignature(f"{exc}; ask the vendor for a fresh copy of the file") from None
    public = trust.public_key(document.key_id)
    if public is None:
        trusted = ", ".join(kid for kid, _ in trust.keys) or "none"
        raise BadSignature(
            f"entitlement {terms.license_id} is signed with key {document.key_id}, which this site "
            f"does not trust (trusted: {trusted}); add the vendor's public key to "
            f"LICENSING_VENDOR_KEYS or ask the vendor to re-issue it with a current key"
        )
    if not signed.is_signed_by(document, public):
        raise BadSignature(
            f"the signature of entitlement {terms.license_id} does not match its contents: "
            f"the file was changed after the vendor signed it; ask the vendor for a fresh copy"
        )
    return terms
