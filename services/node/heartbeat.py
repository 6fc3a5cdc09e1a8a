"""A node's heartbeat: about once a second on the site's transient fanout exchange."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Callable

import aio_pika
import orjson
from aio_pika.abc import AbstractConnection

from services.adapters.topology import Topology

HEARTBEAT_SECONDS = 1.0


async def publish_heartbeats(connection: AbstractConnection, topology: Topology,
                             snapshot: Callable[[], dict], interval: float = HEARTBEAT_SECONDS) -> None:
    channel = await connection.channel(publisher_confirms=False)
    exchange = await topology.declare_heartbeats(channel)
    try:
        while True:
            body = {**snapshot(), "at": datetime.now(timezone.utc).isoformat()}
            await exchange.publish(
                aio_pika.Message(orjson.dumps(body), content_type="application/json",
                                 expiration=max(1, int(interval * 3))),
                routing_key="", mandatory=False)
            await asyncio.sleep(interval)
    finally:
        if not channel.is_closed:
            await channel.close()
