"""A node's Prometheus metrics: what ``/metrics`` serves.

Most of it is read from the node's state when Prometheus scrapes (seats, lag, epoch, offsets,
dead letters): the projector and the stream consumer already keep it, so the hot paths pay
nothing. Only what no state remembers is counted as it happens, in one call the writer makes
per answered command (``answered``): commands by type and outcome, the acquire latency from
delivery to reply, and denials by feature and reason.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from events.commands import Acquire, Command
from events.replies import ErrorCode, Wire

if TYPE_CHECKING:
    from services.node.node import Node

OK = "ok"  # the outcome label of a successful reply; a failed one is labelled with its code
UNREAD = "unread"  # the type label of a command refused before it could be read (invalid)
# Milliseconds: a lone acquire answers in a few, a group commit under load in tens, a
# failover's first ones in seconds.
LATENCY_BUCKETS_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)


class NodeMetrics:
    """One registry per node process, never prometheus-client's global default."""

    def __init__(self, node: Node) -> None:
        self.registry = CollectorRegistry()
        self.commands = Counter(
            "licensing_commands",
            "Commands this node answered as the writer, by type and outcome (ok or error code).",
            ["type", "outcome"],
            registry=self.registry,
        )
        self.acquire_latency = Histogram(
            "licensing_acquire_latency_ms",
            "Acquire commands: milliseconds from delivery to the writer to its reply.",
            buckets=LATENCY_BUCKETS_MS,
            registry=self.registry,
        )
        self.denials = Counter(
            "licensing_denials",
            "Acquires this node denied as the writer, by feature, version and reason.",
            ["feature", "version", "reason"],
            registry=self.registry,
        )
        self.registry.register(NodeState(node))

    def answered(self, command: Command | None, reply: Wire, started: float) -> None:
        """The writer answered ``command`` (None: unreadable) with ``reply`` (as it travels)
        delivered at ``started`` (time.monotonic())."""
        error = reply.get("error")
        outcome = OK if reply["ok"] or error is None else error["code"]
        self.commands.labels(command.type if command else UNREAD, outcome).inc()
        if not isinstance(command, Acquire):
            return
        self.acquire_latency.observe((time.monotonic() - started) * 1000)
        if error is not None and error["code"] == ErrorCode.DENIED:
            reason = error.get("reason") or ""
            self.denials.labels(command.feature, command.version, reason).inc()


class NodeState(Collector):
    """Gauges and counters read from the node at scrape time."""

    def __init__(self, node: Node) -> None:
        self.node = node

    def collect(self) -> Iterator[Metric]:
        node = self.node
        projector, consumer, writer = node.projector, node.consumer, node.writer
        if projector is None or consumer is None or writer is None:
            return  # not opened yet: nothing to say
        state, checkpoint = projector.state, projector.checkpoint
        in_use = GaugeMetricFamily(
            "licensing_seats_in_use", "Leased seats per feature.", labels=["feature", "version"]
        )
        total = GaugeMetricFamily(
            "licensing_seats_licensed",
            "Seats of every license grant per feature, expired ones included.",
            labels=["feature", "version"],
        )
        for feature in state.features.values():
            in_use.add_metric([feature.name, feature.version], feature.in_use)
            total.add_metric([feature.name, feature.version], feature.total)
        yield in_use
        yield total
        yield _gauge(
            "licensing_stream_offset",
            "The stream offset of this node's last committed batch (its checkpoint).",
            checkpoint.offset,
        )
        yield CounterMetricFamily(
            "licensing_projector_events_applied",
            "Events this node's projector has applied (back to zero on a reset or sync).",
            value=checkpoint.events_applied,
        )
        behind = 0
        if consumer.target_offset is not None:
            behind = max(0, consumer.target_offset - checkpoint.offset)
        yield _gauge(
            "licensing_projector_lag_offsets",
            "Stream offsets (messages) between the checkpoint and the stream's end as this "
            "node last learnt it (when it subscribed).",
            behind,
        )
        seconds = 0.0
        if not consumer.caught_up and consumer.subscribed_at is not None:
            seconds = time.monotonic() - consumer.subscribed_at
        yield _gauge(
            "licensing_projector_lag_seconds",
            "Seconds this node has been catching up to the stream's end (0 once caught up).",
            seconds,
        )
        yield _gauge(
            "licensing_writer_epoch",
            "The site's writer epoch as this node's log has it.",
            state.epoch,
        )
        yield _gauge("licensing_is_writer", "1 if this node is the writer.", int(writer.is_writer))
        if node.dead_letters is not None:
            yield _gauge(
                "licensing_dead_letters",
                "Messages in the site's dead-letter queue (as health reports them).",
                node.dead_letters,
            )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
