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

``Text`` and ``Instant`` are pydantic-core constraints, checked in Rust: every projector
validates every event of the log with them, and Python validators there cost a replay about
an eighth of its validation (bench/README.md, the replay path). ``Text``'s pattern rejects
NUL; a lone surrogate fails pydantic-core's own UTF-8 conversion, which the pattern forces.
A field must not give its own ``pattern`` (it would replace the NUL check) nor its own time
bounds. ``Int64`` stays a Python validator: a field's own ``Field(ge=1)`` would replace
a constraint's lower bound (and with it the field's own) but not a validator's.
``problem_message`` turns the constraints' errors back into these words for people.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
# A day inside Python's datetime range, so any offset converts to UTC without overflow.
EARLIEST = datetime.min.replace(tzinfo=UTC) + timedelta(days=1)
LATEST = datetime.max.replace(tzinfo=UTC) - timedelta(days=1)


NUL_PROBLEM = "must not contain NUL (U+0000)"
SURROGATE_PROBLEM = "must not contain lone surrogates (it is not valid Unicode text)"


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or None. Also used for AMQP headers."""
    if "\x00" in value:
        return NUL_PROBLEM
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return SURROGATE_PROBLEM
    return None


def _storable_int(value: int) -> int:
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError("must fit in 64 bits (a Postgres bigint)")
    return value


NO_NUL = r"^[^\x00]*$"  # Rust's regex: ``$`` is the end of the text
_INSTANT_RANGE = f"must lie between {EARLIEST.date()} and {LATEST.date()}"
# How an error's context names the bounds (pydantic's JSON form of a UTC time).
_BOUND_TEXT = {bound: bound.isoformat().replace("+00:00", "Z") for bound in (EARLIEST, LATEST)}
# pydantic-core's error for a constraint above -> what text_problem and the range say.
_PROBLEMS = {
    "string_pattern_mismatch": lambda error: (
        NUL_PROBLEM if error.get("ctx", {}).get("pattern") == NO_NUL else None
    ),
    "string_unicode": lambda error: SURROGATE_PROBLEM,
    "greater_than_equal": lambda error: (
        _INSTANT_RANGE if error.get("ctx", {}).get("ge") == _BOUND_TEXT[EARLIEST] else None
    ),
    "less_than_equal": lambda error: (
        _INSTANT_RANGE if error.get("ctx", {}).get("le") == _BOUND_TEXT[LATEST] else None
    ),
}


def problem_message(error: Any) -> str:
    """One pydantic error's message, in this module's words where a constraint here failed."""
    known = _PROBLEMS.get(error.get("type"))
    ours = known(error) if known is not None else None
    return ours or str(error.get("msg", "invalid")).removeprefix("Value error, ")


Text = Annotated[str, StringConstraints(pattern=NO_NUL)]
# A validator, not Field(ge=, le=): a field's own Field(ge=1) would replace those bounds.
Int64 = Annotated[int, AfterValidator(_storable_int)]
Instant = Annotated[AwareDatetime, Field(ge=EARLIEST, le=LATEST)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
