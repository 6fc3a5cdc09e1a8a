"""Seats in use against seats owned over a period, per feature: the capacity chart's data.

Read from the node's ``usage_history`` (one row per change of a feature's seats) and
``denials`` tables, the same ones ``/api/history`` and ``/api/denials`` serve, but
folded into at most ``buckets`` time buckets on the server, so a week of a busy
plant is a few kilobytes: per bucket the peak (so no peak is ever hidden), the low
and the value at its end, and the denials in it.

Bounded however many rows the period holds: fewer buckets when there are many
features, so features times buckets stays under ``MAX_POINTS``; denials of unlicensed
features beyond the ``DENIED_OTHERS`` most denied are summed under ``OTHERS``; and the
SQL never answers more than ``MAX_POINTS`` rows of either kind (``truncated`` says so).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from projections.queries import CapacityRows, ReadModels

PERIODS = {
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(days=7),
    "all": None,
}
MAX_POINTS = 5_000  # bucket rows, and as many denial rows, in one answer
DENIED_OTHERS = 20  # unlicensed features named in the chart; the rest are summed
OTHERS = "(other features)"
_NICE = [
    1,
    2,
    5,
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    10800,
    21600,
    43200,
    86400,
    2 * 86400,
    7 * 86400,
    14 * 86400,
    30 * 86400,
]


def bucket_seconds(span: timedelta, buckets: int) -> int:
    wanted = max(span.total_seconds() / max(buckets, 1), 1.0)
    # Past the widest nice width, whole days: never more buckets than asked for.
    return next((n for n in _NICE if n >= wanted), math.ceil(wanted / 86400) * 86400)


async def capacity(
    reads: ReadModels, period: str = "day", buckets: int = 120, now: datetime | None = None
) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}")
    span = PERIODS[period]
    if span is None:
        first, last = await reads.usage_span()
        start = first or now - timedelta(hours=1)
        end = max(now, last) if last else now
    else:
        start, end = now - span, now
    licensed = await reads.feature_count()
    series = licensed + DENIED_OTHERS + 1
    # One bucket more than asked for can appear (the aligned start), hence the - 1.
    buckets = max(1, min(buckets, MAX_POINTS // series - 1))
    step = bucket_seconds(end - start, buckets)
    start = start - timedelta(seconds=start.timestamp() % step)  # aligned buckets read better
    rows = await reads.capacity(
        start,
        end,
        timedelta(seconds=step),
        max_rows=MAX_POINTS,
        denied_features=DENIED_OTHERS,
        others=OTHERS,
    )
    answer = fold(rows, period, start, end, step, now)
    answer["truncated"] = MAX_POINTS in (len(rows.buckets), len(rows.denied))
    return answer


def fold(
    read: CapacityRows, period: str, start: datetime, end: datetime, step: int, now: datetime
) -> dict[str, Any]:
    """The chart's data from the rows read: one entry per feature, its points and denials."""
    before, rows, denied, current = read.before, read.buckets, read.denied, read.current
    features: dict[tuple[str, str], dict[str, Any]] = {}

    def entry(name: str, version: str) -> dict[str, Any]:
        key = (name, version)
        if key not in features:
            features[key] = {
                "feature": name,
                "version": version,
                "type": "",
                "total_now": 0,
                "in_use_now": 0,
                "reserved_now": 0,
                "start": None,
                "points": [],
                "denials": [],
                "peak": 0,
                "peak_at": None,
                "most_total": 0,
                "denied_times": 0,
                "denied_seats": 0,
                "denied_reasons": {},
            }
        return features[key]

    for r in current:
        e = entry(r["name"], r["version"])
        e.update(
            type=r["type"], total_now=r["total"], in_use_now=r["in_use"], reserved_now=r["reserved"]
        )
        e["most_total"] = max(e["most_total"], r["total"])
    for r in before:
        e = entry(r["feature"], r["version"])
        e["start"] = {"in_use": r["in_use"], "total": r["total"]}
        e["peak"] = max(e["peak"], r["in_use"])
        e["peak_at"] = e["peak_at"] or start.isoformat()
        e["most_total"] = max(e["most_total"], r["total"])
    for r in rows:
        e = entry(r["feature"], r["version"])
        e["points"].append([r["t"].isoformat(), r["peak"], r["low"], r["last"], r["total"]])
        if r["peak"] > e["peak"] or e["peak_at"] is None:
            e["peak"], e["peak_at"] = r["peak"], r["t"].isoformat()
        e["most_total"] = max(e["most_total"], r["most"])
    for r in denied:
        e = entry(r["feature"], r["version"])
        t = r["t"].isoformat()
        if not e["denials"] or e["denials"][-1][0] != t:
            e["denials"].append([t, 0, 0, {}])
        mark = e["denials"][-1]  # [bucket, times, seats, {reason: times}]
        mark[1] += r["times"]
        mark[2] += r["seats"]
        mark[3][r["reason"]] = r["times"]
        e["denied_times"] += r["times"]
        e["denied_seats"] += r["seats"]
        e["denied_reasons"][r["reason"]] = e["denied_reasons"].get(r["reason"], 0) + r["times"]
    for e in (
        features.values()
    ):  # a feature whose seats did not change in the period: flat at its last value
        if e["start"] is None and not e["points"]:
            e["start"] = {"in_use": e["in_use_now"], "total": e["total_now"]}
    return {
        "period": period,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "bucket_seconds": step,
        "now": now.isoformat(),
        "features": [features[k] for k in sorted(features)],
    }
