"""What the writer does with a delivery before deciding anything: screen it.

A delivery becomes a command to decide, a reply that refuses it (invalid or
unauthorized: nothing changes, no event), or a dead letter (it cannot be read or
cannot be answered). Pure: no I/O, so every path is unit-tested.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from events import codec
from events.base import Command
from events.commands import Release
from events.limits import MAX_COMMAND_BYTES, MAX_NAME
from events.replies import ErrorCode, Reply
from events.status import Observation
from events.storable import text_problem
from events.vocabulary import Authority
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
    keys: signing.Keys,
    now: datetime,
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
    problem = _authority_problem(command, keys, headers, message_id, actor, body, now)
    if problem:
        return Refused(Reply.failure(message_id, ErrorCode.UNAUTHORIZED, problem))
    if isinstance(command, Observation):
        ahead = command.observed_at - now
        if ahead > keys.window:
            return Refused(
                Reply.failure(
                    message_id,
                    ErrorCode.INVALID,
                    f"observed_at is {ahead} ahead of the writer's clock (at most "
                    f"{keys.window.total_seconds():g} s of clock skew is allowed): "
                    "check the reporter's clock",
                )
            )
    return Accepted(command, message_id, actor)


def _authority_problem(
    command: Command,
    keys: signing.Keys,
    headers: Mapping[str, Any],
    command_id: str,
    actor: str | None,
    body: bytes,
    now: datetime,
) -> str | None:
    needed = signing.needed_authority(command)
    # The first authority a command names decides whether the site is open for it: node
    # commands are open while the site has no node keys, whatever the admin key.
    if not needed or not keys.of(needed[0]):
        return None
    verdict = signing.check(keys, needed, headers, command_id, actor, body, now)
    if verdict == signing.Verdict.GOOD:
        return None
    if verdict == signing.Verdict.OUT_OF_WINDOW:
        return (
            f"{command.type} was signed more than {keys.window.total_seconds():.0f} s away from "
            "the writer's clock: the sender's clock is off, or this is a replay of an old "
            "command; sign it again now"
        )
    if needed[0] == Authority.ADMIN:
        what = "a force-release (Release with a reason)" if isinstance(command, Release) else ""
        return (
            f"{what or command.type} is an administrator's command: sign it with the site's "
            "admin key (set LICENSING_ADMIN_KEY) or use the License Manager after logging in"
        )
    return (
        f"{command.type} comes only from the site's nodes, its watchdog or an administrator: "
        "sign it with a node key (LICENSING_NODE_KEYS) or the admin key"
    )


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
