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
waits on a single command, and the collector only costs: a catch-up holds a whole batch (up
to 50,000 events, some 50 tracked objects each) alive until it is written, so every young
collection walks objects that all survive it. Raising the thresholds did not help (fewer
collections, each walking more: 1.46 s of a 400,000-event replay's 14 s went to young
collections at 100,000), so a bulk replay runs with the collector off (``bulk``): 0.03 s
(bench/README.md, the replay path's fourth round). A replay makes next to no cyclic garbage
(the state's values are immutable and hold no cycles; the process's RSS after that replay was
the same, 316 MB, with the collector on or off), and refcounting frees the rest as ever. The
process starts in bulk, the stream consumer returns to it for a long catch-up, and ``settle``
(``end_bulk``: if one is going on) turns the collector on again once the node is caught up.
A rebuild (reset, Sync) settles again at its end, freezing the rebuilt state too: what is
frozen is only ever freed by refcounting, so a reference cycle alive at that moment and
dropped later stays until the process ends (the state's values hold no cycles).
"""

from __future__ import annotations

import gc

# Collections of the youngest generation after this many new tracked objects (default 700),
# the middle one every 20 of those, the full one every 20 of those (and only once the objects
# allocated since the last full one are a quarter of those it would walk).
THRESHOLDS = (10_000, 20, 20)


def bulk() -> None:
    """A long replay begins (the load at process start, a Sync, a catch-up on a long
    stretch of the log): the collector is off until ``settle``."""
    gc.disable()


def in_bulk() -> bool:
    return not gc.isenabled()


def end_bulk() -> None:
    """``settle``, if a bulk replay was going on: a cheap no-op otherwise, so it may be
    called after every batch."""
    if in_bulk():
        settle()


def settle() -> None:
    """Once the node's state is loaded or caught up: collect what the replay left, freeze the
    rest, and collect for the decision path's tail latency again."""
    gc.enable()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
