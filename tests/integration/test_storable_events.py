"""Whatever the domain accepts, Postgres can store (invariant 11; issue 9, rows 4 and 5).

Hypothesis makes command sequences within the contract (they come in as JSON through the
codec, as on the wire: any text without NUL or lone surrogates, times at any offset,
integers up to the limits, epochs past 32 bits), the pure domain decides them, and the real
Projector and ProjectionStore write the events into a throwaway database: read models,
event_log copy, digest and checkpoint. Then the node's copy is read back and replayed.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta, timezone

import asyncpg
import orjson
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from events import codec, limits
from events.storable import INT64_MAX
from events.writer import WriterPromoted
from projections.database import open_pool
from projections.projector import Projector
from projections.schema import READ_MODEL_TABLES
from projections.store import ProjectionStore
from services.domain.decide import Context, decide
from services.domain.evolve import apply
from services.domain.model import State
from tests.support.sites import PG_DSN

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def text(max_size: int, min_size: int = 1) -> st.SearchStrategy[str]:
    storable = st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")
    return st.text(alphabet=storable, min_size=min_size, max_size=max_size)


names = st.one_of(st.sampled_from(["F", "G", "primary", "backup"]), text(limits.MAX_NAME))
versions = st.one_of(st.just("1"), text(limits.MAX_VERSION))
reasons = st.one_of(st.just(""), text(limits.MAX_REASON, min_size=0))
offsets = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
times = st.datetimes(
    min_value=datetime(1, 1, 3), max_value=datetime(9999, 12, 29), timezones=offsets
).map(datetime.isoformat)
seats = st.one_of(st.integers(1, 10), st.integers(1, limits.MAX_SEATS))
index = st.integers(0, 50)


def pick(keys, i: int, fallback: str) -> str:
    keys = sorted(keys)
    return keys[i % len(keys)] if keys else fallback


def feature_of(state: State, i: int) -> tuple[str, str]:
    keys = sorted(state.features.keys())
    return keys[i % len(keys)] if keys else ("F", "1")


grant = st.fixed_dictionaries(
    {"name": names, "version": versions, "seats": seats},
    optional={"type": text(limits.MAX_NAME, 0), "expires_at": st.one_of(st.none(), times)},
)
# Each step is a function of the state, so releases and cancellations name real ids.
steps = st.one_of(
    st.builds(
        lambda lic, features: (
            lambda s: {
                "type": "ActivateLicense",
                "license_id": lic,
                "features": features,
            }
        ),
        names,
        st.lists(grant, min_size=1, max_size=3),
    ),
    st.builds(
        lambda i: (
            lambda s: {
                "type": "DeactivateLicense",
                "license_id": pick(s.licenses.keys(), i, "L"),
            }
        ),
        index,
    ),
    st.builds(
        lambda i, device, user, count, lease: (
            lambda s: {
                "type": "Acquire",
                "feature": feature_of(s, i)[0],
                "version": feature_of(s, i)[1],
                "device": device,
                "user": user,
                "count": count,
                "lease_seconds": lease,
            }
        ),
        index,
        names,
        names,
        st.one_of(st.integers(1, 3), st.integers(1, limits.MAX_ACQUIRE_COUNT)),
        st.integers(limits.MIN_LEASE_SECONDS, limits.MAX_LEASE_SECONDS),
    ),
    st.builds(
        lambda i, reason: (
            lambda s: {
                "type": "Release",
                "lease_id": pick(s.leases.keys(), i, "L-x"),
                "reason": reason,
            }
        ),
        index,
        st.one_of(st.none(), reasons),
    ),
    st.builds(
        lambda i, holder, who, count: (
            lambda s: {
                "type": "Reserve",
                "feature": feature_of(s, i)[0],
                "version": feature_of(s, i)[1],
                holder: who,
                "count": count,
            }
        ),
        index,
        st.sampled_from(["device", "user"]),
        names,
        st.integers(1, 3),
    ),
    st.builds(
        lambda i: (
            lambda s: {
                "type": "CancelReservation",
                "reservation_id": pick(s.reservations.keys(), i, "R-x"),
            }
        ),
        index,
    ),
    st.builds(
        lambda node, server_id, url: (
            lambda s: {
                "type": "RegisterServer",
                "node": node,
                "server_id": server_id,
                "api_url": url,
            }
        ),
        names,
        names,
        st.one_of(st.none(), text(limits.MAX_NAME, 0)),
    ),
    st.builds(
        lambda i, j: (
            lambda s: {
                "type": "PairServers",
                "primary": pick(s.servers.keys(), i, "primary"),
                "backup": pick(s.servers.keys(), j, "backup"),
            }
        ),
        index,
        index,
    ),
    st.just(lambda s: {"type": "UnpairServers"}),
    st.builds(
        lambda kind, i, peer: (
            lambda s: {
                "type": kind,
                "node": pick(s.servers.keys(), i, "primary"),
                **({"from_peer": peer} if kind == "SyncServer" and peer else {}),
            }
        ),
        st.sampled_from(["ResetServerId", "SyncServer", "StopServer", "UninstallServer"]),
        index,
        st.one_of(st.none(), names),
    ),
    st.builds(
        lambda i, activity, reason, at: (
            lambda s: {
                "type": "ReportServerStatus",
                "node": pick(s.servers.keys(), i, "primary"),
                "activity": activity,
                "reason": reason,
                "observed_at": at,
            }
        ),
        index,
        st.sampled_from(["running", "recovering", "stopped", "disconnected"]),
        reasons,
        times,
    ),
    st.builds(
        lambda synced, lag, seconds, reason, at: (
            lambda s: {
                "type": "ReportPairSync",
                "synced": synced,
                "lag_events": lag,
                "lag_seconds": seconds,
                "reason": reason,
                "observed_at": at,
            }
        ),
        st.booleans(),
        st.integers(0, INT64_MAX),
        st.floats(min_value=0, max_value=1e300, allow_nan=False, allow_infinity=False),
        reasons,
        times,
    ),
)


def produce(epoch: int, plan: list, actors: list[str | None]) -> tuple[list, State]:
    """The events a writer at ``epoch`` makes of the plan, through the codec and the domain."""
    promoted = WriterPromoted(epoch=epoch, node="w", server_id="W_1", at=T0)
    state, _ = apply(State(), promoted)
    events = [promoted]
    for n, step in enumerate(plan):
        try:
            command = codec.loads_command(orjson.dumps(step(state)))
        except ValidationError:
            continue  # outside the contract: screening refuses it, nothing to store
        ctx = Context(f"cmd-{n}", epoch, T0 + timedelta(seconds=n), actors[n % len(actors)])
        event = decide(state, command, ctx)
        if event is not None:
            state, ignored = apply(state, event)
            assert ignored is None
            events.append(event)
    return events, state


@pytest.fixture
def database():
    name = f"licensing_storable_{uuid.uuid4().hex[:10]}"
    loop = asyncio.new_event_loop()
    pool = loop.run_until_complete(open_pool(PG_DSN, name))
    yield loop, pool
    loop.run_until_complete(pool.close())

    async def drop() -> None:
        conn = await asyncpg.connect(PG_DSN)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    loop.run_until_complete(drop())
    loop.close()


def test_every_event_the_domain_produces_is_stored_read_back_and_replayed(database):
    loop, pool = database

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        epoch=st.one_of(st.just(1), st.integers(2**31 - 1, INT64_MAX - 1)),
        plan=st.lists(steps, min_size=1, max_size=25),
        actors=st.lists(st.one_of(st.none(), names), min_size=1, max_size=3),
    )
    def round_trip(epoch, plan, actors):
        events, state = produce(epoch, plan, actors)
        if len(events) == 1:
            reject()
        loop.run_until_complete(_store_and_read_back(pool, events, state))

    round_trip()


async def _store_and_read_back(pool, events: list, state: State) -> None:
    store = ProjectionStore(pool)
    projector = Projector(store)
    await projector.reset()
    items = orjson.loads(codec.dumps_events(events))["events"]
    # Two stream messages, so a batch boundary falls inside the sequence as in real life.
    half = max(1, len(items) // 2)
    await projector.apply_batch([(10, items[:half])])
    if items[half:]:
        await projector.apply_batch([(20, items[half:])])
    assert projector.state == state

    stored = [row async for page in store.event_log() for row in page]
    assert [codec.event_from_dict(orjson.loads(row["body"])) for row in stored] == events
    assert all(row["ignored"] is None for row in stored)

    replayed = Projector(store)
    await replayed.load()  # raises if the stored copy does not replay to the stored digest
    assert replayed.state == state and replayed.checkpoint == projector.checkpoint
    async with pool.acquire() as conn:
        epoch = await conn.fetchval("SELECT epoch FROM projection_checkpoint")
        assert epoch == state.epoch
        for table in READ_MODEL_TABLES:  # every row decodes again
            await conn.fetch(f"SELECT * FROM {table}")
        held = await conn.fetchval("SELECT count(*) FROM usage")
        assert held == len(state.leases)
        features = await conn.fetch("SELECT name, version, total, in_use FROM features")
        assert {(r["name"], r["version"]): (r["total"], r["in_use"]) for r in features} == {
            key: (f.total, f.in_use) for key, f in state.features.items()
        }
