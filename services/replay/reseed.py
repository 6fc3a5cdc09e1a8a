"""Re-create a lost event stream from a node's own copy of the log.

Invariant 8 (docs/architecture.md): the log lives in three places.

A single-node broker keeps streams in the page cache, so a host crash can lose the
stream. Every node keeps each event it applied in its ``event_log`` table, with the
stream offset and the position inside its message. ``reseed`` publishes that copy,
message by message and in order, into the (empty) stream. The writer is the only
other publisher, and nodes whose checkpoint is past the end of the stream refuse
to go on (``StreamBehind``) until the stream is back, so nothing interleaves.

Messages are re-published one to one, so when the old offsets were dense (the
writer never batches sub-entries) the new stream has the same offsets and every
node simply resumes. If they differ, ``reseed`` says so: each node then needs
``licensing replay NODE``.

The event_log copy keeps no headers, so reseed signs every message it re-publishes
with the site's current node key (``LICENSING_NODE_KEYS``, the first one): the copy
was verified when the node applied it, and the reseeding operator holds the node key
anyway. A message the node had rejected (bad signature) cannot be re-published, since
only its hash was kept: its record goes out instead, signed, and every projector
records the same verdict again (``projections/rejected.py``), so offsets and digests
stay what they were. Re-seeding an open site (no node keys) publishes unsigned.
"""

from __future__ import annotations

import aio_pika
import asyncpg
import orjson

from projections import rejected
from projections.database import database_name, dsn_for
from projections.rejected import Rejected
from services.adapters.brokers import BrokerList
from services.adapters.stream_end import last_offset
from services.adapters.topology import Topology
from services.auth.log_signing import NodeKeys
from services.config.settings import Settings


class ReseedRefused(Exception):
    code = "refused"


async def reseed(settings: Settings, from_node: str, page: int = 5000) -> int:
    topology = Topology(settings.site, settings.replicas)
    keys = NodeKeys.from_setting(settings.node_keys_value())
    database = database_name(settings.site, from_node)
    try:
        db = await asyncpg.connect(dsn_for(settings.pg_dsn, database))
    except asyncpg.InvalidCatalogNameError:
        raise ReseedRefused(
            f"node {from_node} has no database ({database}) on this server"
        ) from None
    connection = await BrokerList.from_settings(settings).connect("licensing-reseed")
    try:
        await topology.settle(connection)
        channel = await connection.channel(publisher_confirms=True)
        await topology.declare_events(channel)
        end = await last_offset(connection, topology.events, quiet=1.0)
        if end is not None:
            raise ReseedRefused(
                f"the stream {topology.events} is not empty (it ends at offset {end}); reseed only "
                "re-creates "
                f"a lost stream. If its tail was lost, delete the stream first, then reseed"
            )
        published, last_old = 0, -1
        message: list[dict] = []
        cursor = (-1, -1)
        while True:
            rows = await db.fetch(
                "SELECT stream_offset, idx, type, body::text AS body FROM event_log "
                "WHERE (stream_offset, idx) > ($1, $2) "
                "ORDER BY stream_offset, idx LIMIT $3",
                cursor[0],
                cursor[1],
                page,
            )
            if not rows:
                break
            for row in rows:
                if message and row["stream_offset"] != last_old:
                    await _publish(channel, topology, keys, orjson.dumps({"events": message}))
                    message = []
                last_old = row["stream_offset"]
                published += 1
                if row["type"] == rejected.TYPE:  # one row, a whole message of its own
                    record = Rejected.from_record(orjson.loads(row["body"]))
                    await _publish(channel, topology, keys, record.reseeded_body())
                    continue
                message.append(orjson.loads(row["body"]))
            cursor = (rows[-1]["stream_offset"], rows[-1]["idx"])
        if message:
            await _publish(channel, topology, keys, orjson.dumps({"events": message}))
        new_end = await last_offset(connection, topology.events, quiet=1.0)
        if new_end != last_old:
            raise ReseedRefused(
                f"re-published {published} events, but the new stream ends at offset {new_end} "
                "where the old one "
                f"ended at {last_old}: every node must now replay (licensing replay NODE)"
            )
        return published
    finally:
        await connection.close()
        await db.close()


async def _publish(
    channel: aio_pika.abc.AbstractChannel, topology: Topology, keys: NodeKeys, body: bytes
) -> None:
    await channel.default_exchange.publish(
        aio_pika.Message(
            body,
            headers=keys.headers(body),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        ),
        routing_key=topology.events,
    )
