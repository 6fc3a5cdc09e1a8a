"""LICENSING_LOG_FORMAT=json: what a log shipper reads from a node."""

from __future__ import annotations

import json

from events.commands import FeatureGrant


async def test_json_logs_are_one_object_per_line_with_site_node_and_the_decisions_command_id(
    site,
):
    node = site.start_node("primary", LICENSING_LOG_FORMAT="json", LICENSING_LOG_LEVEL="DEBUG")
    await node.wait_registered()
    async with site.client(actor="admin") as admin:
        grant = FeatureGrant(name="InTouch", version="2017", seats=1)
        assert (await admin.activate("LIC-J", [grant], command_id="cmd-json-activate")).ok
    node.stop()
    lines = [line for line in node.log_path.read_text().splitlines() if line.strip()]
    assert lines, "the node wrote no log"
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all(isinstance(r, dict) for r in records)
    for record in records:
        assert {"time", "level", "logger", "message"} <= record.keys(), record
        assert (record["site"], record["node"]) == (site.name, "primary"), record
    decided = [r for r in records if r.get("command_id") == "cmd-json-activate"]
    assert [r["event"] for r in decided] == ["LicenseActivated"]
