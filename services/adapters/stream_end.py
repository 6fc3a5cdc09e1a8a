"""Where a stream ends: the offset of its last message, or None if it is empty.

AMQP 0.9.1 has no call for it (a stream's declare-ok reports 0 messages), so this
attaches a throwaway consumer at ``last`` (the last chunk) and keeps the highest
offset that arrives. An empty stream delivers nothing; ``quiet`` bounds that wait.
"""

from __future__ import annotations

import asyncio

from aio_pika.abc import AbstractConnection


async def last_offset(
    connection: AbstractConnection, stream: str, quiet: float = 0.3
) -> int | None:
    channel = await connection.channel(publisher_confirms=False)
    try:
        await channel.set_qos(prefetch_count=1000)
        queue = await channel.get_queue(stream, ensure=True)
        seen: list[int] = []
        arrived = asyncio.Event()

        async def on_message(message) -> None:
            seen.append(int(message.headers["x-stream-offset"]))
            arrived.set()

        tag = await queue.consume(on_message, arguments={"x-stream-offset": "last"}, no_ack=False)
        try:
            await asyncio.wait_for(arrived.wait(), timeout=quiet)
            await asyncio.sleep(
                0.05
            )  # the rest of the last chunk arrives right behind its first message
        except TimeoutError:
            return None
        finally:
            await queue.cancel(tag)
        return max(seen)
    finally:
        await channel.close()
