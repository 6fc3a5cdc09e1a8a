"""Write a realistic event log straight onto a site's stream, as a writer would.

Events come from the real pure domain (decide + evolve), so they are valid; only the
broker round trips of a live writer are skipped. Used to make long logs quickly, and to
forge messages: unsigned (anyone on the broker) or signed with the node keys (a stale
writer, which holds the real key).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import aio_pika

from events import codec
from events.base import Event
from events.commands import Acquire, ActivateLicense, FeatureGrant, Release
from events.leases import LeaseGranted
from events.writer import WriterPromoted
from services.adapters.topology import Topology
from services.auth.log_signing import OPEN, NodeKeys
from services.domain import lease_secrets
from services.domain.decide import Context, decide
from services.domain.evolve import evolve
from services.domain.model import State
from tests.support.sites import TEST_NODE_KEYS, connect

__all__ = ["TEST_NODE_KEYS", "license_events", "publish_events", "publish_raw"]

START = datetime(2026, 1, 1, tzinfo=UTC)


def license_events(
    count: int,
    *,
    epoch: int = 1,
    seed: int = 7,
    features: int = 5,
    seats: int = 50,
    spacing: timedelta = timedelta(milliseconds=1),
    lease_seconds: int = 3600,
) -> tuple[list[Event], State]:
    """``count`` events: a promotion, one license, then acquires (some denied) and releases,
    ``spacing`` apart in log time (a long history: the answer memory keeps 12 to 24 hours).

    Nobody renews these leases, and a writer that takes over the log gives each a fresh period:
    an hour, not the default minute, so a test that outlasts a minute on a loaded machine does not
    see them expire under it and its expected state still holds."""
    rng = random.Random(seed)
    state, events = State(), []
    promoted = WriterPromoted(
        epoch=epoch, node="generator", server_id="GENERATOR_00000000", at=START
    )
    state = evolve(state, promoted)
    events.append(promoted)
    grants = [
        FeatureGrant(name=f"Feature {i}", version="2017", seats=seats) for i in range(features)
    ]
    n = 0

    secrets: dict[str, str] = {}

    def step(command: object) -> None:
        nonlocal state, n
        n += 1
        event = decide(state, command, Context(f"gen-{seed}-{n}", epoch, START + spacing * n))
        state = evolve(state, event)
        events.append(event)
        if isinstance(event, LeaseGranted):
            secrets[event.lease_id] = lease_secrets.secret_for(None, event.command_id)

    step(ActivateLicense(license_id=f"LIC-{seed}", features=grants))
    while len(events) < count:
        if state.leases and rng.random() < 0.48:
            lease_id = rng.choice(list(state.leases.keys()))
            step(Release(lease_id=lease_id, lease_secret=secrets[lease_id]))
        else:
            g = rng.choice(grants)
            step(
                Acquire(
                    feature=g.name,
                    version=g.version,
                    device=f"dev{rng.randrange(20)}",
                    user=f"user{rng.randrange(10)}",
                    count=rng.choice([1, 1, 1, 2, 5]),
                    lease_seconds=lease_seconds,
                )
            )
    return events, state


async def publish_events(
    site: str, events: list[Event], per_message: int = 1, keys: NodeKeys = OPEN
) -> None:
    """Append events as a writer would; signed if ``keys`` holds a node key."""
    bodies = [
        codec.dumps_events(events[i : i + per_message]) for i in range(0, len(events), per_message)
    ]
    await publish_raw(site, bodies, keys)


async def publish_raw(site: str, bodies: list[bytes], keys: NodeKeys = OPEN) -> None:
    """Append these exact bodies to the site's stream, signed if ``keys`` holds a node key."""
    topology = Topology(site)
    connection = await connect(site)
    try:
        channel = await connection.channel(publisher_confirms=True)
        await topology.declare_events(channel)
        # One at a time, each confirmed: the order of the log matters more than speed here.
        for body in bodies:
            await channel.default_exchange.publish(
                aio_pika.Message(body, headers=keys.headers(body)), routing_key=topology.events
            )
    finally:
        await connection.close()
