"""The wire codec: what goes in comes out, and what cannot be read is told apart."""

from __future__ import annotations

import orjson
import pytest
from pydantic import ValidationError

from events import codec
from events.commands import COMMAND_TYPES
from events.event_types import EVENT_TYPES
from events.replies import Reply
from tests.unit.samples import AT, EVENTS, acquire_body, every_command, every_event

ALL_COMMANDS = every_command()
ALL_EVENTS = every_event()


def test_samples_cover_every_command_and_event_type():
    assert {m.type for m in ALL_COMMANDS} == set(COMMAND_TYPES)
    assert {e.type for e in ALL_EVENTS} == set(EVENT_TYPES)


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=lambda m: m.type)
def test_every_command_round_trips(command):
    body = codec.dumps(command)
    parsed = codec.loads_command(body)
    assert type(parsed) is type(command)
    assert parsed == command
    assert orjson.loads(body)["type"] == command.type
    assert orjson.loads(body)["schema_version"] == type(command).SCHEMA_VERSION


def test_every_event_round_trips_in_one_stream_message():
    parsed = codec.loads_events(codec.dumps_events(ALL_EVENTS))
    assert [type(e) for e in parsed] == [type(e) for e in ALL_EVENTS]
    assert parsed == ALL_EVENTS


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: e.type)
def test_canonical_bytes_survive_a_round_trip(event):
    # Every node digests the canonical bytes of what it read: they must not depend on who parsed it.
    (parsed,) = codec.loads_events(codec.dumps_events([event]))
    assert codec.canonical(parsed) == codec.canonical(event)


def test_canonical_bytes_have_sorted_keys_and_tell_events_apart():
    event = EVENTS[4]
    keys = list(orjson.loads(codec.canonical(event)))
    assert keys == sorted(keys)
    other = event.model_copy(update={"count": event.count + 1})
    assert codec.canonical(other) != codec.canonical(event)


def test_datetimes_travel_as_iso_8601_with_their_offset():
    data = orjson.loads(codec.dumps(EVENTS[0]))
    assert data["at"] in ("2024-03-01T12:00:00Z", "2024-03-01T12:00:00+00:00")
    assert codec.loads_events(codec.dumps_events([EVENTS[0]]))[0].at == AT


def test_an_empty_stream_message_is_an_empty_list():
    assert codec.loads_events(codec.dumps_events([])) == []


def test_replies_round_trip_and_leave_out_what_is_not_set():
    ok = Reply.success("c1", lease_id="L-1", count=2)
    bad = Reply.failure("c2", "denied", "no seats", reason="no_seats")
    assert codec.loads_reply(codec.dumps_reply(ok)) == ok
    assert codec.loads_reply(codec.dumps_reply(bad)) == bad
    assert "error" not in orjson.loads(codec.dumps_reply(ok))
    assert orjson.loads(codec.dumps_reply(bad)) == {
        "ok": False,
        "command_id": "c2",
        "error": {"code": "denied", "message": "no seats", "reason": "no_seats"},
    }


def test_license_and_reservation_commands_are_admin_and_product_commands_are_not():
    for name in ("ActivateLicense", "DeactivateLicense", "Reserve", "CancelReservation"):
        assert COMMAND_TYPES[name].ADMIN, name
    for name in ("Acquire", "Release", "RenewLeases"):
        assert not COMMAND_TYPES[name].ADMIN, name


# -- what cannot be read at all: dead-lettered ------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"garbage",
        b"{not json",
        b"\xff\xfe",
        b"[]",
        b"[1, 2]",
        b'"Acquire"',
        b"42",
        b"null",
        b"{}",
        b'{"feature": "x"}',
        b'{"type": 5}',
        b'{"type": null}',
        b'{"type": "Nope"}',
        b'{"type": "acquire"}',
        b'{"type": "LeaseGranted"}',  # an event is not a command
    ],
    ids=repr,
)
def test_unreadable_commands_are_unparseable(body):
    with pytest.raises(codec.Unparseable):
        codec.loads_command(body)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"garbage",
        b"[]",
        b"null",
        b"{}",
        b'{"events": {}}',
        b'{"events": [1]}',
        b'{"events": ["x"]}',
        b'{"events": [{"type": "Nope"}]}',
        b'{"events": [{}]}',
        b'{"events": [{"type": "Acquire"}]}',  # a command is not an event
    ],
    ids=repr,
)
def test_unreadable_stream_messages_are_unparseable(body):
    with pytest.raises(codec.Unparseable):
        codec.loads_events(body)


@pytest.mark.parametrize("version", [0, -1, None, "x", [1]], ids=repr)
def test_an_unreadable_schema_version_is_unparseable_not_a_crash(version):
    with pytest.raises(codec.Unparseable):
        codec.loads_command(orjson.dumps({**acquire_body(), "schema_version": version}))


# -- what parses but has the wrong shape: an `invalid` reply ----------------------


@pytest.mark.parametrize(
    "body",
    [
        acquire_body(device=None),  # missing field
        acquire_body(extra="field"),  # unknown fields are an error, not ignored
        acquire_body(count="many"),
        acquire_body(count=1.5),
        acquire_body(feature=["a"]),
        acquire_body(feature=""),
        acquire_body(device="   "),  # whitespace only is empty once stripped
        {
            "type": "ActivateLicense",
            "license_id": "L",
            "features": [{"name": "f", "version": "1"}],
        },  # no seats
        {
            "type": "ActivateLicense",
            "license_id": "L",
            "features": [{"name": "f", "version": "1", "seats": 1, "expires_at": "next tuesday"}],
        },
        {"type": "Release"},
        {"type": "RenewLeases", "lease_ids": "L-1"},
    ],
    ids=repr,
)
def test_wrong_shapes_raise_validation_error(body):
    with pytest.raises(ValidationError):
        codec.loads_command(orjson.dumps(body))


def test_a_bad_event_shape_raises_validation_error():
    good = orjson.loads(codec.dumps_events([EVENTS[4]]))
    del good["events"][0]["lease_id"]
    with pytest.raises(ValidationError):
        codec.loads_events(orjson.dumps(good))


def test_names_are_stripped_of_surrounding_whitespace():
    command = codec.loads_command(orjson.dumps(acquire_body(device="  hmi-1 ", user="\talice\n")))
    assert (command.device, command.user) == ("hmi-1", "alice")


def test_validation_errors_are_described_by_field_path_for_operators():
    with pytest.raises(ValidationError) as info:
        codec.loads_command(orjson.dumps(acquire_body(device=None, count=0)))
    text = codec.describe_validation_error(info.value)
    assert "device: Field required" in text
    assert "count:" in text
    assert "Acquire" not in text  # the discriminator is noise in the path
    with pytest.raises(ValidationError) as info:
        codec.loads_command(
            orjson.dumps(
                {
                    "type": "ActivateLicense",
                    "license_id": "L",
                    "features": [{"name": "f", "version": "1", "seats": 0}],
                }
            )
        )
    assert "features.0.seats:" in codec.describe_validation_error(info.value)


def _one_by_one(items: list) -> list | str:
    try:
        return [codec.event_from_dict(item) for item in items]
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


def _at_once(items: list) -> list | str:
    try:
        return codec.events_from_dicts(items)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


def _grant_dict() -> dict:
    grant = next(e for e in ALL_EVENTS if e.type == "LeaseGranted")
    return orjson.loads(codec.dumps_events([grant]))["events"][0]


def _variants() -> list[list]:
    """Messages the list call must read as event_from_dict does, or leave to it."""
    every = orjson.loads(codec.dumps_events(ALL_EVENTS))["events"]
    grant = _grant_dict()
    unversioned = {k: v for k, v in grant.items() if k != "schema_version"}
    unversioned["secret_hash"] = "dropped by the v1 upcaster"
    return [
        every,
        [grant, {**grant, "schema_version": 1, "secret_hash": "kept?"}],  # v1: upcast
        [unversioned],  # no version is version 1: upcast, even with a secret_hash
        [{**grant, "schema_version": "2"}],  # not an integer: item by item
        [{**grant, "schema_version": 3}],  # newer than the model: read as it is
        [{**grant, "schema_version": 0}],  # no upcaster: Unparseable
        [grant, {**grant, "count": "3"}],  # lax
        [grant, {**grant, "device": "a\x00b"}],  # not storable
        [grant, {**grant, "type": "NoSuchEvent"}],
        [grant, {"type": "LeaseGranted"}],
        [grant, "not an object"],
        [{**grant, "device": "  padded  "}],
    ]


@pytest.mark.parametrize("items", _variants())
def test_a_message_validated_at_once_is_read_as_event_by_event(items):
    assert _at_once(items) == _one_by_one(items)
    if isinstance(_at_once(items), list):
        for at_once, alone in zip(_at_once(items), _one_by_one(items), strict=True):
            assert codec.canonical(at_once) == codec.canonical(alone)


def test_an_unversioned_grant_is_upcast_and_loses_its_secret_hash():
    grant = {k: v for k, v in _grant_dict().items() if k != "schema_version"}
    grant["secret_hash"] = "dropped by the v1 upcaster"
    (event,) = codec.events_from_dicts([grant])
    assert event.schema_version == 2 and event.secret_hash is None
