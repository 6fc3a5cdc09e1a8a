"""The writer's screening of a delivery: decide it, refuse it in words, or dead-letter it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson

from events.codec import dumps
from events.commands import Acquire, ActivateLicense, FeatureGrant, RegisterServer, Release
from events.status import ReportPairSync, ReportServerStatus
from events.vocabulary import Activity, Authority
from services.auth import signing
from services.auth.signing import Keys
from services.writer.intake import Accepted, DeadLetter, Refused, screen

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
OPEN = Keys()
ADMIN_KEY = "admin-key"
NODE_KEY, OLD_NODE_KEY = "n" * 32, "o" * 32
KEYS = Keys(admin=ADMIN_KEY, node=(NODE_KEY, OLD_NODE_KEY))
ACQUIRE = dumps(Acquire(feature="F", version="1", device="d", user="u"))
ACTIVATE = dumps(
    ActivateLicense(license_id="L", features=[FeatureGrant(name="F", version="1", seats=1)])
)


def test_a_good_command_is_accepted_with_its_id_and_actor():
    got = screen(ACQUIRE, "c1", "reply", {"x-actor": "op"}, OPEN, NOW)
    assert isinstance(got, Accepted) and (got.command_id, got.actor) == ("c1", "op")


def test_what_cannot_be_read_or_answered_is_dead_lettered():
    assert isinstance(screen(b"\xff", "c1", "reply", None, OPEN, NOW), DeadLetter)
    assert isinstance(
        screen(orjson.dumps({"type": "Nope"}), "c1", "reply", None, OPEN, NOW), DeadLetter
    )
    assert screen(ACQUIRE, "c1", None, None, OPEN, NOW) == DeadLetter("no reply_to")
    assert screen(b" " * (256 * 1024 + 1), "c1", "reply", None, OPEN, NOW) == DeadLetter(
        "too large"
    )


def test_invalid_commands_and_envelopes_are_refused_in_words():
    bad = screen(
        orjson.dumps({**orjson.loads(ACQUIRE), "count": 0}), "c1", "reply", None, OPEN, NOW
    )
    assert (
        isinstance(bad, Refused)
        and bad.reply.error.code == "invalid"
        and "count" in bad.reply.error.message
    )
    no_id = screen(ACQUIRE, None, "reply", None, OPEN, NOW)
    assert isinstance(no_id, Refused) and "message_id" in no_id.reply.error.message
    long_actor = screen(ACQUIRE, "c1", "reply", {"x-actor": "a" * 200}, OPEN, NOW)
    assert isinstance(long_actor, Refused) and "x-actor" in long_actor.reply.error.message


def signed(
    key: str, authority: Authority, command_id: str, body: bytes, actor=None, at=NOW
) -> dict:
    headers = signing.headers(key, authority, command_id, actor, body, at)
    return {**headers, **({"x-actor": actor} if actor else {})}


def test_admin_commands_need_the_right_signature_when_the_site_has_a_key():
    assert isinstance(screen(ACTIVATE, "c1", "reply", {"x-actor": "alice"}, OPEN, NOW), Accepted)
    unsigned = screen(ACTIVATE, "c1", "reply", {"x-actor": "alice"}, KEYS, NOW)
    assert isinstance(unsigned, Refused) and unsigned.reply.error.code == "unauthorized"
    good = signed(ADMIN_KEY, Authority.ADMIN, "c1", ACTIVATE, actor="alice")
    assert isinstance(screen(ACTIVATE, "c1", "reply", good, KEYS, NOW), Accepted)
    # The actor is signed: another name on the same signature is refused.
    assert isinstance(
        screen(ACTIVATE, "c1", "reply", {**good, "x-actor": "mallory"}, KEYS, NOW), Refused
    )
    # So is the command id: a captured signature does not carry over to a new command id.
    assert isinstance(screen(ACTIVATE, "c2", "reply", good, KEYS, NOW), Refused)
    # A node key is no admin key, whatever the header claims.
    as_node = signed(NODE_KEY, Authority.ADMIN, "c1", ACTIVATE, actor="alice")
    assert isinstance(screen(ACTIVATE, "c1", "reply", as_node, KEYS, NOW), Refused)
    assert isinstance(screen(ACQUIRE, "c2", "reply", None, KEYS, NOW), Accepted)  # products: no key


def test_a_signature_outside_the_window_is_unauthorized_in_words_about_clocks_and_replays():
    old = signed(ADMIN_KEY, Authority.ADMIN, "c1", ACTIVATE, at=NOW - timedelta(seconds=301))
    ahead = signed(ADMIN_KEY, Authority.ADMIN, "c1", ACTIVATE, at=NOW + timedelta(seconds=301))
    for headers in (old, ahead):
        got = screen(ACTIVATE, "c1", "reply", headers, KEYS, NOW)
        assert isinstance(got, Refused) and got.reply.error.code == "unauthorized"
        assert "clock" in got.reply.error.message and "replay" in got.reply.error.message
    inside = signed(ADMIN_KEY, Authority.ADMIN, "c1", ACTIVATE, at=NOW - timedelta(seconds=299))
    assert isinstance(screen(ACTIVATE, "c1", "reply", inside, KEYS, NOW), Accepted)
    narrow = Keys(admin=ADMIN_KEY, window=timedelta(seconds=10))
    assert isinstance(screen(ACTIVATE, "c1", "reply", inside, narrow, NOW), Refused)


def test_a_release_with_a_reason_is_a_force_release_and_needs_the_admin_key():
    force = dumps(Release(lease_id="L-1", reason="stuck"))
    as_admin = {"x-actor": "admin"}  # a header anyone can write
    got = screen(force, "c1", "reply", as_admin, KEYS, NOW)
    assert isinstance(got, Refused) and got.reply.error.code == "unauthorized"
    assert "force-release" in got.reply.error.message
    good = signed(ADMIN_KEY, Authority.ADMIN, "c1", force, actor="admin")
    assert isinstance(screen(force, "c1", "reply", good, KEYS, NOW), Accepted)
    own = dumps(Release(lease_id="L-1", lease_secret="s"))  # the holder: the domain checks it
    assert isinstance(screen(own, "c1", "reply", None, KEYS, NOW), Accepted)


NODE_COMMANDS = [
    RegisterServer(node="b", server_id="B_1"),
    ReportServerStatus(node="b", activity=Activity.RUNNING, observed_at=NOW, reason="r"),
    ReportPairSync(synced=False, observed_at=NOW, reason="r"),
]


def test_node_commands_need_a_node_or_admin_signature_when_the_site_has_node_keys():
    for command in NODE_COMMANDS:
        body = dumps(command)
        assert isinstance(screen(body, "c1", "reply", None, OPEN, NOW), Accepted)  # open site
        got = screen(body, "c1", "reply", None, KEYS, NOW)
        assert isinstance(got, Refused) and got.reply.error.code == "unauthorized", command
        assert "node key" in got.reply.error.message
        for key, authority in (
            (NODE_KEY, Authority.NODE),
            (OLD_NODE_KEY, Authority.NODE),  # every listed key verifies (rotation)
            (ADMIN_KEY, Authority.ADMIN),
        ):
            good = signed(key, authority, "c1", body)
            assert isinstance(screen(body, "c1", "reply", good, KEYS, NOW), Accepted), command
        forged = signed("x" * 32, Authority.NODE, "c1", body)
        assert isinstance(screen(body, "c1", "reply", forged, KEYS, NOW), Refused)
    # Node keys alone close node commands; the admin key alone does not.
    admin_only = Keys(admin=ADMIN_KEY)
    assert isinstance(
        screen(dumps(NODE_COMMANDS[0]), "c1", "reply", None, admin_only, NOW), Accepted
    )
