"""Every command the writer answers is acked, though it gathers its acks into multiple acks.

The writer acks the commands answered in one loop turn with one ``basic.ack(multiple=True)``
(services/writer/outlet.py). What the pair relies on: an answered command never stays
unacknowledged (it would hold a prefetch slot for good, and come back to the next writer), and
a small prefetch never stalls the writer. RabbitMQ's own count of unacknowledged messages is
the judge (``rabbitmqctl``, the local broker the tests run on).
"""

from __future__ import annotations

import asyncio

from events.commands import Acquire, FeatureGrant
from services.adapters.topology import Topology
from tests.support.waiting import wait_for

PREFETCH = 4
COMMANDS = 60  # fifteen times the prefetch: a writer that kept its acks would stop at 4


async def unacknowledged(queue: str) -> int | None:
    process = await asyncio.create_subprocess_exec(
        "rabbitmqctl",
        "-q",
        "list_queues",
        "name",
        "messages_unacknowledged",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    for line in out.decode().splitlines():
        name, _, count = line.partition("\t")
        if name == queue:
            return int(count)
    return None


async def test_every_answered_command_is_acked_and_a_small_prefetch_never_fills(site):
    primary = site.start_node("primary", LICENSING_WRITER_PREFETCH=str(PREFETCH))
    await primary.wait_healthy()
    async with site.client(timeout=60) as client:
        reply = await client.activate(
            "LIC-ACKS", [FeatureGrant(name="Dev Studio", version="2023", seats=COMMANDS)]
        )
        assert reply.ok, reply
        replies = await asyncio.gather(
            *(
                client.send(
                    Acquire(feature="Dev Studio", version="2023", device=f"pc{i}", user="u")
                )
                for i in range(COMMANDS)
            )
        )
    assert all(r.ok for r in replies), [r for r in replies if not r.ok][:3]
    assert len({r.result["lease_id"] for r in replies}) == COMMANDS  # type: ignore[index]
    commands = Topology(site.name).commands

    async def none_unacknowledged() -> bool:
        return await unacknowledged(commands) == 0

    await wait_for(none_unacknowledged, 20, f"no unacknowledged message in {commands}")
