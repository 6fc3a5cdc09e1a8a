"""Base classes for everything that crosses the wire: commands and events.

Every message has a stable ``type`` string (never renamed) and a
``schema_version``. Older versions are upcast dict-to-dict (see
``events.upcasting``) before pydantic validates them.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from events import limits
from events.storable import Instant, Int64, Text


class Message(BaseModel):
    """A frozen, strictly shaped wire message."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    SCHEMA_VERSION: ClassVar[int] = 1
    schema_version: Int64 = 1


class Command(Message):
    """A request to change state. Its id travels as the AMQP ``message_id``.

    Its text is stripped of surrounding whitespace: what a person typed."""

    model_config = ConfigDict(str_strip_whitespace=True)

    ADMIN: ClassVar[bool] = False


class Event(Message):
    """A fact in the log, read back exactly as the writer wrote it.

    Its text is not stripped: the writer makes events from stripped commands and from names
    it checked, and every node validates every event of the log again on replay, where
    stripping each string cost a quarter of the validation. A forged event with padded text
    stays padded (and fails where a padded name is unknown)."""


class Decision(Event):
    """An event decided by the writer: fenced by ``epoch``, deduplicated by ``command_id``."""

    command_id: Text = Field(min_length=1, max_length=limits.MAX_NAME)
    epoch: Int64 = Field(ge=1)
    at: Instant
    actor: Text | None = Field(default=None, max_length=limits.MAX_NAME)
