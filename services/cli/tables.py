"""Rich tables in the shape of the License Manager's pages (the seed's figures)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.table import Table
from rich.text import Text

from services.views import Health, ServersView


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _row(table: Table, *cells: str) -> None:
    # Text, not markup: a feature called "Tags [beta]" must print as it is.
    table.add_row(*(Text(cell) for cell in cells))


def _when(value: Any) -> str:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S")
        except ValueError:
            return value
    return _text(value)


def usage_table(rows: list[dict[str, Any]]) -> Table:
    """The Usage Details page: one row per lease."""
    table = Table(title="Usage Details")
    for column in ("Feature", "Type", "Version", "In Use/Total", "Device", "User", "Since"):
        table.add_column(column, justify="right" if column == "In Use/Total" else "left")
    for row in rows:
        in_use = row.get("in_use", row.get("count"))
        total = row.get("total")
        ratio = f"{_text(in_use)}/{_text(total)}" if total is not None else _text(in_use)
        _row(
            table,
            _text(row.get("feature")),
            _text(row.get("type")),
            _text(row.get("version")),
            ratio,
            _text(row.get("device")),
            _text(row.get("user")),
            _when(row.get("since")),
        )
    return table


def status_table(servers: ServersView | None) -> Table:
    """Figure 13: role, License Server ID, Status, Pair Status."""
    table = Table(title="License Servers")
    for column in ("", "License Server ID", "Status", "Pair Status"):
        table.add_column(column)
    servers = servers or ServersView()
    pair_status = _text(servers.pair_status)
    for server in servers.servers:
        role = _text(server.role).capitalize() or server.node
        _row(table, role, _text(server.server_id), _text(server.status), pair_status)
    return table


def health_table(health: Health) -> Table:
    """The node we asked: its id, whether it is the writer, and how far it has read the log."""
    table = Table(title="This node")
    for column in ("Node", "License Server ID", "Writer", "Offset", "Digest"):
        table.add_column(column)
    writer = "" if health.writer is None else ("yes" if health.writer else "no")
    digest = health.digest
    _row(
        table,
        health.node,
        health.server_id,
        writer,
        _text(health.offset),
        digest[:16] + ("…" if len(digest) > 16 else ""),
    )
    return table
