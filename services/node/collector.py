"""The node process's garbage collector, set for the decision path's tail latency.

CPython's full collection walks every tracked object: after start-up that is some 70,000 of
the imported modules (pydantic schemas, aio-pika, asyncpg) plus the loaded state, and on this
machine one such walk took 50 to 130 ms, a pause every command in flight waited out (the
writer's own collections reached 120 ms in bench.profile, 730 ms on a starved machine).
So once the state is loaded, what exists then is frozen out of the collector's walks
(``gc.freeze``: refcounting still frees it; only a cycle among those objects would stay), and
the young generation is collected less often. Decisions make little cyclic garbage (the
state's values are immutable), so what the collector still finds, it finds as before.
"""

from __future__ import annotations

import gc

# Collections of the youngest generation after this many new tracked objects (default 700),
# the middle one every 20 of those, the full one every 20 of those (and only once the objects
# allocated since the last full one are a quarter of those it would walk).
THRESHOLDS = (10_000, 20, 20)


def tune() -> None:
    """At process start."""
    gc.set_threshold(*THRESHOLDS)


def settle() -> None:
    """Once the node's state is loaded: collect what start-up left, freeze the rest."""
    gc.collect()
    gc.freeze()
