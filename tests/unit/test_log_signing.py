"""Node keys: parsing LICENSING_NODE_KEYS, signing with the first, verifying with all."""

from __future__ import annotations

import pytest

from services.auth.log_signing import HEADER, BadNodeKeys, NodeKeys

OLD = "old:" + "o" * 32
NEW = "new:" + "n" * 40
BODY = b'{"events":[]}'


def test_the_first_key_signs_and_every_listed_key_verifies():
    rotating = NodeKeys.from_setting(f"{NEW}, {OLD}")
    signature = rotating.sign(BODY)
    assert signature.startswith("new:") and len(signature) == len("new:") + 64
    assert rotating.verify(BODY, signature)
    # A node that has not yet moved the new key first still verifies what the others sign.
    assert NodeKeys.from_setting(f"{OLD},{NEW}").verify(BODY, signature)
    assert NodeKeys.from_setting(OLD).sign(BODY) != signature
    assert rotating.headers(BODY) == {HEADER: signature}


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        42,
        "new",
        "new:",
        "other:" + "0" * 64,  # a kid the site does not hold
        "new:" + "0" * 64,
        b"\xff\xfe",
    ],
)
def test_anything_but_a_signature_of_this_body_by_a_site_key_fails(header):
    assert not NodeKeys.from_setting(NEW).verify(BODY, header)


def test_a_signature_covers_the_exact_bytes_and_may_arrive_as_bytes():
    keys = NodeKeys.from_setting(NEW)
    signature = keys.sign(BODY)
    assert keys.verify(BODY, signature.encode())
    assert not keys.verify(BODY + b" ", signature)
    assert not NodeKeys.from_setting("new:" + "x" * 40).verify(BODY, signature)


@pytest.mark.parametrize(
    "setting",
    ["nokey", "a:short", ":" + "s" * 40, "bad kid:" + "s" * 40, f"{OLD},{OLD}"],
)
def test_malformed_settings_are_refused_with_a_reason(setting):
    with pytest.raises(BadNodeKeys):
        NodeKeys.from_setting(setting)


def test_no_keys_is_open_mode_and_says_so():
    for setting in (None, "", " , "):
        keys = NodeKeys.from_setting(setting)
        assert not keys.signed and keys.headers(BODY) == {}
        assert keys.describe().startswith("open")
        with pytest.raises(BadNodeKeys):
            keys.sign(BODY)
    assert NodeKeys.from_setting(NEW).describe().startswith("signed")


def test_a_secret_never_shows_in_a_repr():
    assert "n" * 32 not in repr(NodeKeys.from_setting(NEW))
