"""The watchdog's Prometheus metrics, read from the watchdog when Prometheus scrapes.

The pair status is a labelled gauge, one series per seed word with 1 for the current one,
so a dashboard shows the word and an alert needs no string matching. It is what this
watchdog concludes: the activities and sync it got accepted, else what the freshest
heartbeat says the log holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from events.vocabulary import Activity, PairStatus
from services.domain.tiles import pair_status_of

if TYPE_CHECKING:
    from services.watchdog.service import Watchdog


def registry_for(watchdog: Watchdog) -> CollectorRegistry:
    """Its own registry, never prometheus-client's global default."""
    registry = CollectorRegistry()
    registry.register(WatchdogState(watchdog))
    return registry


class WatchdogState(Collector):
    def __init__(self, watchdog: Watchdog) -> None:
        self.watchdog = watchdog

    def collect(self) -> Iterator[Metric]:
        watchdog = self.watchdog
        status = pair_status(watchdog)
        pair = GaugeMetricFamily(
            "licensing_pair_status",
            "1 for the pair's status word as the watchdog sees it, 0 for the others "
            "(all 0: no pair).",
            labels=["status"],
        )
        for word in PairStatus:
            pair.add_metric([word.value], 1 if word == status else 0)
        yield pair
        yield CounterMetricFamily(
            "licensing_watchdog_heartbeats_seen",
            "Heartbeats the watchdog heard and read.",
            value=watchdog.heartbeats_seen,
        )
        rejected = CounterMetricFamily(
            "licensing_watchdog_heartbeats_rejected",
            "Heartbeats the watchdog dropped, by why.",
            labels=["reason"],
        )
        rejected.add_metric(["unsigned"], watchdog.unverified_heartbeats)
        rejected.add_metric(["malformed"], watchdog.malformed_heartbeats)
        yield rejected


def pair_status(watchdog: Watchdog) -> PairStatus | None:
    observer = watchdog.observer

    def activity(node: str) -> Activity | None:
        return watchdog.reported.get(node) or observer.logged_activity(node)

    synced = watchdog.reported_sync[0] if watchdog.reported_sync else True
    return pair_status_of(observer.pair(), activity, synced)
