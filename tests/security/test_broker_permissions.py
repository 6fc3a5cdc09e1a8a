"""Issue 9, rows 1, 2, 7 and 8 at the broker: what a product's broker user may not do.

Every attack runs with the site's product user (the login every product holds) against a
paired site, and the broker itself refuses it (ACCESS_REFUSED closes the channel); the
pair then still serves an acquire within 2 s, and a product can still acquire and release.
Before the product user existed, products logged in as guest and each of these went through.

One paired site serves the whole module (a pair takes seconds to start; a refused attack
leaves it as it was, which is what each test checks again).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import aio_pika
import aiormq.exceptions
import pytest
import pytest_asyncio
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from events import codec
from events.commands import Acquire, FeatureGrant, PairServers
from services.adapters.topology import Topology
from tests.support.site import Site
from tests.support.sites import new_site_name

pytestmark = pytest.mark.asyncio(loop_scope="module")

FEATURE, VERSION = "InTouch", "2017"
Attack = Callable[[AbstractChannel, Topology], Awaitable[object]]


async def _publish_to_stream(channel: AbstractChannel, topology: Topology) -> None:
    # Row 1: a forged batch on the default exchange, routed to the stream.
    body = b'{"events":[{"type":"LicenseActivated","seats":1000000}]}'
    await channel.default_exchange.publish(aio_pika.Message(body), routing_key=topology.events)


async def _publish_to_commands_directly(channel: AbstractChannel, topology: Topology) -> None:
    await channel.default_exchange.publish(aio_pika.Message(b"{}"), routing_key=topology.commands)


async def _publish_heartbeat(channel: AbstractChannel, topology: Topology) -> None:
    exchange = await channel.get_exchange(topology.heartbeats, ensure=False)
    await exchange.publish(aio_pika.Message(b'{"node":"zz","servers":[1]}'), routing_key="")


async def _consume_commands(channel: AbstractChannel, topology: Topology) -> None:
    # Row 7: become a consumer of the commands queue (and so, perhaps, the active one).
    async def answer_as_the_writer(message: AbstractIncomingMessage) -> None:
        await message.ack()

    queue = await channel.get_queue(topology.commands, ensure=False)
    await queue.consume(answer_as_the_writer)


async def _delete_commands(channel: AbstractChannel, topology: Topology) -> None:
    await channel.queue_delete(topology.commands)  # row 8


async def _purge_commands(channel: AbstractChannel, topology: Topology) -> None:
    queue = await channel.get_queue(topology.commands, ensure=False)
    await queue.purge()


async def _redeclare_commands(channel: AbstractChannel, topology: Topology) -> None:
    await topology.declare_commands(channel)


async def _declare_a_site_named_queue(channel: AbstractChannel, topology: Topology) -> None:
    await channel.declare_queue(f"{topology.events}-copy", durable=True)


ATTACKS: dict[str, Attack] = {
    "publish_to_the_events_stream": _publish_to_stream,
    "publish_to_the_commands_queue_on_the_default_exchange": _publish_to_commands_directly,
    "publish_to_the_heartbeats_exchange": _publish_heartbeat,
    "consume_the_commands_queue": _consume_commands,
    "delete_the_commands_queue": _delete_commands,
    "purge_the_commands_queue": _purge_commands,
    "declare_the_commands_queue": _redeclare_commands,
    "declare_a_queue_named_like_the_sites": _declare_a_site_named_queue,
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def paired(tmp_path_factory) -> AsyncIterator[Site]:
    site = await Site(new_site_name(), tmp_path_factory.mktemp("security")).create()
    try:
        nodes = [site.start_node(node) for node in ("primary", "backup")]
        for node in nodes:
            await node.wait_registered(timeout=60)
        async with site.client(actor="admin") as admin:
            assert (await admin.send(PairServers(primary="primary", backup="backup"))).ok
            grant = FeatureGrant(name=FEATURE, version=VERSION, seats=5)
            assert (await admin.activate("LIC-S", [grant])).ok
        yield site
    finally:
        await site.close()


async def _refused(url: str, topology: Topology, attack: Attack) -> str:
    """What the broker said to ``attack``; fails the test if it let it through."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused) as refused:
            await attack(channel, topology)
        return str(refused.value)
    finally:
        await connection.close()


async def _serves_an_acquire_within_2_s(site, device: str) -> None:
    started = time.monotonic()
    async with site.client(timeout=2.0) as client:
        lease = await client.acquire(FEATURE, VERSION, device=device, user="operator")
        assert lease.lease_id
        assert (await lease.release()).ok
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("name", list(ATTACKS))
async def test_the_broker_refuses_the_product_user(paired: Site, name: str) -> None:
    site = paired
    product_url = site.settings.amqp_url
    assert f"licensing-{site.name}-product" in product_url  # not guest
    message = await _refused(product_url, Topology(site.name), ATTACKS[name])
    assert "ACCESS_REFUSED" in message and f"licensing-{site.name}-product" in message
    await _serves_an_acquire_within_2_s(site, device=f"after-{name}")


async def test_a_product_user_acquires_and_releases(paired: Site) -> None:
    site = paired
    async with site.client() as client:
        assert f"licensing-{site.name}-product" in client.broker_url
        lease = await client.acquire(FEATURE, VERSION, device="hmi1", user="operator")
        assert lease.lease_id
        released = await lease.release()
        assert released.ok, released
        again = await client.acquire(FEATURE, VERSION, device="hmi2", user="operator", count=5)
        assert again.lease_id  # all five seats: the release gave the first one back
        assert (await again.release()).ok


async def test_a_product_user_may_take_its_reply_by_direct_reply_to(paired: Site) -> None:
    """The other way a product reads only its own replies: no queue at all."""
    site, topology = paired, Topology(paired.name)
    body = codec.dumps(Acquire(feature=FEATURE, version=VERSION, device="drt", user="operator"))
    connection = await aio_pika.connect(site.settings.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        replies: asyncio.Queue[bytes] = asyncio.Queue()

        async def on_reply(message: AbstractIncomingMessage) -> None:
            await replies.put(message.body)

        pseudo = await channel.get_queue("amq.rabbitmq.reply-to", ensure=False)
        await pseudo.consume(on_reply, no_ack=True)
        ingress = await channel.get_exchange(topology.ingress, ensure=False)
        message = aio_pika.Message(
            body, message_id="drt-1", correlation_id="c1", reply_to="amq.rabbitmq.reply-to"
        )
        await ingress.publish(message, routing_key="", mandatory=True)
        reply = codec.loads_reply(await asyncio.wait_for(replies.get(), 5.0))
    finally:
        await connection.close()
    assert reply.ok and reply.command_id == "drt-1", reply
