"""What the writer does with a delivery before deciding anything: screen it.

A delivery becomes a command to decide, a reply that refuses it (invalid or
unauthorized: nothing changes, no event), or a dead letter (it cannot be read or
cannot be answered). Pure: no I/O, so every path is unit-tested.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from events import codec
from events.base import Command
from events.limits import MAX_COMMAND_BYTES, MAX_NAME, SIGNATURE_WINDOW_SECONDS
from events.replies import ErrorCode, Reply
from events.status import Observation
from events.storable import text_problem
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


Screened = Accepted | Refused | DeadLetter


def screen(
    body: bytes,
    message_id: str | None,
    reply_to: str | None,
    headers: Mapping[str, Any] | None,
    admin_key: str | None,
    *,
    now: datetime | None = None,
) -> Accepted | Refused | DeadLetter:
    """``now`` is the writer's clock; without it observation times are not checked."""
    if not reply_to:
        return DeadLetter("no reply_to")
    if len(body) > MAX_COMMAND_BYTES:
        return DeadLetter("too large")
    try:
        command = codec.loads_command(body)
    except codec.Unparseable as exc:
        return DeadLetter(str(exc))
    except ValidationError as exc:
        # The reply names the command id only if the id itself is fine: a lone surrogate
        # in it would make the reply unsendable.
        answer_to = message_id if _envelope_problem(message_id, None) is None else None
        return Refused(
            Reply.failure(answer_to, ErrorCode.INVALID, codec.describe_validation_error(exc))
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
    if now is not None and isinstance(command, Observation):
        ahead = command.observed_at - now
        if ahead > timedelta(seconds=SIGNATURE_WINDOW_SECONDS):
            return Refused(
                Reply.failure(
                    message_id,
                    ErrorCode.INVALID,
                    f"observed_at is {ahead} ahead of the writer's clock (at most "
                    f"{SIGNATURE_WINDOW_SECONDS} s of clock skew is allowed): check the "
                    "reporter's clock",
                )
            )
    return Accepted(command, message_id, actor)


def _envelope_problem(command_id: str | None, actor: object) -> str | None:
    if not command_id:
        return "message_id (the command id) is required"
    if not isinstance(command_id, str):
        return "message_id (the command id) must be a string"
    if len(command_id) > MAX_NAME:
        return f"message_id (the command id) is longer than {MAX_NAME} characters"
    if problem := text_problem(command_id):
        return f"message_id (the command id) {problem}"
    if command_id != command_id.strip():
        # Events strip their text: the id in the event would not be the id awaiting it.
        return "message_id (the command id) must not begin or end with whitespace"
    if actor is not None and (not isinstance(actor, str) or len(actor) > MAX_NAME):
        return f"header x-actor must be a string of at most {MAX_NAME} characters"
    if actor is not None and (problem := text_problem(actor)):
        return f"header x-actor {problem}"
    if actor is not None and actor != actor.strip():
        return "header x-actor must not begin or end with whitespace"
    return None
