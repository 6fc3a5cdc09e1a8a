"""Commands that need authority are signed, with their issue time: a replay ages out.

Headers: ``x-authority`` (``admin`` or ``node``), ``x-signed-at`` (integer Unix milliseconds)
and ``x-signature``, the hex HMAC-SHA256 with the admin key or the first node key over
``authority \\n command_id \\n actor \\n signed_at \\n body``. The actor is inside the signature,
so the name recorded in the event is the one that was authorized; the authority is inside it,
so a node signature cannot pass for an admin one.

The writer accepts a signature only within ``window`` of its own clock (either way: clocks
skew). The window stays well under the writer's answer memory, so a replay inside it finds
the first answer and one outside it is refused: never a fresh decision. Pure: ``now`` comes in.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from events.base import Command
from events.commands import RegisterServer, Release
from events.status import ReportPairSync, ReportServerStatus
from events.vocabulary import Authority

AUTHORITY_HEADER = "x-authority"
SIGNED_AT_HEADER = "x-signed-at"
HEADER = "x-signature"
DEFAULT_WINDOW = timedelta(seconds=300)


class Verdict(StrEnum):
    GOOD = "good"
    MISSING = "missing"  # no signature, or one of an authority the command does not accept
    FORGED = "forged"  # the signature does not match any key of its authority
    OUT_OF_WINDOW = "out_of_window"  # a true signature, but too old or too far ahead


@dataclass(frozen=True)
class Keys:
    """What the writer verifies with. No key for an authority: the site is open for it."""

    admin: str | None = None
    node: tuple[str, ...] = ()  # every node key's secret, the signing one first
    window: timedelta = DEFAULT_WINDOW

    def of(self, authority: Authority) -> tuple[str, ...]:
        if authority == Authority.ADMIN:
            return (self.admin,) if self.admin else ()
        return self.node


_NODE_COMMANDS = (RegisterServer, ReportServerStatus, ReportPairSync)


def needed_authority(command: Command) -> tuple[Authority, ...]:
    """Who may send it, the usual signer first (issue 9, rows 9 and 10); empty: anyone."""
    if command.ADMIN or (isinstance(command, Release) and command.reason is not None):
        return (Authority.ADMIN,)
    if isinstance(command, _NODE_COMMANDS):
        return (Authority.NODE, Authority.ADMIN)
    return ()


def sign(
    key: str,
    authority: Authority,
    command_id: str,
    actor: str | None,
    signed_at: int,
    body: bytes,
) -> str:
    mac = hmac.new(key.encode(), digestmod=hashlib.sha256)
    head = f"{authority}\n{command_id}\n{actor or ''}\n{signed_at}\n"
    mac.update(head.encode())
    mac.update(body)
    return mac.hexdigest()


def unix_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def headers(
    key: str,
    authority: Authority,
    command_id: str,
    actor: str | None,
    body: bytes,
    now: datetime,
) -> dict[str, str]:
    signed_at = unix_ms(now)
    return {
        AUTHORITY_HEADER: str(authority),
        SIGNED_AT_HEADER: str(signed_at),
        HEADER: sign(key, authority, command_id, actor, signed_at, body),
    }


def check(
    keys: Keys,
    accepted: tuple[Authority, ...],
    message_headers: Mapping[str, Any],
    command_id: str,
    actor: str | None,
    body: bytes,
    now: datetime,
) -> Verdict:
    """Whether the headers prove one of the ``accepted`` authorities, now."""
    claimed = message_headers.get(AUTHORITY_HEADER)
    signature = message_headers.get(HEADER)
    signed_at = _millis(message_headers.get(SIGNED_AT_HEADER))
    if claimed not in accepted or not isinstance(signature, str) or signed_at is None:
        return Verdict.MISSING
    authority = Authority(claimed)
    if not any(
        hmac.compare_digest(sign(key, authority, command_id, actor, signed_at, body), signature)
        for key in keys.of(authority)
    ):
        return Verdict.FORGED
    if abs(unix_ms(now) - signed_at) > keys.window.total_seconds() * 1000:
        return Verdict.OUT_OF_WINDOW
    return Verdict.GOOD


def _millis(value: object) -> int | None:
    # AMQP headers may carry the number as text or as an integer; a bool is neither.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, (str, bytes)) and value.isdigit() and len(value) <= 16:
        return int(value)
    return None
