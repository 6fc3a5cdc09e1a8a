"""The capacity chart folds a period into at most about ``buckets`` intervals of a readable
width.
"""

from __future__ import annotations

from datetime import timedelta

from services.web.capacity import bucket_seconds


def test_periods_get_readable_interval_widths():
    assert bucket_seconds(timedelta(hours=1), 120) == 30
    assert bucket_seconds(timedelta(days=1), 120) == 900
    assert bucket_seconds(timedelta(days=7), 120) == 7200
    assert bucket_seconds(timedelta(seconds=10), 120) == 1


def test_never_more_intervals_than_asked_for():
    for hours in (1, 5, 24, 24 * 7, 24 * 90, 24 * 365):
        span = timedelta(hours=hours)
        assert span.total_seconds() / bucket_seconds(span, 120) <= 120
