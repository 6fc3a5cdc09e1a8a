"""Corrupt a stopped node's database the way a bad restore would, keeping it self-consistent.

The node loads it without complaint (its event_log and digest agree), yet it now
holds a different history than its peer: the "Pair not synced" case.
"""

from __future__ import annotations

import aio_pika
import orjson

from events.codec import canonical, event_from_dict
from projections import digest as digests
from services.adapters.topology import Topology
from services.domain.evolve import apply
from services.domain.model import State
from tests.support.sites import connect


async def rewrite_history(
    conn, event_type: str = "LeaseGranted", field: str = "device", value: str = "tampered"
) -> None:
    rows = await conn.fetch(
        "SELECT stream_offset, idx, body::text AS body FROM event_log ORDER BY 1, 2"
    )
    target = next(r for r in rows if orjson.loads(r["body"])["type"] == event_type)
    body = {**orjson.loads(target["body"]), field: value}
    await conn.execute(
        "UPDATE event_log SET body = $1 WHERE stream_offset = $2 AND idx = $3",
        orjson.dumps(body).decode(),
        target["stream_offset"],
        target["idx"],
    )
    state, digest = State(), ""
    for row in await conn.fetch(
        "SELECT body::text AS body FROM event_log ORDER BY stream_offset, idx"
    ):
        event = event_from_dict(orjson.loads(row["body"]))
        state, ignored = apply(state, event)
        digest = digests.advance(digest, canonical(event), ignored)
    await conn.execute("UPDATE projection_checkpoint SET digest = $1", digest)


async def forge_on_stream(site: str, body: bytes) -> None:
    """Publish ``body`` on a site's event stream as anyone with write access to it could."""
    topology = Topology(site)
    connection = await connect(site)
    try:
        channel = await connection.channel(publisher_confirms=True)
        await topology.declare_events(channel)
        await channel.default_exchange.publish(aio_pika.Message(body), routing_key=topology.events)
    finally:
        await connection.close()
