"""A snapshot of the domain state: ``State`` to bytes and back, pure (invariant 13).

A node stores one every so many events so that it starts from it and replays only the
log's tail. The encoding is tagged JSON (orjson): a value that JSON cannot say by itself
(a tuple, a map, a time, bytes, a status word, one of the model's values) is a small
list whose first item names what it is, so decoding rebuilds exactly the values that
``evolve`` made, and ``decode(encode(state)) == state``.

``SNAPSHOT_VERSION`` says which shape of ``State`` a snapshot holds. Bump it whenever a
model value gains, loses or changes a field: a node ignores a snapshot of another version
and replays its whole local log instead, so an old snapshot is never read as a new shape.
(Remembered answers were rendered bytes before they were ``outcomes.Remembered``; both
decode, and the state answers with either, so that change kept the version.)
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson
from immutables import Map

from events.vocabulary import Activity
from services.domain.model import (
    Activation,
    Feature,
    Grant,
    Lease,
    License,
    PairSync,
    Reservation,
    Server,
    State,
)
from services.domain.outcomes import Remembered

SNAPSHOT_VERSION = 1

# The model's values by name; their fields are written in __slots__ order.
_VALUES: dict[str, type] = {
    cls.__name__: cls
    for cls in (Activation, Feature, Grant, Lease, License, PairSync, Reservation, Server, State)
}
_ENUMS: dict[str, type[StrEnum]] = {cls.__name__: cls for cls in (Activity,)}

# Tags: the first item of a tagged list. A plain list never occurs in the state, so every
# list in a snapshot is tagged.
_TUPLE, _MAP, _TIME, _BYTES, _WORD, _VALUE = "t", "m", "d", "b", "w", "v"
_REMEMBERED = "r"  # of plain str, int and None only: orjson writes them as they are


class SnapshotUnreadable(ValueError):
    """A snapshot this code cannot read: the node replays its log in full instead."""


def encode(state: State) -> bytes:
    return orjson.dumps(_out(state))


def decode(body: bytes) -> State:
    try:
        state = _in(orjson.loads(body))
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise SnapshotUnreadable(f"snapshot does not decode: {exc}") from None
    if not isinstance(state, State):
        raise SnapshotUnreadable(f"snapshot holds a {type(state).__name__}, not a State")
    return state


def _out(value: Any) -> Any:
    # Exact types first: bool and the StrEnums are subclasses of int and str.
    kind = type(value)
    if value is None or kind in (str, int, float, bool):
        return value
    if isinstance(value, StrEnum):
        return [_WORD, kind.__name__, value.value]
    if kind is Remembered:
        return [_REMEMBERED, list(value)]
    if kind is tuple:
        return [_TUPLE, [_out(v) for v in value]]
    if kind is Map:
        # The answer memory is most of a state: its str keys and answers are written inline.
        return [
            _MAP,
            [
                [
                    k if type(k) is str else _out(k),
                    [_REMEMBERED, list(v)] if type(v) is Remembered else _out(v),
                ]
                for k, v in value.items()
            ],
        ]
    if kind is datetime:
        return [_TIME, value.isoformat()]
    if kind is bytes:
        return [_BYTES, value.decode()]
    if kind.__name__ in _VALUES:
        return [_VALUE, kind.__name__, [_out(getattr(value, s)) for s in kind.__slots__]]
    raise TypeError(f"a snapshot cannot hold a {kind.__name__}")


def _in(value: Any) -> Any:
    if type(value) is not list:
        return value
    tag = value[0]
    if tag == _REMEMBERED:
        return Remembered(value[1])
    if tag == _TUPLE:
        return tuple(_in(v) for v in value[1])
    if tag == _MAP:
        return Map((_in(k), _in(v)) for k, v in value[1])
    if tag == _TIME:
        return datetime.fromisoformat(value[1])
    if tag == _BYTES:
        return value[1].encode()
    if tag == _WORD:
        return _ENUMS[value[1]](value[2])
    if tag == _VALUE:
        cls = _VALUES[value[1]]
        slots = cls.__slots__  # type: ignore[attr-defined]
        if len(slots) != len(value[2]):
            raise ValueError(
                f"{cls.__name__} has {len(slots)} fields, the snapshot {len(value[2])}"
            )
        new: Any = object.__new__(cls)
        for name, field_value in zip(slots, value[2], strict=True):
            object.__setattr__(new, name, _in(field_value))
        return new
    raise ValueError(f"unknown snapshot tag {tag!r}")
