"""The floor of the acquire path: a bare aio-pika request/reply echo server.

``python -m bench.echo --site SITE`` consumes the site's commands queue, declared
exactly as the nodes declare it (quorum, single-active-consumer, same prefetch),
and answers every command on its ``reply_to`` with a well-formed ``Reply`` (a
made-up lease id), then acks it, spreading the replies over the same number of
channels as the writer does. No parsing, no decision, no stream, no Postgres:
what is left is the broker round trip the system cannot avoid, driven by the same
``LicenseClient`` load as the system.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import signal

import aio_pika
import orjson

from bench.config import AMQP_URL
from services.adapters.topology import Topology


async def serve(site: str, prefetch: int, reply_channels: int) -> None:
    connection = await aio_pika.connect(AMQP_URL)
    consume = await connection.channel(publisher_confirms=False)
    replies = itertools.cycle(
        [
            (await connection.channel(publisher_confirms=False)).default_exchange
            for _ in range(reply_channels)
        ]
    )
    await consume.set_qos(prefetch_count=prefetch)
    queue = await Topology(site).declare_commands(consume)

    async def on_command(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        body = orjson.dumps(
            {
                "ok": True,
                "command_id": message.message_id,
                # The load releases with the grant's secret, as a product does.
                "result": {"lease_id": f"L-{message.message_id}", "lease_secret": "echo"},
            }
        )
        await next(replies).publish(
            aio_pika.Message(
                body, correlation_id=message.correlation_id, content_type="application/json"
            ),
            routing_key=message.reply_to or "",
        )
        await message.ack()

    await queue.consume(on_command)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    await stop.wait()
    await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--site", required=True)
    parser.add_argument(
        "--prefetch", type=int, default=200, help="as the writer's default prefetch"
    )
    parser.add_argument("--reply-channels", type=int, default=8, help="as the writer's default")
    args = parser.parse_args()
    asyncio.run(serve(args.site, args.prefetch, args.reply_channels))


if __name__ == "__main__":
    main()
