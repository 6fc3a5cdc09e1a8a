"""Vendor-signed entitlements: signing, verifying, and the writer's and the fence's checks."""

from __future__ import annotations

import base64
import itertools
from datetime import timedelta

import orjson
import pytest

from events import commands as c
from events.codec import event_from_dict
from events.licenses import LicenseActivated
from events.signed import SignedDocument
from events.writer import WriterPromoted
from services.domain.decide import Context, decide
from services.domain.evolve import apply
from services.domain.model import State
from services.trust import entitlement, keys, receipt, signed
from services.trust.keys import Trust
from tests.unit.harness import T0, at, grant

VENDOR = keys.new_private_key()
OTHER_VENDOR = keys.new_private_key()
TRUST = Trust.of(keys.public_text(VENDOR))


def terms(**changes) -> entitlement.Terms:
    fields = dict(
        license_id="LIC-1",
        serial="SN-1",
        customer="Plant 7",
        site="s",
        server_ids=["A_1", "B_1"],
        features=[grant(name="InTouch", version="2017", seats=5)],
        not_before=at(days=-1),
        not_after=at(days=30),
        nonce="n1",
        issued_at=at(days=-1),
    )
    return entitlement.Terms(**{**fields, **changes})


def command(document: SignedDocument) -> c.ActivateLicense:
    t = entitlement.read(document)
    return c.ActivateLicense(license_id=t.license_id, features=t.features, entitlement=document)


def edited(document: SignedDocument, change) -> SignedDocument:
    """The document with its payload decoded, changed, and re-encoded (the signature kept)."""
    data = orjson.loads(base64.b64decode(document.payload))
    change(data)
    payload = base64.b64encode(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).decode()
    return document.model_copy(update={"payload": payload})


class Site:
    """A pair A/B under one writer, deciding with a trust as the writer does."""

    def __init__(self, trust: Trust = TRUST, server_ids=("A_1", "B_1")):
        self.trust = trust
        self.ids = itertools.count(1)
        self.state = State()
        self.apply(WriterPromoted(epoch=1, node="a", server_id=server_ids[0], at=T0))
        for node, sid in zip("ab", server_ids, strict=True):
            self.run(c.RegisterServer(node=node, server_id=sid))
        self.run(c.PairServers(primary="a", backup="b"))

    def apply(self, event) -> str | None:
        self.state, ignored = apply(self.state, event, self.trust)
        return ignored

    def run(self, cmd, now=T0):
        ctx = Context(command_id=f"cmd-{next(self.ids)}", epoch=1, now=now, trust=self.trust)
        event = decide(self.state, cmd, ctx)
        assert self.apply(event) is None
        return event


def refused_code(event) -> str | None:
    return getattr(event, "code", None) if event.type == "CommandRefused" else None


def test_a_signed_entitlement_activates_on_the_pair_it_is_bound_to():
    site = Site()
    event = site.run(command(entitlement.issue(terms(), VENDOR)))

    assert isinstance(event, LicenseActivated) and event.entitlement is not None
    assert site.state.licenses["LIC-1"].serial == "SN-1"
    assert site.state.features[("InTouch", "2017")].total == 5


def test_the_file_is_json_and_reformatting_it_changes_nothing():
    document = entitlement.issue(terms(), VENDOR)
    text = orjson.dumps(orjson.loads(signed.dumps(document)))  # re-formatted
    assert entitlement.verify(signed.loads(text), TRUST) == terms()


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d["features"][0].update(seats=5_000_000),
        lambda d: d["features"].append({**d["features"][0], "name": "Historian"}),
        lambda d: d.update(not_after="2099-01-01T00:00:00Z"),
    ],
    ids=["seat count changed", "feature added", "window widened"],
)
def test_a_tampered_entitlement_is_refused_as_bad_signature(tamper):
    site = Site()
    document = edited(entitlement.issue(terms(), VENDOR), tamper)

    event = site.run(command(document))

    assert refused_code(event) == "bad_signature"
    assert "changed after the vendor signed it" in event.message
    assert not site.state.licenses


def test_a_signature_by_an_untrusted_key_is_refused():
    event = Site().run(command(entitlement.issue(terms(), OTHER_VENDOR)))
    assert refused_code(event) == "bad_signature"
    assert keys.key_id(keys.public_text(OTHER_VENDOR)) in event.message


def test_an_entitlement_for_other_server_ids_is_refused_and_names_both():
    event = Site().run(command(entitlement.issue(terms(server_ids=["X_9", "Y_9"]), VENDOR)))
    assert refused_code(event) == "wrong_server"
    assert "X_9, Y_9" in event.message and "A_1, B_1" in event.message


def test_an_entitlement_outside_its_activation_window_is_refused():
    site = Site()
    document = entitlement.issue(terms(not_after=at(days=1)), VENDOR)
    assert refused_code(site.run(command(document), now=at(days=1))) == "expired"
    assert refused_code(site.run(command(document), now=at(days=-2))) == "expired"
    assert isinstance(
        site.run(command(document), now=at(days=1) - timedelta(seconds=1)), LicenseActivated
    )


def test_the_same_entitlement_twice_is_already_activated_even_after_deactivation():
    site = Site()
    document = entitlement.issue(terms(), VENDOR)
    site.run(command(document))
    assert refused_code(site.run(command(document))) == "already_activated"
    site.run(c.DeactivateLicense(license_id="LIC-1"))
    assert refused_code(site.run(command(document))) == "already_activated"
    reissued_serial_only = entitlement.issue(terms(serial="SN-2"), VENDOR)
    assert refused_code(site.run(command(reissued_serial_only))) == "already_activated"
    reissued = entitlement.issue(terms(serial="SN-2", license_id="LIC-1b"), VENDOR)
    assert isinstance(site.run(command(reissued)), LicenseActivated)


def test_key_rotation_accepts_old_and_new_keys_and_refuses_a_removed_one():
    old, new = VENDOR, OTHER_VENDOR
    both = Trust.from_setting(f"{keys.public_text(old)}, {keys.public_text(new)}")
    site = Site(both)
    assert isinstance(site.run(command(entitlement.issue(terms(), old))), LicenseActivated)
    second = terms(license_id="LIC-2", serial="SN-2")
    assert isinstance(site.run(command(entitlement.issue(second, new))), LicenseActivated)

    only_new = Site(Trust.of(keys.public_text(new)))
    assert refused_code(only_new.run(command(entitlement.issue(terms(), old)))) == "bad_signature"


def test_without_vendor_keys_unsigned_activations_work_and_signed_ones_cannot_be_checked():
    site = Site(Trust())
    unsigned = c.ActivateLicense(license_id="U", features=[grant()])
    assert isinstance(site.run(unsigned), LicenseActivated)
    assert refused_code(site.run(command(entitlement.issue(terms(), VENDOR)))) == "bad_signature"


def test_with_vendor_keys_an_unsigned_activation_is_refused():
    event = Site().run(c.ActivateLicense(license_id="U", features=[grant()]))
    assert refused_code(event) == "bad_signature"
    assert "LICENSING_VENDOR_KEYS" in event.message


def test_a_command_whose_fields_differ_from_its_entitlement_is_refused():
    document = entitlement.issue(terms(), VENDOR)
    cmd = c.ActivateLicense(
        license_id="LIC-1",
        features=[grant(name="InTouch", version="2017", seats=500)],
        entitlement=document,
    )
    assert refused_code(Site().run(cmd)) == "bad_signature"


def forged(site: Site, document: SignedDocument | None, **changes) -> LicenseActivated:
    t = entitlement.read(document) if document else terms()
    fields = dict(
        command_id="forged",
        epoch=1,
        at=T0,
        license_id=t.license_id,
        features=t.features,
        server_ids=["A_1", "B_1"],
        entitlement=document,
    )
    return LicenseActivated(**{**fields, **changes})


def test_the_fence_ignores_a_forged_activation_with_a_wrong_signature():
    site = Site()
    good = entitlement.issue(terms(), VENDOR)
    wrong_signature = good.model_copy(
        update={"signature": entitlement.issue(terms(serial="x"), VENDOR).signature}
    )
    assert site.apply(forged(site, wrong_signature)) == "bad_entitlement"
    assert site.apply(forged(site, None)) == "bad_entitlement"  # unsigned while keys are set
    more_seats = [grant(name="InTouch", version="2017", seats=9_999)]
    assert site.apply(forged(site, good, features=more_seats)) == "bad_entitlement"
    assert not site.state.licenses
    assert site.apply(forged(site, good)) is None
    assert site.state.features[("InTouch", "2017")].total == 5


def test_a_receipt_verifies_with_the_site_key_and_a_changed_one_does_not():
    site_key = keys.new_private_key()
    sealed = receipt.sign(
        receipt.Terms(
            site="s",
            license_id="LIC-1",
            serial="SN-1",
            server_ids=["A_1", "B_1"],
            deactivated_at=T0,
            log_offset=42,
            command_id="c1",
        ),
        site_key,
    )
    assert receipt.verify(sealed, keys.public_text(site_key)).log_offset == 42
    with pytest.raises(receipt.BadReceipt):
        changed = edited(sealed, lambda d: d.update(log_offset=43))
        receipt.verify(changed, keys.public_text(site_key))
    with pytest.raises(receipt.BadReceipt):
        receipt.verify(sealed, keys.public_text(keys.new_private_key()))


def test_an_entitlement_cannot_pass_for_a_receipt():
    document = entitlement.issue(terms(), VENDOR)
    with pytest.raises(receipt.BadReceipt):
        as_receipt = document.model_copy(update={"format": receipt.FORMAT})
        receipt.verify(as_receipt, keys.public_text(VENDOR))


def test_a_v1_license_activated_upcasts_to_an_unsigned_v2():
    event = event_from_dict(
        {
            "type": "LicenseActivated",
            "schema_version": 1,
            "command_id": "c",
            "epoch": 1,
            "at": "2026-01-01T00:00:00Z",
            "license_id": "L",
            "features": [],
            "server_ids": [],
        }
    )
    assert event.schema_version == 2 and event.entitlement is None
