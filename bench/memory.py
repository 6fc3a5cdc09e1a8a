"""5. The writer's answer memory: bytes each remembered command id costs.

Pure domain, no broker: ``decide`` and ``apply`` 10,000 acquires the way the writer
does, then measure with tracemalloc what the state holds only because it remembers the
answers (the outcome maps): the same state with its outcome maps emptied is the
baseline, so leases and features are not counted. Target: at most 1 KB a command id
(the writer keeps 12 to 24 hours of them). ``python -m bench.memory`` runs it alone.
"""

from __future__ import annotations

import gc
import itertools
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

from events.commands import Acquire, ActivateLicense, FeatureGrant
from events.writer import WriterPromoted
from services.domain.decide import Context, decide
from services.domain.evolve import apply
from services.domain.model import Map, State

TARGET_BYTES = 1024
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _decided(state: State, command: object, command_id: str, now: datetime) -> State:
    event = decide(state, command, Context(command_id=command_id, epoch=1, now=now))
    state, ignored = apply(state, event)
    assert ignored is None and event is not None, "the bench's own decision was ignored"
    return state


def _licensed(seats: int) -> State:
    state, _ = apply(State(), WriterPromoted(epoch=1, node="a", server_id="A", at=T0))
    grant = FeatureGrant(name="InTouch Runtime", version="2020 R2", seats=seats, type="Server")
    return _decided(state, ActivateLicense(license_id="LIC-1", features=[grant]), "setup", T0)


def _held(state: State) -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def answer_memory(acquires: int = 10_000) -> dict:
    """Bytes per remembered command id after ``acquires`` granted acquires."""
    started = time.perf_counter()
    state = _licensed(acquires)
    ids = itertools.count()
    tracemalloc.start()
    try:
        for i in range(acquires):
            n = next(ids)
            command = Acquire(
                feature="InTouch Runtime", version="2020 R2", device=f"HMI-{n}", user=f"op{n}"
            )
            # Ids as products make them (uuid4 hex), times a millisecond apart.
            state = _decided(state, command, f"{n:032x}", T0 + timedelta(milliseconds=i + 1))
        remembered = len(state.outcomes) + len(state.older_outcomes)
        with_answers = _held(state)
        state = state.with_(outcomes=Map(), older_outcomes=Map())
        without = _held(state)
    finally:
        tracemalloc.stop()
    per_id = (with_answers - without) / max(remembered, 1)
    return {
        "command_ids": remembered,
        "bytes_per_command_id": round(per_id),
        "target_bytes": TARGET_BYTES,
        "ok": per_id <= TARGET_BYTES,
        "seconds": round(time.perf_counter() - started, 2),
    }


def main() -> None:
    figure = answer_memory()
    verdict = "ok" if figure["ok"] else "OVER TARGET"
    print(
        f"answer memory: {figure['bytes_per_command_id']:,} bytes per command id over "
        f"{figure['command_ids']:,} acquires (target {TARGET_BYTES:,}): {verdict}, "
        f"{figure['seconds']} s"
    )


if __name__ == "__main__":
    main()
