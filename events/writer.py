"""Events about who writes, and about commands the writer refused."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from events.base import Decision, Event
from events.storable import Instant, Int64, Text


class WriterPromoted(Event):
    """A node claims the writer role for ``epoch``; the first claim of an epoch in the log wins."""

    type: Literal["WriterPromoted"] = "WriterPromoted"
    epoch: Int64 = Field(ge=1)
    node: Text
    server_id: Text
    at: Instant


class CommandRefused(Decision):
    """A well-formed command the rules refused; logged so a retry gets the same answer."""

    type: Literal["CommandRefused"] = "CommandRefused"
    command_type: Text
    code: Text
    message: Text
