"""The Activate page's command: an upload or a paste becomes the ActivateLicense the CLI sends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from events.commands import FeatureGrant
from events.vocabulary import ErrorCode
from services.trust import entitlement, keys, signed
from services.web import activation

VENDOR = keys.new_private_key()
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def document():
    terms = entitlement.Terms(
        license_id="LIC-7",
        serial="SN-7",
        customer="Plant 7",
        site="s",
        server_ids=["A_1"],
        features=[FeatureGrant(name="InTouch", version="2017", seats=5)],
        not_before=NOW - timedelta(days=1),
        not_after=NOW + timedelta(days=30),
        nonce="n",
        issued_at=NOW,
    )
    return entitlement.issue(terms, VENDOR)


@pytest.mark.parametrize("as_text", [True, False])
def test_a_signed_file_travels_whole_as_text_or_json(as_text):
    doc = document()
    text = signed.dumps(doc).decode()
    command = activation.command_of({"entitlement": text if as_text else orjson.loads(text)})
    assert command.entitlement == doc
    assert command.license_id == "LIC-7"
    assert command.features == [FeatureGrant(name="InTouch", version="2017", seats=5)]


def test_an_unsigned_file_and_the_unsigned_form_make_unsigned_commands():
    unsigned = {"license_id": " U1 ", "features": [{"name": "X", "version": "1", "seats": 2}]}
    from_file = activation.command_of({"entitlement": orjson.dumps(unsigned).decode()})
    from_form = activation.command_of(unsigned)
    assert from_file == from_form
    assert from_file.entitlement is None and from_file.license_id == "U1"


@pytest.mark.parametrize(
    "body, words",
    [
        ({"entitlement": "not json"}, "it is not JSON"),
        ({"entitlement": "[1]"}, "expected a JSON object"),
        ({"entitlement": '{"signature": "x"}'}, "not a signed document"),
        ({"license_id": "L"}, "an unsigned entitlement is JSON"),
        ({"features": []}, "license_id is required"),
    ],
)
def test_what_is_not_an_entitlement_is_refused_in_words(body, words):
    with pytest.raises(activation.NotAnEntitlement, match=words):
        activation.command_of(body)


def test_a_changed_payload_is_still_sent_for_the_writer_to_refuse():
    """The page does not judge signatures: the writer does, and says bad_signature."""
    doc = document()
    terms = orjson.loads(keys.unb64(doc.payload))
    terms["features"][0]["seats"] = 5000
    changed = doc.model_copy(update={"payload": keys.b64(orjson.dumps(terms))})
    command = activation.command_of({"entitlement": signed.dumps(changed).decode()})
    assert command.features[0].seats == 5000 and command.entitlement == changed


def test_every_activation_refusal_has_words_and_what_to_do():
    for code in (
        ErrorCode.BAD_SIGNATURE,
        ErrorCode.WRONG_SERVER,
        ErrorCode.EXPIRED,
        ErrorCode.ALREADY_ACTIVATED,
    ):
        words = activation.explain(code)
        assert words["title"] and words["advice"], code
    assert activation.explain(ErrorCode.INVALID) == {}
    assert activation.explain(None) == {}
