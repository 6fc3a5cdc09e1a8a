"""One logging setup for the node, the watchdog and the CLI.

``LICENSING_LOG_FORMAT=text`` (the default) keeps the readable one-line format;
``json`` writes one JSON object per line: time, level, logger, message, site, node, and
whatever a call site passes as ``extra`` (the writer's ``command_id`` and ``event``).

python-json-logger, not structlog: every module here logs through the standard
``logging`` module, and python-json-logger is only a ``Formatter``. No call site changes,
and the records of aio-pika, aiormq and aiohttp come out as JSON too; structlog would add
a second logging API to keep apart from the first for the same result.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal

from pythonjsonlogger.json import JsonFormatter

LogFormat = Literal["text", "json"]
# Keys the JSON line gets under the names operators' log tools expect.
_RENAMED = {"levelname": "level", "name": "logger"}


class Context(logging.Filter):
    """Stamps every record with the process's site and node, so no call site repeats them."""

    def __init__(self, site: str, node: str | None) -> None:
        super().__init__()
        self.site, self.node = site, node

    def filter(self, record: logging.LogRecord) -> bool:
        record.site = self.site
        record.node = self.node
        return True


def _formatter(log_format: LogFormat, node: str | None) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter(
            "{levelname}{name}{message}{site}{node}",
            style="{",
            rename_fields=_RENAMED,
            timestamp="time",
        )
    who = f" {node}" if node else ""
    return logging.Formatter(f"%(asctime)s{who} %(levelname)s %(name)s: %(message)s")


def setup_logging(
    log_format: LogFormat, level: int | str, *, site: str, node: str | None = None
) -> None:
    """Put one handler on stderr in the chosen format on the root logger, replacing the one a
    previous call put there. Handlers others installed stay (pytest's log capture does)."""
    handler = _OurHandler(sys.stderr)
    handler.setFormatter(_formatter(log_format, node))
    handler.addFilter(Context(site, node))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _OurHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


class _OurHandler(logging.StreamHandler):
    """The handler setup_logging installs, told apart from everyone else's."""
