"""A projector killed mid-batch resumes from its checkpoint without counting anything twice."""

from __future__ import annotations

from tests.support.fake_log import license_events, publish_events
from tests.support.waiting import wait_for

EVENTS = 30_000


async def test_kill_9_during_catch_up_then_resume_matches_a_clean_replay(site):
    events, expected = license_events(EVENTS)
    await publish_events(site.name, events, per_message=3)

    victim = site.start_node("victim")

    async def partway():
        h = await victim.health()
        return h and 0 < h["events_applied"] < EVENTS and h

    at_kill = await wait_for(partway, 30, "the node partway through the log", interval=0.01)
    victim.kill()
    victim = site.start_node("victim")
    clean = site.start_node("clean")

    await victim.wait_registered(timeout=90)
    await clean.wait_registered(timeout=90)

    async def together():
        a, b = await victim.health(), await clean.health()
        return a and b and a["offset"] == b["offset"] and a["events_applied"] >= EVENTS and (a, b)

    resumed, reference = await wait_for(together, 30, "both nodes at the same offset")
    resumed, reference = await site.quiet(victim, clean)  # nothing late still on its way

    assert 0 < at_kill["events_applied"] < EVENTS
    assert resumed["digest"] == reference["digest"]
    victim_models, clean_models = await site.read_models("victim"), await site.read_models("clean")
    assert victim_models == clean_models
    assert len(victim_models["event_log"]) == resumed["events_applied"]
    in_use = {(f[0], f[1]): f[4] for f in victim_models["features"]}
    assert in_use == {key: f.in_use for key, f in expected.features.items()}
    assert len(victim_models["usage"]) == len(expected.leases)
