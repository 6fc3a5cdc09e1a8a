"""What the writer does with a delivery before deciding anything: screen it.

A delivery becomes a command to decide, a reply that refuses it (invalid or
unauthorized: nothing changes, no event), or a dead letter (it cannot be read or
cannot be answered). Pure: no I/O, so every path is unit-tested.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from events import codec
from events.base import Command
from events.limits import MAX_COMMAND_BYTES, MAX_NAME
from events.replies import ErrorCode, Reply
from services.auth import signing


@dataclass(frozen=True)
class Accepted:
    command: Command
    command_id: str
    actor: str | None


@dataclass(frozen=True)
class Refused:
    reply: Reply


@dataclass(frozen=True)
class DeadLetter:
    why: str


def screen(
    body: bytes,
    message_id: str | None,
    reply_to: str | None,
    headers: Mapping[str, Any] | None,
    admin_key: str | None,
) -> Accepted | Refused | DeadLetter:
    if not reply_to:
        return DeadLetter("no reply_to")
    if len(body) > MAX_COMMAND_BYTES:
        return DeadLetter("too large")
    try:
        command = codec.loads_command(body)
    except codec.Unparseable as exc:
        return DeadLetter(str(exc))
    except ValidationError as exc:
        return Refused(
            Reply.failure(message_id, ErrorCode.INVALID, codec.describe_validation_error(exc))
        )
    headers = headers or {}
    actor = headers.get("x-actor")
    problem = _envelope_problem(message_id, actor)
    if problem:
        return Refused(Reply.failure(None, ErrorCode.INVALID, problem))
    assert message_id is not None
    if (
        command.ADMIN
        and admin_key
        and not signing.verify(admin_key, message_id, actor, body, headers.get(signing.HEADER))
    ):
        return Refused(
            Reply.failure(
                message_id,
                ErrorCode.UNAUTHORIZED,
                f"{command.type} is an administrator's command: sign it with the site's admin key "
                f"(set LICENSING_ADMIN_KEY) or use the License Manager after logging in",
            )
        )
    return Accepted(command, message_id, actor)


def _envelope_problem(command_id: str | None, actor: object) -> str | None:
    if not command_id:
        return "message_id (the command id) is required"
    if len(command_id) > MAX_NAME:
        return f"message_id (the command id) is longer than {MAX_NAME} characters"
    if actor is not None and (not isinstance(actor, str) or len(actor) > MAX_NAME):
        return f"header x-actor must be a string of at most {MAX_NAME} characters"
    return None
