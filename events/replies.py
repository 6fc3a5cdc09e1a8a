"""The reply every command gets on its ``reply_to`` queue."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class ErrorCode:
    """Stable error codes (docs/protocol.md lists them with their meaning)."""

    INVALID = "invalid"              # the command failed validation; nothing changed
    UNAUTHORIZED = "unauthorized"    # an admin command without valid credentials
    DENIED = "denied"                # an acquire the seats do not allow (see ``reason``)
    NOT_FOUND = "not_found"          # unknown license, lease or reservation
    CONFLICT = "conflict"            # e.g. a license id that is already active
    IN_USE = "in_use"                # e.g. deactivating a license whose seats are taken
    NO_SEATS = "no_seats"            # a reservation larger than the free seats
    NOT_WRITER = "not_writer"        # the node lost the writer role; retry (same command id)
    TIMEOUT = "timeout"              # client side: no reply before the deadline
    UNAVAILABLE = "unavailable"      # client side: the broker cannot be reached


class DenialReason:
    UNKNOWN_FEATURE = "unknown_feature"
    EXPIRED = "expired"
    NO_SEATS = "no_seats"
    RESERVED = "reserved"            # free seats exist, but they are reserved for others


class Error(BaseModel):
    model_config = ConfigDict(frozen=True)
    code: str
    message: str
    reason: str | None = None


class Reply(BaseModel):
    model_config = ConfigDict(frozen=True)
    ok: bool
    command_id: str | None = None
    result: dict[str, Any] | None = None
    error: Error | None = None

    @classmethod
    def success(cls, command_id: str | None, **result: Any) -> "Reply":
        return cls(ok=True, command_id=command_id, result=result)

    @classmethod
    def failure(cls, command_id: str | None, code: str, message: str, reason: str | None = None) -> "Reply":
        return cls(ok=False, command_id=command_id, error=Error(code=code, message=message, reason=reason))
