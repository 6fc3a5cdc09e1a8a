"""Hostile bodies and headers through intake, decide and projection (issue 9, "Done means").

Whatever arrives, screening answers it (Accepted, or Refused with a code) or dead-letters it;
nothing raises. What is accepted, decide and evolve take without raising, and the event they
make can be encoded, read back and recorded as the projector would (Postgres itself:
tests/integration/test_storable_events.py). Refused input changes nothing.

2,000 examples by default (the ``licensing-fuzz`` profile, well under 30 s); more with
``LICENSING_FUZZ_EXAMPLES=20000``.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import orjson
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from events import codec
from events.base import Decision
from events.commands import RenewLeases
from events.replies import ErrorCode
from events.storable import EARLIEST, INT64_MAX, INT64_MIN, LATEST
from events.writer import CommandRefused
from projections.changes import BatchChanges
from services.auth.signing import Keys
from services.domain.decide import Context, decide
from services.domain.evolve import apply
from services.writer.intake import Accepted, DeadLetter, Refused, screen
from services.writer.leases import LeaseClock
from services.writer.writer import Writer
from tests.unit import harness
from tests.unit.samples import every_command

settings.register_profile(
    "licensing-fuzz",
    max_examples=int(os.environ.get("LICENSING_FUZZ_EXAMPLES", "2000")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ = settings(settings.get_profile("licensing-fuzz"))
NOW = harness.T0 + timedelta(hours=1)


def _site() -> harness.Writer:
    """A site with something of everything to hit: servers, a pair, a license, a lease, a
    reservation and an observed status (aware, so a naive report would have met it)."""
    w = harness.Writer()
    w.run(c_register("primary", "PRIMARY_1"))
    w.run(c_register("backup", "BACKUP_1"))
    w.run(codec.loads_command(b'{"type":"PairServers","primary":"primary","backup":"backup"}'))
    w.activate("LIC-1", harness.grant(seats=5), harness.grant(name="F", version="1", seats=3))
    w.acquire()
    w.reserve(count=1, user="bob", feature="F", version="1")
    w.run(
        codec.loads_command(
            orjson.dumps(
                {
                    "type": "ReportServerStatus",
                    "node": "backup",
                    "activity": "stopped",
                    "observed_at": harness.T0.isoformat(),
                }
            )
        )
    )
    return w


def c_register(node: str, server_id: str):
    return codec.loads_command(
        orjson.dumps({"type": "RegisterServer", "node": node, "server_id": server_id})
    )


SITE = _site()
TEMPLATES = [orjson.loads(codec.dumps(command)) for command in every_command()] + [
    {"type": "ReportServerStatus", "node": "backup", "activity": "running", "observed_at": "x"},
    {"type": "ReportPairSync", "synced": False, "lag_events": 3, "observed_at": "x"},
    {"type": "Acquire", "feature": "F", "version": "1", "device": "d", "user": "bob"},
    {"type": "Release", "lease_id": next(iter(SITE.state.leases.keys()))},
]

# ---- hostile values ---------------------------------------------------------------

# Lone surrogates are rarer than NUL: orjson refuses them in a body, so most would only
# test the JSON parser; headers and message ids get them directly.
nasty_text = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=20),
    st.text(alphabet=st.sampled_from("a\x00\u2028 é"), max_size=8),
    st.sampled_from(["", " ", "Nope\u0000", "x" * 129, "x" * 501, "primary", "F", "L-1"]),
    st.text(max_size=4),
)
huge_ints = st.one_of(
    st.integers(),
    st.sampled_from(
        [0, -1, 2**31 - 1, 2**31, INT64_MAX, INT64_MAX + 1, INT64_MIN, INT64_MIN - 1, 10**30]
    ),
)
odd_times = st.one_of(
    st.datetimes().map(datetime.isoformat),  # naive
    st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat),
    st.sampled_from(
        [
            "2026-01-01T00:00:00",
            "9999-12-31T23:59:59-23:59",
            "0001-01-01T00:00:00+23:59",
            (NOW + timedelta(days=365)).isoformat(),
            (NOW + timedelta(seconds=299)).isoformat(),
            "2099-01-01T00:00:00Z",
            "not a time",
        ]
    ),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    huge_ints,
    st.floats(allow_nan=True, allow_infinity=True),
    nasty_text,
    odd_times,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(nasty_text, inner, max_size=4)
    ),
    max_leaves=12,
)


def _encode(value: object) -> bytes:
    """JSON as a hostile sender writes it: stdlib json escapes lone surrogates, NaN included."""
    return json.dumps(value, ensure_ascii=True, allow_nan=True).encode()


@st.composite
def mutated_command(draw) -> bytes:
    """A real command with some fields replaced, dropped or added: reaches deep validation."""
    body = dict(draw(st.sampled_from(TEMPLATES)))
    for key in draw(st.lists(st.sampled_from(sorted(body)), max_size=2)):
        if key == "type" and draw(st.booleans()):
            continue
        body[key] = draw(json_values)
    if draw(st.booleans()):
        body[draw(nasty_text)] = draw(json_values)
    if "observed_at" in body and body["observed_at"] == "x":
        body["observed_at"] = draw(odd_times)
    return _encode(body)


@st.composite
def hostile_text_command(draw) -> bytes:
    """A real command whose text and times are replaced: mostly valid, so decide sees it."""
    body = dict(draw(st.sampled_from(TEMPLATES)))
    for key, value in list(body.items()):
        if key != "type" and isinstance(value, str) and draw(st.booleans()):
            body[key] = draw(odd_times if key.endswith("_at") else nasty_text)
    return _encode(body)


deep_nesting = st.integers(1, 5000).map(lambda n: b'{"type":"Acquire","x":' + b"[" * n + b"]" * n)
# Weighted toward commands that parse, so that decide and the projection are reached often.
bodies = st.one_of(
    mutated_command(),
    mutated_command(),
    hostile_text_command(),
    hostile_text_command(),
    st.one_of(json_values.map(_encode), st.binary(max_size=64), deep_nesting),
)
header_values = st.one_of(json_values, st.binary(max_size=8), st.sampled_from(["\ud800", "a "]))
headers = st.one_of(
    st.none(),
    st.none(),
    st.fixed_dictionaries(
        {},
        optional={"x-actor": header_values, "x-signature": header_values, "x-other": header_values},
    ),
)
message_ids = st.one_of(
    st.uuids().map(str), st.uuids().map(str), st.none(), nasty_text, st.just("c\udfff")
)
reply_tos = st.sampled_from(["reply"] * 18 + [None, ""])


def _writer_screens(body, message_id, reply_to, headers, admin_key):
    keys = Keys(admin=admin_key, node=("n" * 32,) if admin_key else ())
    writer = SimpleNamespace(clock=lambda: NOW, keys=keys)
    delivery = SimpleNamespace(body=body, message_id=message_id, reply_to=reply_to, headers=headers)
    return Writer._screen(writer, delivery)  # type: ignore[arg-type]


# ---- what must hold ---------------------------------------------------------------


def assert_storable(event: Decision, before, after) -> None:
    """What the projector does with an event: digest, event_log body, read-model rows."""
    body = codec.dumps_events([event])
    assert b"\\u0000" not in body, "Postgres cannot store NUL"
    item = orjson.loads(body)["events"][0]
    assert codec.event_from_dict(item) == event
    codec.canonical(event)
    BatchChanges().record(before, after, event, 1, 0, None, orjson.dumps(item).decode())
    for value in event.model_dump().values():
        if isinstance(value, int) and not isinstance(value, bool):
            assert INT64_MIN <= value <= INT64_MAX
        if isinstance(value, datetime):
            assert value.tzinfo is not None and EARLIEST <= value <= LATEST


@FUZZ
@given(bodies, message_ids, reply_tos, headers, st.sampled_from([None, "key"]))
def test_any_delivery_is_answered_or_dead_lettered_and_what_is_accepted_is_decidable(
    body, message_id, reply_to, headers, admin_key
):
    # Through the writer's own guard: an exception in screening (a bug) is an invalid reply.
    got = _writer_screens(body, message_id, reply_to, headers, admin_key)
    assert isinstance(got, (Accepted, Refused, DeadLetter))
    event(type(got).__name__)
    if isinstance(got, DeadLetter):
        assert got.why
        return
    if isinstance(got, Refused):
        assert not got.reply.ok
        assert got.reply.error.code in (ErrorCode.INVALID, ErrorCode.UNAUTHORIZED)
        codec.dumps_reply(got.reply)  # the answer itself can be sent
        return
    before = SITE.state
    if isinstance(got.command, RenewLeases):  # soft state in the writer, as it handles them
        LeaseClock().renew(before, list(got.command.leases), NOW)
        return
    ctx = Context(command_id=got.command_id, epoch=SITE.epoch, now=NOW, actor=got.actor)
    decided = decide(before, got.command, ctx)
    if decided is None:
        return
    event(f"decided {decided.type}")
    after, ignored = apply(before, decided)
    assert ignored is None
    assert_storable(decided, before, after)
    if isinstance(decided, CommandRefused):  # a refusal changes nothing but the answer memory
        for part in ("licenses", "features", "leases", "reservations", "servers", "pair"):
            assert getattr(after, part) == getattr(before, part)


# ---- the rows of issue 9 this closes, spelled out ------------------------------------

ACQUIRE = {"type": "Acquire", "feature": "F", "version": "1", "device": "d", "user": "u"}


def _screen(body: dict, message_id: object = "c1", headers: object = None):
    return screen(_encode(body), message_id, "reply", headers, Keys(), NOW)


def _invalid(got, word: str) -> bool:
    return (
        isinstance(got, Refused)
        and got.reply.error.code == ErrorCode.INVALID
        and word in got.reply.error.message
    )


def test_nul_in_any_text_field_is_invalid():
    assert _invalid(_screen({**ACQUIRE, "feature": "Nope\u0000"}), "feature")
    assert _invalid(_screen({**ACQUIRE, "user": "a\u0000"}), "user")
    assert _invalid(_screen({"type": "Release", "lease_id": "L", "reason": "\u0000"}), "reason")
    assert _invalid(_screen(ACQUIRE, message_id="c\u0000"), "message_id")
    assert _invalid(_screen(ACQUIRE, headers={"x-actor": "op\u0000"}), "x-actor")


def test_lone_surrogates_in_envelope_text_are_invalid():
    assert _invalid(_screen(ACQUIRE, message_id="c\ud800"), "message_id")
    assert _invalid(_screen(ACQUIRE, headers={"x-actor": "\udfff"}), "x-actor")


def test_observation_times_need_an_offset_and_may_not_lie_far_ahead():
    report = {"type": "ReportServerStatus", "node": "backup", "activity": "running"}
    naive = _screen({**report, "observed_at": "2026-01-01T00:00:00"})
    assert _invalid(naive, "observed_at")
    sync = {"type": "ReportPairSync", "synced": True, "observed_at": "2026-01-01T00:00:00"}
    assert _invalid(_screen(sync), "observed_at")
    ahead = (NOW + timedelta(seconds=301)).isoformat()
    assert _invalid(_screen({**report, "observed_at": ahead}), "observed_at")
    skewed = (NOW + timedelta(seconds=299)).isoformat()
    assert isinstance(_screen({**report, "observed_at": skewed}), Accepted)


def test_integers_beyond_64_bits_are_invalid():
    sync = {"type": "ReportPairSync", "synced": False, "observed_at": NOW.isoformat()}
    assert _invalid(_screen({**sync, "lag_events": INT64_MAX + 1}), "lag_events")
    assert isinstance(_screen({**sync, "lag_events": INT64_MAX}), Accepted)
    assert _invalid(_screen({**sync, "lag_seconds": "inf"}), "lag_seconds")
    assert _invalid(_screen({**ACQUIRE, "count": 10**30}), "count")


def test_an_exception_in_screening_is_an_invalid_reply_not_a_stuck_message(monkeypatch):
    activate = orjson.dumps({"type": "DeactivateLicense", "license_id": "LIC-1"})

    def broken(*args, **kwargs):
        raise TypeError("a bug in screening")

    monkeypatch.setattr("services.writer.writer.intake.screen", broken)
    got = _writer_screens(activate, "c1", "reply", None, "key")
    assert isinstance(got, Refused) and got.reply.error.code == ErrorCode.INVALID
    codec.dumps_reply(got.reply)
    assert isinstance(_writer_screens(activate, "c1", None, None, "key"), DeadLetter)


def test_a_signature_header_that_is_not_ascii_is_unauthorized_not_a_crash():
    activate = orjson.dumps({"type": "DeactivateLicense", "license_id": "LIC-1"})
    for signature in ("\ud800", "é"):
        got = _writer_screens(activate, "c1", "reply", {"x-signature": signature}, "key")
        assert isinstance(got, Refused) and got.reply.error.code == ErrorCode.UNAUTHORIZED
