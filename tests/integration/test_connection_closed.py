"""A connection the broker closes: what a session sees in the moment before aio-pika knows.

A broker node that stops closes its clients' connections (CONNECTION_FORCED). aiormq's
connection is closed at once, aio-pika's ``is_closed`` only a few loop turns later, and a
``channel()`` asked in between raises aiormq's bare ``RuntimeError("... closed")``. A node
took that for a bug and died in a rolling restart of the cluster (its heartbeat task opened
a channel just then); ``closed_under_us`` is how a session tells a lost connection from one.
"""

from __future__ import annotations

import asyncio
import time

import aio_pika
import pytest

from services.adapters.brokers import closed_under_us
from tests.support.tcp_proxy import TcpProxy

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


async def _close_from_the_broker(connection: aio_pika.abc.AbstractConnection) -> None:
    """What CONNECTION_FORCED does to aiormq: its connection closes with an error."""
    await connection.transport.connection.close(ConnectionError("CONNECTION_FORCED (test)"))


async def test_a_channel_asked_of_a_closed_connection_is_a_lost_connection():
    connection = await aio_pika.connect(AMQP_URL)
    try:
        await _close_from_the_broker(connection)
        with pytest.raises(RuntimeError, match="closed"):
            await connection.channel(publisher_confirms=False)
        # The node's test: true here, whatever aio-pika's own flag says yet.
        assert closed_under_us(connection)
    finally:
        await connection.close()


async def test_a_cut_connection_is_closed_under_us_once_aiormq_notices():
    async with TcpProxy() as proxy:
        connection = await aio_pika.connect(proxy.amqp_url())
        try:
            assert not closed_under_us(connection)
            proxy.cut()
            deadline = time.monotonic() + 10
            while not closed_under_us(connection):
                assert time.monotonic() < deadline, "a cut connection never counted as closed"
                await asyncio.sleep(0.01)
        finally:
            await connection.close()


async def test_an_open_connection_is_not_closed_under_us():
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        assert not closed_under_us(connection)
        await channel.close()
    finally:
        await connection.close()
