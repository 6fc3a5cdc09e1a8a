"""What ``licensing demo`` asks for, decided without I/O: products, features, seats, denials,
peaks, and the live line.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime

from services.cli.demo_traffic import (
    FIRST_PEAK_AT,
    OVER_ASK_EVERY,
    PEAK_SECONDS,
    Feature,
    Tally,
    features_for,
    in_peak,
    next_ask,
    pause,
    products,
    seats_for,
    usable_features,
)

FIGURE_14 = [
    Feature("Historian Enterprise 3M Tags", "2017 (17.0)", 1000),
    Feature("Historian Tag Count", "2017 (17.0)", 400_000_000),
    Feature("InTouch Dev 60K Tags", "2017 (17.0)", 50),
    Feature("InTouch Dev Tag Count", "2017 (17.0)", 1_942_060),
]


def test_products_are_mostly_hmis_with_historians_and_engineering_tools_each_its_own_device():
    made = products(12)
    assert len({p.device for p in made}) == 12
    kinds = Counter(p.kind.prefix for p in made)
    assert kinds == {"HMI": 8, "HIST": 2, "ENG": 2}
    assert [p.device for p in made[:5]] == ["HMI-01", "HMI-02", "HIST-01", "HMI-03", "ENG-01"]
    assert made[0].user == "operator1" and made[4].user == "engineer1"


def test_only_owned_unexpired_features_are_asked_for():
    now = datetime(2026, 12, 1, tzinfo=UTC)
    rows = [
        {"name": "A", "version": "1", "total": 5, "expires_at": None},
        {"name": "B", "version": "1", "total": 0, "expires_at": None},
        {"name": "C", "version": "1", "total": 5, "expires_at": "2026-11-30T00:00:00+00:00"},
        {"name": "D", "version": "1", "total": 5, "expires_at": "2026-12-02T00:00:00+00:00"},
    ]
    assert [f.name for f in usable_features(rows, now)] == ["A", "D"]


def test_each_kind_asks_for_its_own_features_and_falls_back_to_any():
    hmi, historian = products(3)[0].kind, products(3)[2].kind
    assert {f.name for f in features_for(historian, FIGURE_14)} == {
        "Historian Enterprise 3M Tags",
        "Historian Tag Count",
    }
    assert all("InTouch" in f.name for f in features_for(hmi, FIGURE_14))
    other = [Feature("Wonderware Anything", "1", 3)]
    assert features_for(historian, other) == other


def test_a_session_takes_one_seat_and_a_counted_feature_a_small_share():
    rng = random.Random(1)
    assert seats_for(FIGURE_14[2], rng) == 1
    tags = [seats_for(FIGURE_14[1], rng) for _ in range(200)]
    assert all(1 <= n <= FIGURE_14[1].total * 0.02 for n in tags) and len(set(tags)) > 1


def test_every_twentieth_ask_from_the_third_asks_past_the_seats():
    rng = random.Random(7)
    catalogue = products(12)
    asks = [next_ask(i, catalogue, FIGURE_14, rng) for i in range(3 * OVER_ASK_EVERY)]
    over = [i for i, ask in enumerate(asks) if ask.over]
    assert over == [2, 2 + OVER_ASK_EVERY, 2 + 2 * OVER_ASK_EVERY]
    assert all(asks[i].count == asks[i].feature.total + 1 for i in over)
    fair = [ask for ask in asks if not ask.over]
    assert all(ask.count <= ask.feature.total for ask in fair)
    assert all(
        ask.product.kind.hold[0] <= ask.hold_seconds <= ask.product.kind.hold[1] for ask in asks
    )


def test_a_short_peak_comes_once_a_period_and_asks_come_faster_in_it():
    assert not in_peak(0, 60) and not in_peak(FIRST_PEAK_AT - 0.1, 60)
    assert in_peak(FIRST_PEAK_AT, 60) and in_peak(FIRST_PEAK_AT + PEAK_SECONDS - 0.1, 60)
    assert not in_peak(FIRST_PEAK_AT + PEAK_SECONDS, 60)
    assert in_peak(FIRST_PEAK_AT + 60, 60) and not in_peak(FIRST_PEAK_AT, 0)
    rng = random.Random(3)
    calm = sum(pause(1.0, False, rng) for _ in range(2000)) / 2000
    busy = sum(pause(1.0, True, rng) for _ in range(2000)) / 2000
    assert 0.9 < calm < 1.1 and busy < calm / 4


def test_the_live_line_counts_acquires_releases_and_denials_by_reason():
    tally = Tally(acquired=5, released=3, held=2)
    tally.denied.update({"no_seats": 2, "reserved": 1})
    line = tally.line(75.0, True, 12)
    assert line == (
        "demo 1:15 · 12 products · held 2 · acquires 5 · releases 3 · "
        "denials 3 (no_seats 2, reserved 1) · PEAK"
    )
    assert tally.summary()["denied"] == 3
