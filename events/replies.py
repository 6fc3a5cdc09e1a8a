"""The reply every command gets on its ``reply_to`` queue.

``Reply`` is the contract (docs/protocol.md, the API schema) and what a client parses.
The writer sends thousands a second, so it does not build one per command: it writes the
same JSON from plain dicts (``success``, ``failure``, ``from_answer``, ``dumps``), which
``tests/unit/test_reply_wire.py`` holds byte-equal to ``Reply``'s own serialisation.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict

from events.vocabulary import DenialReason, ErrorCode

__all__ = ["DenialReason", "Error", "ErrorCode", "Reply", "Wire"]

# A reply as the JSON object it travels as: what ``Reply.model_dump(mode="json",
# exclude_none=True)`` gives, so absent fields are missing rather than null.
Wire = dict[str, Any]


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


def success(command_id: str | None, **result: Any) -> Wire:
    """``Reply.success(...)`` as it travels; ``result`` holds JSON values only."""
    wire: Wire = {"ok": True}
    if command_id is not None:
        wire["command_id"] = command_id
    wire["result"] = result
    return wire


def failure(command_id: str | None, code: str, message: str, reason: str | None = None) -> Wire:
    """``Reply.failure(...)`` as it travels."""
    error = {"code": str(code), "message": message}
    if reason is not None:
        error["reason"] = str(reason)
    wire: Wire = {"ok": False}
    if command_id is not None:
        wire["command_id"] = command_id
    wire["error"] = error
    return wire


def from_answer(answer: bytes) -> Wire:
    """A remembered answer (a ``Reply``'s full JSON, nulls included) as it travels."""
    data = orjson.loads(answer)
    wire: Wire = {key: value for key, value in data.items() if value is not None}
    error = wire.get("error")
    if error is not None and error.get("reason") is None:
        error.pop("reason", None)
    return wire


def of(reply: Reply) -> Wire:
    """A ``Reply`` built elsewhere (a rare path) as it travels."""
    return reply.model_dump(mode="json", exclude_none=True)


def with_result(wire: Wire, **more: Any) -> Wire:
    """The same reply with more in its result (a lease secret, a receipt): a new dict, since
    a retry waiting on the same decision shares the first."""
    return {**wire, "result": {**(wire.get("result") or {}), **more}}


def dumps(wire: Wire) -> bytes:
    return orjson.dumps(wire)
