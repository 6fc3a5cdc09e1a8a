"""The same replay floor over RabbitMQ streams' own protocol (the ``rstream`` client, port 5552).

``python -m bench.stream_floor_rstream --stream NAME --messages N`` subscribes from the
first offset, decodes every message as AMQP 1.0 (body and application properties: where
a node's signature header would be) and exits when it has seen N messages. It prints
one JSON line in ``bench.stream_floor``'s shape, so the replay scenario sets the two
readers side by side. Streams' protocol has no acks: a reader keeps its own offset, as
the node's checkpoint does (resume with ``offset > checkpoint``).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from urllib.parse import urlparse

import orjson
from rstream import (
    AMQPMessage,
    Consumer,
    ConsumerOffsetSpecification,
    MessageContext,
    OffsetType,
    amqp_decoder,
)

from bench.config import AMQP_URL

STREAM_PORT = 5552


async def read(stream: str, messages: int, credit: int) -> dict:
    t_start = time.perf_counter()
    url = urlparse(AMQP_URL)
    consumer = Consumer(
        url.hostname or "127.0.0.1",
        STREAM_PORT,
        username=url.username or "guest",
        password=url.password or "guest",
        vhost=(url.path[1:] or "/") if url.path not in ("", "/") else "/",
    )
    await consumer.start()
    try:
        done = asyncio.get_running_loop().create_future()
        seen = 0
        first = last = last_wall = 0.0
        last_offset = -1

        def on_message(message: AMQPMessage, context: MessageContext) -> None:
            nonlocal seen, first, last, last_wall, last_offset
            if context.offset <= last_offset:  # a chunk's redelivered head: like the node
                return
            last_offset = context.offset
            _body, _headers = bytes(message), message.application_properties
            seen += 1
            if seen == 1:
                first = time.perf_counter()
            if seen >= messages and not done.done():
                last, last_wall = time.perf_counter(), time.time()
                done.set_result(None)

        t_subscribe = time.perf_counter()
        await consumer.subscribe(
            stream,
            on_message,
            decoder=amqp_decoder,
            offset_specification=ConsumerOffsetSpecification(OffsetType.FIRST, None),
            initial_credit=credit,
        )
        await done
        return {
            "messages": seen,
            "first_to_last_s": last - first,
            "subscribe_to_last_s": last - t_subscribe,
            "connect_to_last_s": last - t_start,
            "last_wall": last_wall,
        }
    finally:
        await consumer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stream", required=True)
    parser.add_argument("--messages", type=int, required=True)
    parser.add_argument("--credit", type=int, default=10)
    args = parser.parse_args()
    print(
        orjson.dumps(asyncio.run(read(args.stream, args.messages, args.credit))).decode(),
        flush=True,
    )


if __name__ == "__main__":
    main()
