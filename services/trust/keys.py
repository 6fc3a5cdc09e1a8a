"""Ed25519 keys as text: base64 of the raw 32 bytes, one line, paste-able into an env file.

A key id is derived from the public key (``k-`` + 16 hex digits of its SHA-256), so a
configured key and the id an entitlement names can never disagree.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)


class BadKey(ValueError):
    """Text that is not a base64 Ed25519 key."""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str, what: str = "value") -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise BadKey(f"{what} is not base64") from None


def new_private_key() -> str:
    return private_text(Ed25519PrivateKey.generate())


def private_text(key: Ed25519PrivateKey) -> str:
    return b64(key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))


def load_private(text: str) -> Ed25519PrivateKey:
    raw = unb64(text, "private key")
    if len(raw) != 32:
        raise BadKey("an Ed25519 private key is 32 bytes (base64, 44 characters)")
    return Ed25519PrivateKey.from_private_bytes(raw)


def public_text(private: str) -> str:
    """The public key (base64) of a private key (base64)."""
    return b64(load_private(private).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def key_id(public: str) -> str:
    return "k-" + hashlib.sha256(unb64(public, "public key")).hexdigest()[:16]


def sign(private: str, data: bytes) -> str:
    return b64(load_private(private).sign(data))


def verify(public: str, data: bytes, signature: str) -> bool:
    try:
        raw = unb64(public, "public key")
        sig = unb64(signature, "signature")
        Ed25519PublicKey.from_public_bytes(raw).verify(sig, data)
    except (BadKey, InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True, slots=True)
class Trust:
    """The vendor public keys a site trusts, by key id. No keys: unsigned activations are accepted.

    A value, not a setting: the node reads ``LICENSING_VENDOR_KEYS`` and hands this to the
    domain, which never reads the environment.
    """

    keys: tuple[tuple[str, str], ...] = ()  # (key id, public key base64), sorted by id

    @classmethod
    def of(cls, *public_keys: str) -> Trust:
        for k in public_keys:
            if len(unb64(k, "public key")) != 32:
                raise BadKey("an Ed25519 public key is 32 bytes (base64, 44 characters)")
        return cls(tuple(sorted((key_id(k), k.strip()) for k in public_keys)))

    @classmethod
    def from_setting(cls, text: str) -> Trust:
        """``LICENSING_VENDOR_KEYS``: public keys separated by commas or whitespace."""
        return cls.of(*(part for part in text.replace(",", " ").split() if part))

    @property
    def required(self) -> bool:
        return bool(self.keys)

    def public_key(self, kid: str) -> str | None:
        return dict(self.keys).get(kid)

    def describe(self) -> str:
        if not self.keys:
            return "unsigned accepted (no LICENSING_VENDOR_KEYS): demo and test mode"
        return f"vendor-signed only (keys {', '.join(kid for kid, _ in self.keys)})"
