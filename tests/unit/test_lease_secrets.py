"""Lease secrets: only the grant's reply holds the proof; the log holds its hash (issue 9)."""

from __future__ import annotations

import orjson
import pytest
from pydantic import ValidationError

from events import codec
from events import commands as c
from events.leases import LeaseGranted
from services.config.settings import Settings
from services.domain import lease_secrets
from services.domain.decide import Context, decide
from services.domain.evolve import apply
from services.writer.leases import LeaseClock
from tests.unit.harness import T0, Writer, at, grant

KEY = "k" * 32
FEATURE = "FactoryTalk View SE Client"


def _held(w: Writer) -> LeaseGranted:
    w.activate("LIC-1", grant(seats=2))
    lease = w.acquire(command_id="acq-1")
    assert isinstance(lease, LeaseGranted)
    return lease


def test_the_grant_logs_only_the_hash_of_a_secret_derived_from_the_command_id():
    w = Writer()
    lease = _held(w)
    secret = lease_secrets.secret_for(None, "acq-1")
    assert lease.secret_hash == lease_secrets.hash_of(secret) != secret
    assert secret not in codec.dumps_events([lease]).decode()
    # With the site's node key the secret is an HMAC nobody without the key can repeat, and
    # every writer of the site (same key) derives the same one for a retry.
    assert lease_secrets.secret_for(KEY, "acq-1") == lease_secrets.secret_for(KEY, "acq-1")
    assert lease_secrets.secret_for(KEY, "acq-1") not in (
        secret,
        lease_secrets.secret_for(KEY, "x"),
    )
    command = c.Acquire(feature=FEATURE, version="13.00", device="d", user="u")
    keyed = decide(w.state, command, Context("acq-2", 1, T0, lease_key=KEY))
    assert keyed.secret_hash == lease_secrets.hash_of(lease_secrets.secret_for(KEY, "acq-2"))


def test_a_release_without_the_right_secret_is_unauthorized_and_the_lease_stays():
    w = Writer()
    lease = _held(w)
    for cid, secret in (("rel-none", None), ("rel-wrong", "f" * 64)):
        event = w.run(c.Release(lease_id=lease.lease_id, lease_secret=secret), command_id=cid)
        assert event.type == "CommandRefused" and event.code == "unauthorized"
        assert "secret" in event.message
        assert lease.lease_id in w.state.leases and w.feature().in_use == 1
    released = w.release(lease.lease_id, command_id="rel-right")  # the harness holds the secret
    assert released.type == "LeaseReleased" and w.feature().in_use == 0


def test_a_force_release_needs_no_secret_in_the_domain_the_admin_signature_is_checked_at_intake():
    w = Writer()
    lease = _held(w)
    event = w.run(c.Release(lease_id=lease.lease_id, reason="stuck"), actor="admin")
    assert event.type == "LeaseReleased" and event.reason == "stuck"


def test_a_lease_granted_before_secrets_needs_no_proof():
    w = Writer()
    w.activate("LIC-1", grant(seats=1))
    v1 = LeaseGranted(
        lease_id="L-old",
        feature=FEATURE,
        version="13.00",
        device="d",
        user="u",
        count=1,
        lease_seconds=60,
        expires_at=at(60),
        command_id="old",
        epoch=1,
        at=T0,
    ).model_dump(mode="json", exclude={"secret_hash"})
    old = codec.loads_events(orjson.dumps({"events": [{**v1, "schema_version": 1}]}))[0]
    assert old.schema_version == 2 and old.secret_hash is None
    w.state, ignored = apply(w.state, old)
    assert ignored is None
    assert w.run(c.Release(lease_id="L-old")).type == "LeaseReleased"


def test_a_v1_renewal_is_upcast_to_leases_without_secrets():
    v1 = {"type": "RenewLeases", "lease_ids": ["L-1", "L-2"]}
    renewal = codec.loads_command(orjson.dumps(v1))
    assert renewal.schema_version == 2
    assert [(h.lease_id, h.lease_secret) for h in renewal.leases] == [("L-1", None), ("L-2", None)]


def test_renewals_say_which_leases_were_renewed_gone_or_refused():
    w = Writer()
    lease = _held(w)
    secret = w.secrets[lease.lease_id]
    clock = LeaseClock()
    held = [
        c.HeldLease(lease_id=lease.lease_id, lease_secret=secret),
        c.HeldLease(lease_id=lease.lease_id, lease_secret="0" * 64),
        c.HeldLease(lease_id=lease.lease_id),
        c.HeldLease(lease_id="L-gone", lease_secret=secret),
    ]
    renewed, gone, refused = clock.renew(w.state, held, at(30))
    assert renewed == [lease.lease_id] and gone == ["L-gone"]
    assert refused == [lease.lease_id, lease.lease_id]
    assert clock.deadlines[lease.lease_id] == at(30 + 60)
    clock = LeaseClock()
    clock.renew(w.state, held[1:3], at(30))
    assert lease.lease_id not in clock.deadlines  # a refused renewal extends nothing


def test_the_signature_window_must_stay_under_the_answer_memory():
    assert Settings().signature_window == 300
    with pytest.raises(ValidationError, match="answer memory"):
        Settings(signature_window=12 * 3600)
    with pytest.raises(ValidationError, match="NODE_KEYS"):
        Settings(node_keys="n1:short")
    keys = Settings(node_keys=f"n2:{'b' * 32},n1:{'a' * 32}").node_key_secrets()
    assert keys == ("b" * 32, "a" * 32)  # the first signs, both verify
