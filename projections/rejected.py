"""A stream message the projector refused to read: its record in the log (invariant 10).

A message that fails verification is not the site's, so nothing of it is trusted: not
even its bytes are kept, only their SHA-256 and length. Every node records the same
row for it (offset, idx 0, type ``?``, the verdict) and advances its digest with the
same record, so the pair stays in sync whatever anyone publishes.

``licensing reseed`` cannot re-publish the original bytes, so it publishes the record
itself, signed, as ``{"rejected": {...}}``; a projector reading that records the same
verdict again, which keeps offsets, counts and digests of a re-seeded log unchanged.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import orjson

from events.vocabulary import IgnoredReason

TYPE = "?"  # the event_log type of a rejected message: what it claimed to be is not known
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Rejected:
    sha256: str
    length: int
    reason: IgnoredReason = IgnoredReason.BAD_SIGNATURE

    @classmethod
    def of(cls, body: bytes) -> Rejected:
        return cls(hashlib.sha256(body).hexdigest(), len(body))

    @classmethod
    def from_record(cls, record: object) -> Rejected:
        """The record back from an event_log row or a re-seeded message; ValueError if it is
        not one."""
        if not isinstance(record, dict) or set(record) != {"sha256", "length", "reason"}:
            raise ValueError(f"not a record of a rejected message: {record!r}")
        sha, length, reason = record["sha256"], record["length"], record["reason"]
        if not isinstance(sha, str) or not _HEX64.match(sha):
            raise ValueError("a rejected message's sha256 is 64 hex digits")
        if type(length) is not int or length < 0:
            raise ValueError("a rejected message's length is a count of bytes")
        return cls(sha, length, IgnoredReason(reason))

    def record(self) -> dict:
        return {"sha256": self.sha256, "length": self.length, "reason": str(self.reason)}

    def canonical(self) -> bytes:
        """What the digest chains for it, beside the verdict (as ``canonical(event)`` for an
        event)."""
        return orjson.dumps({"type": TYPE, **self.record()}, option=orjson.OPT_SORT_KEYS)

    def reseeded_body(self) -> bytes:
        return orjson.dumps({"rejected": self.record()})
