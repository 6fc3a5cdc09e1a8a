"""Old schema versions are upcast dict-to-dict before validation (docs/protocol.md section 11)."""

from __future__ import annotations

import orjson
import pytest

from events import codec, upcasting
from events import commands as c
from events.upcasting import upcast, upcaster


@pytest.fixture
def registry():
    """Register upcasters for the test only; the real registry is restored afterwards."""
    saved = dict(upcasting._UPCASTERS)
    yield
    upcasting._UPCASTERS.clear()
    upcasting._UPCASTERS.update(saved)


def test_upcasters_chain_one_version_at_a_time(registry):
    @upcaster("TestOnlyThing", 1)
    def v1_to_v2(data):
        data["seats"] = data.pop("licenses")
        return data

    @upcaster("TestOnlyThing", 2)
    def v2_to_v3(data):
        data["label"] = data["label"].upper()
        return data

    old = {"type": "TestOnlyThing", "schema_version": 1, "licenses": 4, "label": "x"}
    assert upcast(old, 3) == {
        "type": "TestOnlyThing",
        "schema_version": 3,
        "seats": 4,
        "label": "X",
    }
    assert old == {
        "type": "TestOnlyThing",
        "schema_version": 1,
        "licenses": 4,
        "label": "x",
    }  # not mutated
    # A message already at version 2 only takes the second step.
    assert (
        upcast({"type": "TestOnlyThing", "schema_version": 2, "seats": 1, "label": "y"}, 3)["label"]
        == "Y"
    )


def test_a_message_without_schema_version_is_version_1(registry):
    upcaster("TestOnlyThing", 1)(lambda d: {**d, "new": True})
    assert upcast({"type": "TestOnlyThing"}, 2) == {
        "type": "TestOnlyThing",
        "new": True,
        "schema_version": 2,
    }


def test_a_current_message_passes_through_unchanged():
    data = {"type": "Acquire", "schema_version": 1, "device": "d"}
    assert upcast(data, 1) == data


def test_a_missing_upcaster_is_an_error():
    with pytest.raises(ValueError, match="no upcaster for TestOnlyThing v1"):
        upcast({"type": "TestOnlyThing", "schema_version": 1}, 2)


def test_the_codec_upcasts_an_old_command_before_validating_it(registry, monkeypatch):
    # Pretend Acquire is at version 2, where version 1 called the device "host".
    monkeypatch.setattr(c.Acquire, "SCHEMA_VERSION", 2)

    @upcaster("Acquire", 1)
    def host_to_device(data):
        data["device"] = data.pop("host")
        return data

    old = {
        "type": "Acquire",
        "schema_version": 1,
        "feature": "f",
        "version": "1",
        "host": "hmi-1",
        "user": "u",
    }
    command = codec.loads_command(orjson.dumps(old))
    assert isinstance(command, c.Acquire)
    assert command.device == "hmi-1" and command.schema_version == 2


def test_the_codec_reports_an_old_version_without_upcaster_as_unparseable(monkeypatch):
    monkeypatch.setattr(c.Acquire, "SCHEMA_VERSION", 2)
    old = {
        "type": "Acquire",
        "schema_version": 1,
        "feature": "f",
        "version": "1",
        "device": "d",
        "user": "u",
    }
    with pytest.raises(codec.Unparseable):
        codec.loads_command(orjson.dumps(old))


def test_the_codec_upcasts_old_events_read_back_from_the_log(registry, monkeypatch):
    from events.leases import LeaseReleased

    # Pretend LeaseReleased is at version 2, where version 1 called the reason "note".
    monkeypatch.setattr(LeaseReleased, "SCHEMA_VERSION", 2)
    upcaster("LeaseReleased", 1)(
        lambda d: {**{k: v for k, v in d.items() if k != "note"}, "reason": d.get("note")}
    )

    old = {
        "type": "LeaseReleased",
        "schema_version": 1,
        "command_id": "c",
        "epoch": 1,
        "at": "2024-03-01T12:00:00Z",
        "lease_id": "L-1",
        "note": "forced",
    }
    (event,) = codec.loads_events(orjson.dumps({"events": [old]}))
    assert (
        isinstance(event, LeaseReleased) and event.reason == "forced" and event.schema_version == 2
    )


def test_a_renewal_in_v2_shape_without_its_schema_version_is_taken_as_v2():
    from events.codec import loads_command

    body = b'{"type": "RenewLeases", "leases": [{"lease_id": "L-1", "lease_secret": "s"}]}'
    command = loads_command(body)
    assert [held.lease_id for held in command.leases] == ["L-1"]
    secret = command.leases[0].lease_secret
    assert getattr(secret, "get_secret_value", lambda: secret)() == "s"
