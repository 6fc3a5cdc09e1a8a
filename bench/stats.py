"""Percentiles and summaries (nearest-rank, no interpolation)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def summary_ms(seconds: Sequence[float]) -> dict:
    """p50/p90/p99/max in milliseconds of latencies given in seconds."""
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        **{
            k: (round(v, 2) if v is not None else None)
            for k, v in (
                ("p50", percentile(ms, 50)),
                ("p90", percentile(ms, 90)),
                ("p99", percentile(ms, 99)),
                ("max", max(ms) if ms else None),
            )
        },
    }


def median(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
