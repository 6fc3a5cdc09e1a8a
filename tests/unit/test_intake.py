"""The writer's screening of a delivery: decide it, refuse it in words, or dead-letter it."""

from __future__ import annotations

import orjson

from events.codec import dumps
from events.commands import Acquire, ActivateLicense, FeatureGrant
from services.auth import signing
from services.writer.intake import Accepted, DeadLetter, Refused, screen

ACQUIRE = dumps(Acquire(feature="F", version="1", device="d", user="u"))
ACTIVATE = dumps(
    ActivateLicense(license_id="L", features=[FeatureGrant(name="F", version="1", seats=1)])
)


def test_a_good_command_is_accepted_with_its_id_and_actor():
    got = screen(ACQUIRE, "c1", "reply", {"x-actor": "op"}, None)
    assert isinstance(got, Accepted) and (got.command_id, got.actor) == ("c1", "op")


def test_what_cannot_be_read_or_answered_is_dead_lettered():
    assert isinstance(screen(b"\xff", "c1", "reply", None, None), DeadLetter)
    assert isinstance(screen(orjson.dumps({"type": "Nope"}), "c1", "reply", None, None), DeadLetter)
    assert screen(ACQUIRE, "c1", None, None, None) == DeadLetter("no reply_to")
    assert screen(b" " * (256 * 1024 + 1), "c1", "reply", None, None) == DeadLetter("too large")


def test_invalid_commands_and_envelopes_are_refused_in_words():
    bad = screen(orjson.dumps({**orjson.loads(ACQUIRE), "count": 0}), "c1", "reply", None, None)
    assert (
        isinstance(bad, Refused)
        and bad.reply.error.code == "invalid"
        and "count" in bad.reply.error.message
    )
    no_id = screen(ACQUIRE, None, "reply", None, None)
    assert isinstance(no_id, Refused) and "message_id" in no_id.reply.error.message
    long_actor = screen(ACQUIRE, "c1", "reply", {"x-actor": "a" * 200}, None)
    assert isinstance(long_actor, Refused) and "x-actor" in long_actor.reply.error.message


def test_admin_commands_need_the_right_signature_when_the_site_has_a_key():
    assert isinstance(
        screen(ACTIVATE, "c1", "reply", {"x-actor": "alice"}, None), Accepted
    )  # open site
    unsigned = screen(ACTIVATE, "c1", "reply", {"x-actor": "alice"}, "key")
    assert isinstance(unsigned, Refused) and unsigned.reply.error.code == "unauthorized"
    good = signing.sign("key", "c1", "alice", ACTIVATE)
    assert isinstance(
        screen(ACTIVATE, "c1", "reply", {"x-actor": "alice", "x-signature": good}, "key"), Accepted
    )
    # The actor is signed: another name on the same signature is refused.
    assert isinstance(
        screen(ACTIVATE, "c1", "reply", {"x-actor": "mallory", "x-signature": good}, "key"), Refused
    )
    assert isinstance(screen(ACQUIRE, "c2", "reply", None, "key"), Accepted)  # products need no key
