"""Seal terms into a SignedDocument and open one again: the one signing scheme of the project.

What is signed is ``format`` + a newline + the canonical JSON of the terms (orjson with
sorted keys). Binding the format into the signed bytes means a receipt can never pass
for an entitlement, even if one key signed both.
"""

from __future__ import annotations

import binascii
from typing import TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from events.signed import SignedDocument
from services.trust import keys

T = TypeVar("T", bound=BaseModel)


class Unreadable(ValueError):
    """The document cannot be decoded into its terms (before any signature question)."""


def canonical(terms: BaseModel) -> bytes:
    return orjson.dumps(terms.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)


def signed_bytes(format: str, payload: bytes) -> bytes:
    return format.encode() + b"\n" + payload


def seal(format: str, terms: BaseModel, private_key: str) -> SignedDocument:
    payload = canonical(terms)
    public = keys.public_text(private_key)
    return SignedDocument(
        format=format,
        key_id=keys.key_id(public),
        payload=keys.b64(payload),
        signature=keys.sign(private_key, signed_bytes(format, payload)),
    )


def terms_of(document: SignedDocument, model: type[T]) -> T:
    """The terms, unverified: for showing a file and for routing a check, never for trusting it."""
    try:
        return model.model_validate(orjson.loads(keys.unb64(document.payload, "payload")))
    except (keys.BadKey, binascii.Error, orjson.JSONDecodeError, ValidationError) as exc:
        raise Unreadable(f"the {document.format} payload cannot be read: {exc}") from None


def is_signed_by(document: SignedDocument, public_key: str) -> bool:
    try:
        payload = keys.unb64(document.payload, "payload")
    except keys.BadKey:
        return False
    return keys.key_id(public_key) == document.key_id and keys.verify(
        public_key, signed_bytes(document.format, payload), document.signature
    )


def dumps(document: SignedDocument) -> bytes:
    """A file's text: indented JSON, paste-able as it is."""
    return orjson.dumps(document.model_dump(mode="json"), option=orjson.OPT_INDENT_2) + b"\n"


def loads(text: bytes | str) -> SignedDocument:
    try:
        return SignedDocument.model_validate(orjson.loads(text))
    except (orjson.JSONDecodeError, ValidationError) as exc:
        raise Unreadable(
            f"not a signed document (JSON with format, key_id, payload, signature): "
            f"{str(exc).splitlines()[0]}"
        ) from None
