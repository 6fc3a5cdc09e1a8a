"""The reply every command gets on its ``reply_to`` queue."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from events.vocabulary import DenialReason, ErrorCode

__all__ = ["DenialReason", "Error", "ErrorCode", "Reply"]


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
    def success(cls, command_id: str | None, **result: Any) -> Reply:
        return cls(ok=True, command_id=command_id, result=result)

    @classmethod
    def failure(
        cls, command_id: str | None, code: str, message: str, reason: str | None = None
    ) -> Reply:
        return cls(
            ok=False, command_id=command_id, error=Error(code=code, message=message, reason=reason)
        )
