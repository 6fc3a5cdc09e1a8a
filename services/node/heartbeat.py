"""A node's heartbeat: about once a second on the site's transient fanout exchange.

Signed like the stream's messages (``services.auth.log_signing``): anyone on the broker
could publish to the exchange, and the watchdog turns what it hears into status events.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import aio_pika
import orjson
from aio_pika.abc import AbstractConnection

from events.vocabulary import ServerStatus
from services.adapters.brokers import BrokerList
from services.adapters.topology import Topology
from services.auth.log_signing import OPEN, NodeKeys

HEARTBEAT_SECONDS = 1.0


async def publish_heartbeats(
    connection: AbstractConnection,
    topology: Topology,
    snapshot: Callable[[], dict],
    interval: float = HEARTBEAT_SECONDS,
    keys: NodeKeys = OPEN,
) -> None:
    channel = await connection.channel(publisher_confirms=False)
    exchange = await topology.declare_heartbeats(channel)
    try:
        while True:
            if channel.is_closed and not connection.is_closed:
                # The broker closed it: a beat went to a deleted exchange (NOT_FOUND). Declare
                # the exchange again, so the watchdog, which binds to it again, hears us.
                channel = await connection.channel(publisher_confirms=False)
                exchange = await topology.declare_heartbeats(channel)
            body = orjson.dumps({**snapshot(), "at": datetime.now(UTC).isoformat()})
            try:
                await exchange.publish(
                    aio_pika.Message(
                        body,
                        headers=keys.headers(body),  # the watchdog drops what a node did not sign
                        content_type="application/json",
                        expiration=max(1, int(interval * 3)),
                    ),
                    routing_key="",
                    mandatory=False,
                )
            except (aio_pika.exceptions.AMQPError, aio_pika.exceptions.ChannelInvalidStateError):
                if connection.is_closed or not channel.is_closed:
                    raise  # a lost connection ends the session; the next beat reopens a channel
            await asyncio.sleep(interval)
    finally:
        if not channel.is_closed:
            await channel.close()


async def final_heartbeat(
    settings, brokers: BrokerList, topology: Topology, last: dict, timeout: float = 3.0
) -> None:
    """A graceful stop says so, so the watchdog shows Stopped at once rather than after a
    silence."""
    try:
        connection = await asyncio.wait_for(brokers.connect("licensing-final-heartbeat"), timeout)
    except Exception:
        return  # no broker: the watchdog will notice the silence instead
    try:
        channel = await connection.channel(publisher_confirms=False)
        exchange = await topology.declare_heartbeats(channel)
        body = orjson.dumps(
            {
                **last,
                "status": ServerStatus.STOPPED,
                "writer": False,
                "final": True,
                "at": datetime.now(UTC).isoformat(),
            }
        )
        keys = NodeKeys.from_setting(settings.node_keys_value())
        await exchange.publish(
            aio_pika.Message(body, headers=keys.headers(body), content_type="application/json"),
            routing_key="",
            mandatory=False,
        )
    finally:
        await connection.close()
