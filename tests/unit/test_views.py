"""The node's views: the JSON keys and values /api/servers and /api/health serve (pure)."""

from __future__ import annotations

from datetime import timedelta

from events import commands as c
from events.status import ReportServerStatus
from services.views import GoneTile, Health, Heartbeat, ServersView, ServerTile
from tests.unit.harness import T0, Writer


def paired() -> Writer:
    w = Writer()
    w.run(c.RegisterServer(node="primary", server_id="PRIMARY_A", api_url="http://p:8081"))
    w.run(c.RegisterServer(node="backup", server_id="BACKUP_B"))
    w.run(c.PairServers(primary="primary", backup="backup"))
    return w


def test_servers_view_serves_the_same_keys_and_values_as_ever():
    w = paired()
    w.run(
        ReportServerStatus(
            node="primary",
            activity="stopped",
            reason="no heartbeat",
            observed_at=T0 + timedelta(seconds=5),
        )
    )
    since = w.state.servers["primary"].activity_since
    assert since is not None and since.tzinfo is not None
    view = ServersView.of(w.state, "plant").model_dump(mode="json")
    assert view == {
        "site": "plant",
        "pair": {"primary": "primary", "backup": "backup"},
        "pair_status": "Primary not available",
        "sync": {"synced": True, "lag_events": 0, "lag_seconds": 0.0, "reason": "", "since": None},
        "writer": {"node": "a", "server_id": "A_X", "epoch": 1},
        "servers": [
            {
                "node": "primary",
                "role": "primary",
                "server_id": "PRIMARY_A",
                "status": "Stopped",
                "activity": "stopped",
                "since": since.isoformat(),
                "reason": "no heartbeat",
                "api_url": "http://p:8081",
                "ever_licensed": False,
                "licenses": [],
                "registered_at": T0.isoformat(),
            },
            {
                "node": "backup",
                "role": "backup",
                "server_id": "BACKUP_B",
                "status": "Running",
                "activity": "running",
                "since": T0.isoformat(),
                "reason": "registered",
                "api_url": None,
                "ever_licensed": False,
                "licenses": [],
                "registered_at": T0.isoformat(),
            },
        ],
    }
    assert since.isoformat().endswith("+00:00")  # datetime.isoformat, not pydantic's "Z"


def test_an_uninstalled_member_keeps_a_tile_that_says_only_that_it_is_gone():
    w = paired()
    w.run(c.UninstallServer(node="backup"))
    view = ServersView.of(w.state, "plant")
    assert view.model_dump(mode="json")["servers"][1] == {
        "node": "backup",
        "role": "backup",
        "server_id": None,
        "status": "Backup not available",
        "activity": "uninstalled",
    }
    parsed = ServersView.model_validate(view.model_dump(mode="json"))
    assert [type(t) for t in parsed.servers] == [ServerTile, GoneTile]
    assert parsed.api_urls() == {"primary": "http://p:8081"}


def test_readers_tolerate_what_is_missing_and_ignore_what_is_new():
    health = Health.model_validate({"status": "Recovering", "something_new": 1})
    assert (health.status, health.writer, health.offset) == ("Recovering", None, -1)
    assert health.restarts == 0 and health.last_rebuild is None
    tiles = ServersView.model_validate({"servers": [{"node": "x"}]}).servers
    assert tiles[0].node == "x" and tiles[0].role is None
    beat = Heartbeat.model_validate({"node": "p", "at": T0.isoformat(), "final": True})
    assert beat.at == T0 and beat.final and "at" not in beat.body() and "final" not in beat.body()
