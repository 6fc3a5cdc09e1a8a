"""What the watchdog observes, turned into facts in the log so tiles are projections too."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field

from events import limits
from events.base import Command, Decision
from events.storable import Finite, Instant, Int64, Text
from events.vocabulary import Activity

# What a watchdog may report: every Activity but "uninstalled", which is never reported
# but follows from ServerUninstalled. The tile shows the seed's words for it (see
# services.domain.tiles): "recovering" shows as Running, with the pair Recovering.
# Spelled as plain words, not members, so a refusal lists them as plain words; the
# check below keeps them the vocabulary's.
ReportedActivity = Literal["running", "recovering", "stopped", "disconnected"]
if set(get_args(ReportedActivity)) != set(Activity) - {Activity.UNINSTALLED}:
    raise AssertionError("ReportedActivity must be events.vocabulary.Activity without UNINSTALLED")


class Observation(Command):
    """A watchdog's report, dated by the heartbeat it rests on.

    The writer refuses one dated far ahead of its own clock (services.writer.intake): a report
    from the future would outrank every real observation until that time came.
    """

    observed_at: Instant


class ReportServerStatus(Observation):
    """A watchdog's observation. ``observed_at`` is the time of the heartbeat it rests on."""

    type: Literal["ReportServerStatus"] = "ReportServerStatus"
    node: Text = Field(min_length=1, max_length=limits.MAX_NAME)
    activity: ReportedActivity
    reason: Text = Field(default="", max_length=limits.MAX_REASON)


class ReportPairSync(Observation):
    """Whether the pair holds the same log: equal digests at equal offsets, and a bounded lag."""

    type: Literal["ReportPairSync"] = "ReportPairSync"
    synced: bool
    lag_events: Int64 = Field(default=0, ge=0)
    lag_seconds: Finite = Field(default=0.0, ge=0)
    reason: Text = Field(default="", max_length=limits.MAX_REASON)


class ServerStatusChanged(Decision):
    type: Literal["ServerStatusChanged"] = "ServerStatusChanged"
    node: Text
    server_id: Text
    activity: ReportedActivity
    reason: Text = ""
    observed_at: Instant


class PairSyncChanged(Decision):
    type: Literal["PairSyncChanged"] = "PairSyncChanged"
    synced: bool
    lag_events: Int64 = 0
    lag_seconds: Finite = 0.0
    reason: Text = ""
    observed_at: Instant
