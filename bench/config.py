"""Where the bench finds the broker and Postgres, and how long each phase runs.

The endpoints come from the same environment variables the nodes read
(``LICENSING_AMQP_URL``, ``LICENSING_PG_DSN``), with the nodes' defaults.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

AMQP_URL = os.environ.get("LICENSING_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
PG_DSN = os.environ.get("LICENSING_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"


@dataclass(frozen=True)
class Plan:
    clients: int = 8  # LicenseClient instances (each its own connection)
    in_flight: int = 8  # concurrent acquire+release sessions per client at saturation
    warmup: float = 3.0  # seconds of load before a measured window
    saturation: float = 10.0  # measured seconds at saturation
    saturation_rounds: int = 2  # alternating echo/system rounds; the best round of each counts
    rate_window: float = 12.0  # measured seconds at each fixed offered rate
    rates: tuple[int, ...] = (200, 1000)  # offered commands/s for the latency runs
    lag_poll: float = 0.010  # seconds between polls of a node's event_log (lag resolution)
    replay_events: int = 100_000
    events_per_message: int = 10
    failover_runs: int = 5
    history_events: int = 1_000_000  # scenario 6; --history-events for another size
    history_events_per_message: int = 100
    cluster_kills: int = 3  # scenario 8: kill -9 of the writer's broker node, restarted each time

    @classmethod
    def quick(cls) -> Plan:
        """A smoke run (about a minute): same code paths, short windows, small log."""
        return cls(
            warmup=1.0,
            saturation=3.0,
            saturation_rounds=1,
            rate_window=3.0,
            replay_events=10_000,
            failover_runs=2,
            history_events=100_000,
            cluster_kills=1,
        )
