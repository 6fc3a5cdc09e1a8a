"""The loopback 3-node broker cluster: a quorum queue outlives the node holding its leader."""

from __future__ import annotations

import os
import shutil
import time
import uuid

import aio_pika
import pytest

from tests.support import cluster

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(
        os.geteuid() != 0
        or shutil.which("runuser") is None
        or not os.path.exists(f"{cluster.RABBIT_BIN}/rabbitmq-server"),
        reason="the loopback cluster needs root, runuser and rabbitmq-server",
    ),
]

SERVE_DEADLINE = 15.0  # kill -9 of the leader's node to a message published and consumed


async def publish_and_consume(url: str, queue: str, body: bytes, deadline: float) -> bytes:
    """Publish with a confirm on one node and read the message back, retrying until deadline."""
    last: object = None
    while time.monotonic() < deadline:
        try:
            connection = await aio_pika.connect(url, timeout=5)
            async with connection:
                channel = await connection.channel(publisher_confirms=True)
                await channel.default_exchange.publish(
                    aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                    routing_key=queue,
                    timeout=5,
                )
                declared = await channel.get_queue(queue, ensure=False)
                while time.monotonic() < deadline:
                    message = await declared.get(timeout=5, fail=False)
                    if message is not None:
                        await message.ack()
                        return message.body
        except (aio_pika.exceptions.AMQPError, OSError, TimeoutError) as exc:
            last = exc
    raise TimeoutError(f"nothing published and consumed on {url} in time (last: {last!r})")


async def delete_queue(queue: str) -> None:
    """Delete the test's queue by its exact name, on the first node that answers."""
    for url in cluster.urls():
        try:
            connection = await aio_pika.connect(url, timeout=5)
        except (aio_pika.exceptions.AMQPError, OSError, TimeoutError):
            continue
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(queue)
            return


async def test_a_quorum_queue_serves_on_after_its_leaders_node_is_killed():
    await cluster.ensure_cluster()
    queue = f"licensing.test-cluster-smoke.{uuid.uuid4().hex[:12]}"
    try:
        connection = await aio_pika.connect(cluster.node_url(1), timeout=5)
        async with connection:
            channel = await connection.channel()
            await channel.declare_queue(
                queue,
                durable=True,
                arguments={"x-queue-type": "quorum", "x-quorum-initial-group-size": 3},
            )
        leader, members = await cluster.queue_replicas(queue, asked=1)
        assert members == [1, 2, 3]
        assert await cluster.queue_leader(queue, asked=1) == leader

        killed_pid = await cluster.kill_node(leader)
        killed_at = time.monotonic()
        try:
            assert await cluster.node_pid(leader) is None
            survivor = next(node for node in cluster.NODES if node != leader)
            body = f"after kill -9 of c{leader} (pid {killed_pid})".encode()
            got = await publish_and_consume(
                cluster.node_url(survivor), queue, body, deadline=killed_at + SERVE_DEADLINE
            )
            assert got == body
            assert await cluster.queue_leader(queue, asked=survivor) != leader
        finally:
            restarted_pid = await cluster.start_node(leader)
            await cluster.wait_until_joined(leader, timeout=120)
        assert restarted_pid != killed_pid
        assert (await cluster.queue_replicas(queue, asked=leader))[1] == [1, 2, 3]
    finally:
        await delete_queue(queue)
