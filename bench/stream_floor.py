"""The floor of a replay: a bare aio-pika consumer that reads a stream and does nothing but ack.

``python -m bench.stream_floor --stream NAME --messages N`` subscribes from
``first`` with prefetch 1000, acks with ``multiple=True`` every 500 messages, and
exits when it has seen N messages. It prints one JSON line: messages, seconds from
its first message to its last, and from the subscription to its last.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import aio_pika
import orjson

from bench.config import AMQP_URL


async def read(stream: str, messages: int, prefetch: int, ack_every: int) -> dict:
    t_start = time.perf_counter()
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        # The bench made the stream, with the site's arguments (replicas): only look it up.
        queue = await channel.declare_queue(stream, passive=True)
        done = asyncio.get_running_loop().create_future()
        seen = 0
        first = last = last_wall = 0.0

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal seen, first, last, last_wall
            seen += 1
            if seen == 1:
                first = time.perf_counter()
            if seen % ack_every == 0 or seen >= messages:
                await message.ack(multiple=True)
            if seen >= messages and not done.done():
                last, last_wall = time.perf_counter(), time.time()
                done.set_result(None)

        t_subscribe = time.perf_counter()
        await queue.consume(on_message, arguments={"x-stream-offset": "first"})
        await done
        return {
            "messages": seen,
            "first_to_last_s": last - first,
            "subscribe_to_last_s": last - t_subscribe,
            "connect_to_last_s": last - t_start,
            "last_wall": last_wall,
        }
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stream", required=True)
    parser.add_argument("--messages", type=int, required=True)
    parser.add_argument("--prefetch", type=int, default=1000)
    parser.add_argument("--ack-every", type=int, default=500)
    args = parser.parse_args()
    print(
        orjson.dumps(
            asyncio.run(read(args.stream, args.messages, args.prefetch, args.ack_every))
        ).decode(),
        flush=True,
    )


if __name__ == "__main__":
    main()
