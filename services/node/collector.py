"""The node process's garbage collector, set for the decision path's tail latency.

CPython's full collection walks every tracked object: after start-up that is some 70,000 of
the imported modules (pydantic schemas, aio-pika, asyncpg) plus the loaded state, and on this
machine one such walk took 50 to 130 ms, a pause every command in flight waited out (the
writer's own collections reached 120 ms in bench.profile, 730 ms on a starved machine).
So once the state is loaded, what exists then is frozen out of the collector's walks
(``gc.freeze``: refcounting still frees it; only a cycle among those objects would stay), and
the young generation is collected less often. Decisions make little cyclic garbage (the
state's values are immutable), so what the collector still finds, it finds as before.

While a node loads or catches up on a long stretch of the log (start-up, Sync, reset) nobody
waits on a single command, and a replay allocates some 30 tracked objects an event: young
collections every 10,000 of them were a quarter of a replay's Python (``bench.stage_cost``:
20 µs an event at the serving thresholds, 14 µs at the bulk ones). So the process starts at
``BULK_THRESHOLDS``, the stream consumer returns to them for a long catch-up (``bulk``), and
``settle`` (``end_bulk``: if one is going on) sets ``THRESHOLDS`` again once the node is
caught up. A rebuild (reset, Sync) settles again at its end, freezing the rebuilt state
too: what is frozen is only ever freed by refcounting, so a reference cycle alive at that
moment and dropped later stays until the process ends (the state's values hold no cycles).
"""

from __future__ import annotations

import gc

# Collections of the youngest generation after this many new tracked objects (default 700),
# the middle one every 20 of those, the full one every 20 of those (and only once the objects
# allocated since the last full one are a quarter of those it would walk).
THRESHOLDS = (10_000, 20, 20)
# While the log is replayed in bulk: pauses do not matter then, only the total.
BULK_THRESHOLDS = (100_000, 50, 100)


def bulk() -> None:
    """A long replay begins (the load at process start, a Sync, a catch-up on a long
    stretch of the log)."""
    gc.set_threshold(*BULK_THRESHOLDS)


def end_bulk() -> None:
    """``settle``, if a bulk replay was going on (the thresholds say so): a cheap no-op
    otherwise, so it may be called after every batch."""
    if gc.get_threshold() == BULK_THRESHOLDS:
        settle()


def settle() -> None:
    """Once the node's state is loaded or caught up: collect what the replay left, freeze the
    rest, and collect for the decision path's tail latency again."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
