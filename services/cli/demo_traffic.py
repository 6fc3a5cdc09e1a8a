"""The traffic ``licensing demo`` makes, decided without I/O: who asks, for what, for how long.

A plant's products: HMIs (many, operators' sessions of a minute or two), historians
(few, long sessions, counted in tags) and engineering tools (short sessions). Asks
arrive at a steady rate, and several times faster during a short peak each period, the
way a shift change looks on a capacity chart. Every ``OVER_ASK_EVERY``-th ask, starting
with the third (so a short run shows one too), asks for more seats than the feature
has: a denial the License Manager's Denials page and chart show.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from events.limits import MAX_SEATS

BULK_SEATS = 10_000  # a feature with more seats than this counts tags, not sessions
OVER_ASK_EVERY, FIRST_OVER_ASK = 20, 2
PEAK_FACTOR = 5  # asks arrive this many times faster during a peak
PEAK_SECONDS = 10.0
FIRST_PEAK_AT = 20.0  # seconds into the run, so a short demo sees one
SESSIONS_PER_PRODUCT = 4  # a product busy with this many leases skips its next ask


@dataclass(frozen=True)
class Kind:
    """One sort of product: the words its features carry, and how long it holds a lease."""

    prefix: str
    user: str
    keywords: tuple[str, ...]
    hold: tuple[float, float]  # seconds, uniformly between


HMI = Kind("HMI", "operator", ("intouch", "hmi", "runtime"), (15.0, 90.0))
HISTORIAN = Kind("HIST", "historian", ("historian",), (30.0, 180.0))
ENGINEERING = Kind("ENG", "engineer", ("dev", "studio", "engineering"), (10.0, 45.0))
# Products are made in this order, over and over: mostly HMIs, and a handful of products
# already has every kind.
MIX = (HMI, HMI, HISTORIAN, HMI, ENGINEERING, HMI, HMI, HISTORIAN, HMI, ENGINEERING)


@dataclass(frozen=True)
class Product:
    device: str
    user: str
    kind: Kind


@dataclass(frozen=True)
class Feature:
    name: str
    version: str
    total: int


@dataclass(frozen=True)
class Ask:
    product: Product
    feature: Feature
    count: int
    hold_seconds: float
    over: bool  # asks past the feature's seats on purpose


def products(n: int) -> list[Product]:
    """``n`` products in the order of ``MIX``: HMI-01, HMI-02, HIST-01, HMI-03, ENG-01, ..."""
    made: Counter[str] = Counter()
    result = []
    for i in range(n):
        kind = MIX[i % len(MIX)]
        made[kind.prefix] += 1
        number = made[kind.prefix]
        result.append(Product(f"{kind.prefix}-{number:02d}", f"{kind.user}{number}", kind))
    return result


def usable_features(rows: list[dict[str, object]], now: datetime) -> list[Feature]:
    """The features of ``/api/features`` a product can be granted: seats owned, not expired."""
    usable = []
    for row in rows:
        total, expires = row.get("total"), row.get("expires_at")
        if not isinstance(total, int) or total <= 0:
            continue
        if isinstance(expires, str) and datetime.fromisoformat(expires) <= now:
            continue
        usable.append(Feature(str(row["name"]), str(row["version"]), total))
    return usable


def features_for(kind: Kind, features: list[Feature]) -> list[Feature]:
    """The features whose names carry the kind's words; every feature if none does."""
    mine = [f for f in features if any(word in f.name.lower() for word in kind.keywords)]
    return mine or features


def seats_for(feature: Feature, rng: random.Random) -> int:
    """One seat of a session feature; a share of a counted one (a historian's tags)."""
    if feature.total <= BULK_SEATS:
        return 1
    return max(1, round(feature.total * rng.uniform(0.002, 0.02)))


def next_ask(
    number: int, catalogue: list[Product], features: list[Feature], rng: random.Random
) -> Ask:
    """Ask ``number`` (0, 1, ...) of the run."""
    product = rng.choice(catalogue)
    feature = rng.choice(features_for(product.kind, features))
    over = number % OVER_ASK_EVERY == FIRST_OVER_ASK
    count = min(feature.total + 1, MAX_SEATS) if over else seats_for(feature, rng)
    return Ask(product, feature, count, rng.uniform(*product.kind.hold), over)


def in_peak(elapsed: float, every: float) -> bool:
    """Whether ``elapsed`` seconds into the run fall in a peak (one each ``every`` seconds)."""
    if every <= 0 or elapsed < FIRST_PEAK_AT:
        return False
    return (elapsed - FIRST_PEAK_AT) % every < min(PEAK_SECONDS, every / 2)


def pause(rate: float, peak: bool, rng: random.Random) -> float:
    """Seconds until the next ask: arrivals at random, ``rate`` a second on average."""
    return rng.expovariate(rate * (PEAK_FACTOR if peak else 1))


@dataclass
class Tally:
    """What the demo has done so far: the live line and the final summary."""

    acquired: int = 0
    released: int = 0
    denied: Counter[str] = field(default_factory=Counter)
    lost: int = 0
    errors: int = 0
    skipped: int = 0  # asks not made: the product was busy (SESSIONS_PER_PRODUCT)
    held: int = 0

    def line(self, elapsed: float, peak: bool, products: int) -> str:
        reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(self.denied.items()))
        denied = sum(self.denied.values())
        parts = [
            f"demo {int(elapsed) // 60}:{int(elapsed) % 60:02d}",
            f"{products} products",
            f"held {self.held}",
            f"acquires {self.acquired}",
            f"releases {self.released}",
            f"denials {denied}" + (f" ({reasons})" if reasons else ""),
        ]
        parts += [f"{n} {what}" for what, n in (("lost", self.lost), ("errors", self.errors)) if n]
        return " · ".join(parts) + (" · PEAK" if peak else "")

    def summary(self) -> dict[str, object]:
        return {
            "acquired": self.acquired,
            "released": self.released,
            "denied": sum(self.denied.values()),
            "denied_by_reason": dict(self.denied),
            "lost": self.lost,
            "errors": self.errors,
            "skipped": self.skipped,
        }
