"""What the watchdog observes, turned into facts in the log so tiles are projections too."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import Field

from events import limits
from events.base import Command, Decision
from events.vocabulary import Activity

# What a watchdog may report: every Activity but "uninstalled", which is never reported
# but follows from ServerUninstalled. The tile shows the seed's words for it (see
# services.domain.tiles): "recovering" shows as Running, with the pair Recovering.
# Spelled as plain words, not members, so a refusal lists them as plain words; the
# check below keeps them the vocabulary's.
ReportedActivity = Literal["running", "recovering", "stopped", "disconnected"]
if set(get_args(ReportedActivity)) != set(Activity) - {Activity.UNINSTALLED}:
    raise AssertionError("ReportedActivity must be events.vocabulary.Activity without UNINSTALLED")


class ReportServerStatus(Command):
    """A watchdog's observation. ``observed_at`` is the time of the heartbeat it rests on."""

    type: Literal["ReportServerStatus"] = "ReportServerStatus"
    node: str = Field(min_length=1, max_length=limits.MAX_NAME)
    activity: ReportedActivity
    reason: str = Field(default="", max_length=limits.MAX_REASON)
    observed_at: datetime


class ReportPairSync(Command):
    """Whether the pair holds the same log: equal digests at equal offsets, and a bounded lag."""

    type: Literal["ReportPairSync"] = "ReportPairSync"
    synced: bool
    lag_events: int = Field(default=0, ge=0)
    lag_seconds: float = Field(default=0.0, ge=0)
    reason: str = Field(default="", max_length=limits.MAX_REASON)
    observed_at: datetime


class ServerStatusChanged(Decision):
    type: Literal["ServerStatusChanged"] = "ServerStatusChanged"
    node: str
    server_id: str
    activity: ReportedActivity
    reason: str = ""
    observed_at: datetime


class PairSyncChanged(Decision):
    type: Literal["PairSyncChanged"] = "PairSyncChanged"
    synced: bool
    lag_events: int = 0
    lag_seconds: float = 0.0
    reason: str = ""
    observed_at: datetime
