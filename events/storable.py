"""Field types for what every node must be able to decide and store (invariant 11).

The log is replayed by every node into Postgres, so a value that Postgres or the JSON
codec cannot hold must be refused at the contract, before the writer decides: one such
value in an event stops both nodes at once (issue 9, rows 4 to 6).

- ``Text``: no NUL (Postgres ``text`` and ``jsonb`` cannot hold U+0000) and no lone
  surrogates (not encodable as UTF-8: neither asyncpg nor orjson can write them).
- ``Int64``: fits a Postgres ``bigint`` (and orjson, which stops at 64 bits).
- ``Instant``: has a UTC offset (naive and aware times cannot be compared: a TypeError
  inside decide) and stays within what Python can convert to UTC (asyncpg does, to store
  a ``timestamptz``: ``9999-12-31T23:00-05:00`` would overflow).
- ``Finite``: a float that is not NaN or infinite (JSON has no spelling for them).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
# A day inside Python's datetime range, so any offset converts to UTC without overflow.
EARLIEST = datetime.min.replace(tzinfo=UTC) + timedelta(days=1)
LATEST = datetime.max.replace(tzinfo=UTC) - timedelta(days=1)


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or None. Also used for AMQP headers."""
    if "\x00" in value:
        return "must not contain NUL (U+0000)"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must not contain lone surrogates (it is not valid Unicode text)"
    return None


def _storable_text(value: str) -> str:
    problem = text_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _storable_int(value: int) -> int:
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError("must fit in 64 bits (a Postgres bigint)")
    return value


def _storable_instant(value: datetime) -> datetime:
    if not EARLIEST <= value <= LATEST:
        raise ValueError(f"must lie between {EARLIEST.date()} and {LATEST.date()}")
    return value


Text = Annotated[str, AfterValidator(_storable_text)]
# Validators, not Field(ge=, le=): a field's own Field(ge=1) would replace those bounds.
Int64 = Annotated[int, AfterValidator(_storable_int)]
Instant = Annotated[AwareDatetime, AfterValidator(_storable_instant)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
