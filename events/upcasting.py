"""Upcasters: turn an old schema version of a message into the next, dict to dict.

Register one function per (type, from_version). ``upcast`` chains them until the
dict reaches the version the current model declares. Never rename a ``type``
string; add a new version and an upcaster instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def upcaster(type_name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    def register(fn: Upcaster) -> Upcaster:
        _UPCASTERS[(type_name, from_version)] = fn
        return fn

    return register


def upcast(data: dict[str, Any], current_version: int) -> dict[str, Any]:
    version = int(data.get("schema_version", 1))
    while version < current_version:
        step = _UPCASTERS.get((data["type"], version))
        if step is None:
            raise ValueError(f"no upcaster for {data['type']} v{version}")
        data = {**step(dict(data)), "schema_version": version + 1}
        version += 1
    return data
