"""Events about who writes, and about commands the writer refused."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from events.base import Decision, Event


class WriterPromoted(Event):
    """A node claims the writer role for ``epoch``; the first claim of an epoch in the log wins."""

    type: Literal["WriterPromoted"] = "WriterPromoted"
    epoch: int = Field(ge=1)
    node: str
    server_id: str
    at: datetime


class CommandRefused(Decision):
    """A well-formed command the rules refused; logged so a retry gets the same answer."""

    type: Literal["CommandRefused"] = "CommandRefused"
    command_type: str
    code: str
    message: str
