"""What the watchdog concludes from heartbeats (pure: time comes in as arguments).

- a heartbeat says what the node is doing: running, or recovering while it replays;
- a last heartbeat with status Stopped (a graceful stop) means stopped at once;
- silence longer than ``detect_seconds`` means the node is gone; whether its API
  still answers tells a lost broker connection (stopped) from a dead process or
  machine (disconnected), which the caller finds out;
- the pair is not synced when both are caught up at equal offsets with different
  digests, or when one is more than ``max_lag_events`` behind for ``max_lag_seconds``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from events.vocabulary import Activity, ServerStatus
from services.views import Heartbeat

# A node that stopped heart-beating: the caller asks its API to tell stopped from disconnected.
SILENT: Literal["silent"] = "silent"
Observed = Activity | Literal["silent"]


@dataclass
class Seen:
    beat: Heartbeat
    at_monotonic: float
    at: datetime  # the node's own time of the heartbeat


@dataclass
class Observer:
    detect_seconds: float = 3.0
    max_lag_events: int = 1000
    max_lag_seconds: float = 10.0
    seen: dict[str, Seen] = field(default_factory=dict)
    started_monotonic: float = 0.0
    lagging_since: float | None = None
    digest_mismatch_since: float | None = None

    def heard(self, beat: Heartbeat | dict[str, Any], now: float) -> None:
        """Raises ValueError (pydantic's ValidationError is one) for a malformed heartbeat."""
        heartbeat = Heartbeat.model_validate(beat)
        if heartbeat.at is None or heartbeat.at.utcoffset() is None:
            # A naive time could not even be compared with the others' (a TypeError later on).
            raise ValueError("a heartbeat without its time (at) and its UTC offset")
        self.seen[heartbeat.node] = Seen(heartbeat, now, heartbeat.at)

    def _newest(self) -> Heartbeat | None:
        newest = max(self.seen.values(), key=lambda s: s.at_monotonic, default=None)
        return newest.beat if newest else None

    def known_nodes(self) -> set[str]:
        nodes = set(self.seen)
        for s in self.seen.values():
            nodes |= {entry.node for entry in s.beat.servers}
        return nodes

    def api_url(self, node: str) -> str | None:
        for s in self.seen.values():
            for entry in s.beat.servers:
                if entry.node == node and entry.api_url:
                    return entry.api_url
        return None

    def logged_activity(self, node: str) -> Activity | None:
        """What the log (as the freshest heartbeat tells it) says the node is doing."""
        newest = self._newest()
        for entry in newest.servers if newest else []:
            if entry.node == node:
                return entry.activity
        return None

    def pair(self) -> tuple[str, str] | None:
        newest = self._newest()
        pair = newest.pair if newest else None
        return (pair.primary, pair.backup) if pair else None

    def activity(self, node: str, now: float) -> Observed | None:
        """running / recovering / stopped, or SILENT (the caller tells stopped from disconnected),
        or None while the watchdog has not watched long enough to say."""
        s = self.seen.get(node)
        if s is not None and s.beat.status == ServerStatus.STOPPED:
            return Activity.STOPPED
        if s is None or now - s.at_monotonic > self.detect_seconds:
            if self.logged_activity(node) == Activity.STOPPED:
                return Activity.STOPPED  # stopped on an administrator's order: silence is expected
            return SILENT if now - self.started_monotonic > self.detect_seconds else None
        if s.beat.status == ServerStatus.RECOVERING:
            return Activity.RECOVERING
        return Activity.RUNNING

    def sync(self, now: float) -> tuple[bool, int, float, str] | None:
        """(synced, lag_events, lag_seconds, reason) for the pair, or None if it cannot tell."""
        pair = self.pair()
        if pair is None or any(self.activity(n, now) != Activity.RUNNING for n in pair):
            self.lagging_since = self.digest_mismatch_since = None
            return None
        a, b = (self.seen[n].beat for n in pair)
        lag = abs(a.events - b.events)
        if a.offset == b.offset and a.digest != b.digest:
            # Confirmed on two heartbeats: a digest read between two batches is not proof.
            self.digest_mismatch_since = self.digest_mismatch_since or now
            if now - self.digest_mismatch_since >= 1.0:
                return False, 0, 0.0, f"equal offsets ({a.offset}) with different digests"
            return None
        self.digest_mismatch_since = None
        if lag > self.max_lag_events:
            self.lagging_since = self.lagging_since or now
            behind = now - self.lagging_since
            if behind >= self.max_lag_seconds:
                slow = pair[0] if a.events < b.events else pair[1]
                return False, lag, round(behind, 1), f"{slow} is behind"
            return None
        self.lagging_since = None
        return True, lag, 0.0, ""
