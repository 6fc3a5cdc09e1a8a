"""The running digest a node reports with its offset (invariant 6).

It chains every event the node read, with the fence's verdict on it, so two nodes
that read the same log the same way hold the same digest. Offsets are not part of
it: a log re-seeded into a new stream keeps its digest.
"""

from __future__ import annotations

import hashlib


def advance(digest: str, canonical_event: bytes, ignored: str | None) -> str:
    h = hashlib.sha256(digest.encode())
    h.update(canonical_event)
    h.update(b"\x00" + (ignored or "").encode())
    return h.hexdigest()
