"""The envelope of a signed document: vendor entitlements and site receipts."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from events.storable import Text

MAX_SIGNED_PAYLOAD = 200_000  # base64 of an entitlement's terms: room for 256 features


class SignedDocument(BaseModel):
    """A signed document as it travels: ``payload`` is base64 of the exact bytes that were signed.

    The bytes are the canonical JSON of the terms (sorted keys), carried opaquely, so no
    re-formatting of the surrounding JSON can change what was signed. ``format`` says what
    the terms are (``licensing-entitlement/1``, ``licensing-receipt/1``); ``key_id`` names
    the signing key (services.trust.keys.key_id). See docs/protocol.md, "Entitlements".
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Text = Field(min_length=1, max_length=64)
    key_id: Text = Field(min_length=1, max_length=64)
    payload: Text = Field(min_length=1, max_length=MAX_SIGNED_PAYLOAD)
    signature: Text = Field(min_length=1, max_length=128)
