"""How often a client address or a user name may try a password: backing off, then locked.

Pure (the caller passes ``now``), per node process. Each failure of a key (an address or
a user name) doubles the wait before its next attempt: the first failure costs nothing (a
typo), the second ``backoff`` seconds, the third twice that; the ``lock_after``-th
locks the key for ``lock_seconds``. An address gets twice the failures of a user name
before it locks, since several administrators may sit behind one address. An attempt
refused here never reaches scrypt, and one key has at most one attempt in flight, so a
storm of concurrent guesses costs one hash at a time per key, not one per guess. A
successful login clears the user name's failures (not the address's: one valid account
must not reset an address spraying others).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

_MAX_KEYS = 10_000  # entries kept before the settled ones are forgotten: random names cost RAM


@dataclass
class _Record:
    failures: int = 0
    not_before: float = 0.0
    in_flight: bool = False


@dataclass(frozen=True)
class Refusal:
    """Why an attempt is refused now, and when the next one may come."""

    retry_after: float  # seconds
    locked: bool  # locked for minutes, not just backing off
    key_kind: str  # "user" or "address"

    @property
    def retry_after_header(self) -> str:
        return str(max(1, math.ceil(self.retry_after)))


class LoginThrottle:
    def __init__(self, backoff: float, lock_after: int, lock_seconds: float) -> None:
        self.backoff = backoff
        self.lock_after = lock_after
        self.lock_seconds = lock_seconds
        self._keys: dict[tuple[str, str], _Record] = {}

    def begin(self, address: str, user: str, now: float) -> Refusal | None:
        """Claim an attempt for both keys, or say why not. A claim ends with ``end``."""
        keys = (("address", address), ("user", user))
        for key in keys:
            record = self._keys.get(key)
            if record is None:
                continue
            if record.not_before > now:
                locked = record.failures >= self._limit(key[0])
                return Refusal(record.not_before - now, locked, key[0])
            if record.in_flight:
                return Refusal(1.0, False, key[0])
        self._forget_settled(now)
        for key in keys:
            self._keys.setdefault(key, _Record()).in_flight = True
        return None

    def end(self, address: str, user: str, now: float, *, ok: bool) -> None:
        for kind, name in (("address", address), ("user", user)):
            record = self._keys.setdefault((kind, name), _Record())
            record.in_flight = False
            if ok and kind == "user":
                del self._keys[(kind, name)]
            elif not ok:
                record.failures += 1
                record.not_before = now + self._wait(record.failures, self._limit(kind))

    def _limit(self, kind: str) -> int:
        return self.lock_after * 2 if kind == "address" else self.lock_after

    def _wait(self, failures: int, limit: int) -> float:
        if failures >= limit:
            return self.lock_seconds
        return 0.0 if failures < 2 else self.backoff * 2 ** (failures - 2)

    def _forget_settled(self, now: float) -> None:
        if len(self._keys) < _MAX_KEYS:
            return
        # A key whose wait is over and that is not locked is worth little; locks are kept.
        for key, record in list(self._keys.items()):
            if not record.in_flight and record.not_before <= now:
                del self._keys[key]
