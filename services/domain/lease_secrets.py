"""Lease secrets: the proof that a product holds a lease, which the public lease id is not.

The secret is derived from the acquire's command id, so whichever writer of the site answers a
retry (also after a failover) answers it with the same secret, and no writer keeps it. Only
its SHA-256 enters the log (``LeaseGranted.secret_hash``). With a node key the derivation is
an HMAC no product can repeat; an open site (no node keys) derives it from the command id
alone, which proves only that the sender knew that id: weak, documented as such.
"""

from __future__ import annotations

import hashlib
import hmac

_LABEL = b"lease-secret\n"


def secret_for(key: str | None, command_id: str) -> str:
    material = _LABEL + command_id.encode()
    if key is None:
        return hashlib.sha256(material).hexdigest()
    return hmac.new(key.encode(), material, hashlib.sha256).hexdigest()


def hash_of(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def proves(secret: str | None, secret_hash: str | None) -> bool:
    """Whether ``secret`` opens a lease granted with ``secret_hash``; a lease from before
    secrets (None) needs no proof, so old leases keep working."""
    if secret_hash is None:
        return True
    return secret is not None and hmac.compare_digest(hash_of(secret), secret_hash)
