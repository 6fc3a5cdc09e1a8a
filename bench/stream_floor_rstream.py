"""The same replay floor over RabbitMQ streams' own protocol (the ``rstream`` client, port 5552).

``python -m bench.stream_floor_rstream --stream NAME --messages N`` subscribes from the
first offset, decodes every message as AMQP 1.0 (body and application properties: where
a node's signature header would be) and exits when it has seen N messages. It prints
one JSON line in ``bench.stream_floor``'s shape, so the replay scenario sets the two
readers side by side. Streams' protocol has no acks: a reader keeps its own offset, as
the node's checkpoint does (resume with ``offset > checkpoint``).
"""

from __future__ import annotations

from urllib.parse import urlparse

from rstream import (
    AMQPMessage,
    Consumer,
    ConsumerOffsetSpecification,
    MessageContext,
    OffsetType,
    amqp_decoder,
)

from bench.config import AMQP_URL
from bench.floor_clock import FloorClock, main

STREAM_PORT = 5552


async def read(stream: str, messages: int, credit: int) -> dict:
    clock = FloorClock(messages)
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
        last_offset = -1

        def on_message(message: AMQPMessage, context: MessageContext) -> None:
            nonlocal last_offset
            if context.offset <= last_offset:  # a chunk's redelivered head: like the node
                return
            last_offset = context.offset
            _body, _headers = bytes(message), message.application_properties
            clock.arrived()
            clock.done_with_message()

        clock.subscribing()
        await consumer.subscribe(
            stream,
            on_message,
            decoder=amqp_decoder,
            offset_specification=ConsumerOffsetSpecification(OffsetType.FIRST, None),
            initial_credit=credit,
        )
        return await clock.result()
    finally:
        await consumer.close()


if __name__ == "__main__":
    main(__doc__, read, credit=10)
