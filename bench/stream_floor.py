"""The floor of a replay: a bare aio-pika consumer that reads a stream and does nothing but ack.

``python -m bench.stream_floor --stream NAME --messages N`` subscribes from
``first`` with prefetch 1000, acks with ``multiple=True`` every 500 messages, and
exits when it has seen N messages. It prints one JSON line: messages, seconds from
its first message to its last, and from the subscription to its last.
"""

from __future__ import annotations

import aio_pika

from bench.config import AMQP_URL
from bench.floor_clock import FloorClock, main


async def read(stream: str, messages: int, prefetch: int, ack_every: int) -> dict:
    clock = FloorClock(messages)
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        # The bench made the stream, with the site's arguments (replicas): only look it up.
        queue = await channel.declare_queue(stream, passive=True)

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            if clock.arrived() % ack_every == 0 or clock.all_seen:
                await message.ack(multiple=True)
            clock.done_with_message()

        clock.subscribing()
        await queue.consume(on_message, arguments={"x-stream-offset": "first"})
        return await clock.result()
    finally:
        await connection.close()


if __name__ == "__main__":
    main(__doc__, read, prefetch=1000, ack_every=500)
