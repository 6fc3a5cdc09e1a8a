"""Remove a whole site: its queues, stream and exchanges on the broker, and its nodes' databases.

For throwaway sites (tests, benchmarks); nothing in a running site calls it.
"""

from __future__ import annotations

import aio_pika
import asyncpg

from projections.database import database_name
from services.adapters.brokers import DEFAULT_HEARTBEAT, BrokerList, parse_broker_urls
from services.adapters.topology import Topology


async def remove_site(amqp_url: str, pg_dsn: str, site: str, nodes: list[str]) -> None:
    topology = Topology(site)
    # Any node of a cluster will do (amqp_url may be a list); throwaway sites use no TLS.
    brokers = BrokerList(parse_broker_urls(amqp_url), heartbeat=DEFAULT_HEARTBEAT)
    connection = await brokers.connect("licensing-teardown")
    try:
        # A fresh channel each: deleting what does not exist closes the channel.
        for name in (topology.commands, topology.events, topology.dead_letters):
            try:
                await (await connection.channel()).queue_delete(name)
            except aio_pika.exceptions.AMQPError:
                pass
        for name in (topology.dead_letter_exchange, topology.heartbeats, topology.ingress):
            try:
                await (await connection.channel()).exchange_delete(name)
            except aio_pika.exceptions.AMQPError:
                pass
    finally:
        await connection.close()
    conn = await asyncpg.connect(pg_dsn)
    try:
        for node in nodes:
            await conn.execute(
                f'DROP DATABASE IF EXISTS "{database_name(site, node)}" WITH (FORCE)'
            )
    finally:
        await conn.close()
