"""The projector's Python per event, alone: no broker, no Postgres (issue 12's replay floor).

``python -m bench.stage_cost [EVENTS] [--profile]`` makes the replay scenario's log
(``license_events``, 10 events a stream message), then stages it through a ``Projector`` as
a catch-up does (500 messages a batch, folded in place) and prints the CPU time per event;
``--profile`` adds cProfile's top functions by own time. Nothing is written: ``stage`` is the
in-memory half of a batch (``commit`` writes it), so this is the cost the node pays before it
reads a frame or writes a row. bench/README.md quotes it.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import time

from events import codec
from projections.projector import Projector, SnapshotPolicy
from services.node import collector
from tests.support.fake_log import license_events

NEVER = SnapshotPolicy(every_events=10**12, every_seconds=10.0**12)  # no snapshot encoding


async def stage_all(messages: list[tuple[int, bytes, None]], batch: int) -> None:
    projector = Projector(store=None, snapshot_policy=NEVER)  # type: ignore[arg-type]
    for start in range(0, len(messages), batch):
        await projector.stage_messages(messages[start : start + batch], catching_up=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events", nargs="?", type=int, default=30_000)
    parser.add_argument("--profile", action="store_true", help="print cProfile's top 25")
    args = parser.parse_args()
    events, _ = license_events(args.events, seed=11)
    bodies = [codec.dumps_events(events[i : i + 10]) for i in range(0, len(events), 10)]
    messages = [(offset, body, None) for offset, body in enumerate(bodies)]
    collector.bulk()  # as the node replays: the collector off (services/node/collector.py)
    profile = cProfile.Profile() if args.profile else None
    started = time.process_time()
    if profile is not None:
        profile.enable()
    asyncio.run(stage_all(messages, batch=500))
    if profile is not None:
        profile.disable()
    seconds = time.process_time() - started
    per_event = seconds / args.events * 1e6
    print(f"{args.events:,} events: {seconds:.2f} s CPU, {per_event:.1f} µs an event")
    if profile is not None:
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
