"""services/config/logs.py: one setup, readable by default, JSON on request."""

from __future__ import annotations

import json
import logging

import pytest

from services.config import logs


@pytest.fixture
def stderr(capsys):
    """What the handler (made on the sys.stderr of the test's call, capsys's) writes."""
    yield lambda: capsys.readouterr().err
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, logs._OurHandler)]:
        root.removeHandler(handler)


def test_json_gives_one_object_per_line_with_site_node_and_extra_fields(stderr):
    logs.setup_logging("json", logging.INFO, site="plant-1", node="primary")
    logging.getLogger("services.writer.writer").info(
        "decided %s", "LeaseGranted", extra={"command_id": "c-1", "event": "LeaseGranted"}
    )
    logging.getLogger("aiormq").debug("below the level: not written")
    [line] = stderr().splitlines()
    record = json.loads(line)
    assert record["message"] == "decided LeaseGranted"
    assert (record["level"], record["logger"]) == ("INFO", "services.writer.writer")
    assert (record["site"], record["node"]) == ("plant-1", "primary")
    assert (record["command_id"], record["event"]) == ("c-1", "LeaseGranted")
    assert record["time"].endswith("+00:00")


def test_text_stays_the_readable_line_and_a_second_setup_replaces_the_first(stderr):
    logs.setup_logging("json", logging.INFO, site="plant-1", node="primary")
    logs.setup_logging("text", logging.INFO, site="plant-1", node="watchdog")
    logging.getLogger("services.watchdog.service").warning("heartbeats again")
    [line] = stderr().splitlines()
    assert line.endswith(" watchdog WARNING services.watchdog.service: heartbeats again")
