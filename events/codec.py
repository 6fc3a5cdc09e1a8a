"""orjson codec for commands, events and replies.

A stream message carries a list of events (``{"events": [...]}``): the writer
groups the events of several commands in one message to save round trips.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from events.base import Command, Event, Message
from events.commands import COMMAND_TYPES, AnyCommand
from events.event_types import EVENT_TYPES, AnyEvent
from events.replies import Reply
from events.storable import problem_message
from events.upcasting import upcast

_commands = TypeAdapter(AnyCommand)
_events = TypeAdapter(AnyEvent)
_event_list = TypeAdapter(list[AnyEvent])
_SORTED = orjson.OPT_SORT_KEYS


class Unparseable(ValueError):
    """Not JSON, not an object, or no known ``type``: goes to the dead-letter queue."""


def dumps(message: Message) -> bytes:
    return orjson.dumps(message.model_dump(mode="json"))


def canonical(event: Event) -> bytes:
    """Stable bytes of an event, for digests: sorted keys, JSON types."""
    # ``model_dump(mode="json")`` is this call with its defaults, less its own overhead.
    return orjson.dumps(event.__pydantic_serializer__.to_python(event, mode="json"), option=_SORTED)


def _object(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Unparseable(f"not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise Unparseable("not a JSON object with a string 'type'")
    return data


def loads_command(body: bytes) -> Command:
    """Parse a command. Raises Unparseable, or pydantic's ValidationError for a bad shape."""
    data = _object(body)
    model = COMMAND_TYPES.get(data["type"])
    if model is None:
        raise Unparseable(f"unknown command type {data['type']!r}")
    return _commands.validate_python(_upcast(data, model.SCHEMA_VERSION))


def _upcast(data: dict[str, Any], current_version: int) -> dict[str, Any]:
    """Upcast, reporting a version that cannot be read (e.g. 0, null) as Unparseable."""
    try:
        return upcast(data, current_version)
    except ValidationError:
        raise
    except (ValueError, TypeError) as exc:
        raise Unparseable(
            f"cannot read {data.get('type')!r} schema_version {data.get('schema_version')!r}: {exc}"
        ) from None


def event_from_dict(data: dict[str, Any]) -> Event:
    model = EVENT_TYPES.get(data.get("type"))  # type: ignore[arg-type]
    if model is None:
        raise Unparseable(f"unknown event type {data.get('type')!r}")
    return _events.validate_python(_upcast(data, model.SCHEMA_VERSION))


def events_from_dicts(items: list[Any]) -> list[Event]:
    """``[event_from_dict(item) for item in items]``, in one pydantic-core call when it may.

    A replay validates every event of a stream message; one call for the whole list saves
    the per-event round trips. It is taken only where ``event_from_dict`` would not upcast
    (every item says an integer ``schema_version`` at least its model's); anything else, a
    failure included, goes item by item, so the events, and the error that halts a
    projector, are exactly ``event_from_dict``'s.
    """
    try:
        events: list[Event] = _event_list.validate_python(items)
    except Exception:
        return [event_from_dict(item) for item in items]
    for item, event in zip(items, events, strict=True):
        version = item.get("schema_version", 1)
        if type(version) is not int or version < event.SCHEMA_VERSION:
            return [event_from_dict(item) for item in items]
    return events


def dumps_events(events: list[Event]) -> bytes:
    return orjson.dumps({"events": [e.model_dump(mode="json") for e in events]})


def loads_events(body: bytes) -> list[Event]:
    """Parse a stream message. Raises Unparseable, or pydantic's ValidationError for a bad shape."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Unparseable(f"not JSON: {exc}") from None
    items = data.get("events") if isinstance(data, dict) else None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise Unparseable("not a JSON object with an 'events' list of objects")
    return [event_from_dict(item) for item in items]


def dumps_reply(reply: Reply) -> bytes:
    return orjson.dumps(reply.model_dump(mode="json", exclude_none=True))


def loads_reply(body: bytes) -> Reply:
    return Reply.model_validate(orjson.loads(body))


def describe_validation_error(exc: ValidationError) -> str:
    """One line an operator can read: field path and what is wrong."""
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"] if p not in COMMAND_TYPES) or "body"
        parts.append(f"{where}: {problem_message(err)}")
    return "; ".join(parts)
