"""What the two replay floors share: the clock and the count, and the JSON line they print.

bench/stream_floor.py reads over AMQP 0-9-1 (aio-pika), bench/stream_floor_rstream.py
over streams' own protocol; only the reading differs. Each stamps the same moments:
``read`` called (before it connects), the subscription sent, the first message, and the
Nth once the reader is done with it (the aio-pika floor's last ack included), in
``perf_counter`` time and, for the last, the wall clock as well. bench/replay.py reads
the line: it sets the wall stamp against the spawn's to give ``spawn_to_last_s``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable

import orjson


class FloorClock:
    """Counts a floor's messages up to ``messages`` and stamps when things happened."""

    def __init__(self, messages: int) -> None:
        self.messages = messages
        self.seen = 0
        self.started = time.perf_counter()  # made first thing in read(), before it connects
        self.subscribed = self.first = self.last = self.last_wall = 0.0
        self._all_seen = asyncio.get_running_loop().create_future()

    def subscribing(self) -> None:
        self.subscribed = time.perf_counter()

    def arrived(self) -> int:
        """Counts one more message; returns how many have come."""
        self.seen += 1
        if self.seen == 1:
            self.first = time.perf_counter()
        return self.seen

    @property
    def all_seen(self) -> bool:
        return self.seen >= self.messages

    def done_with_message(self) -> None:
        """The reader has finished with a message: once all have come, that is the end."""
        if self.all_seen and not self._all_seen.done():
            self.last, self.last_wall = time.perf_counter(), time.time()
            self._all_seen.set_result(None)

    async def result(self) -> dict:
        """Once all messages have come: the line's fields."""
        await self._all_seen
        return {
            "messages": self.seen,
            "first_to_last_s": self.last - self.first,
            "subscribe_to_last_s": self.last - self.subscribed,
            "connect_to_last_s": self.last - self.started,
            "last_wall": self.last_wall,
        }


def main(description: str, read: Callable[..., Awaitable[dict]], **options: int) -> None:
    """``--stream NAME --messages N`` and an int flag for each of ``options`` (its default);
    runs ``read(stream, messages, *options)`` and prints its result as one JSON line."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--stream", required=True)
    parser.add_argument("--messages", type=int, required=True)
    for name, default in options.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=default)
    args = parser.parse_args()
    values = [getattr(args, name) for name in options]
    print(orjson.dumps(asyncio.run(read(args.stream, args.messages, *values))).decode(), flush=True)
