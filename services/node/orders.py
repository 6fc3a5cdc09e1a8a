"""Orders addressed to this node through the log: reset its id, sync, stop, uninstall.

A node acts on an order only when it reads it live: the order names the node's
current License Server ID, and its offset is past the last order the node acted on
(kept in ``node_identity.handled_offset``), so replaying the log never repeats one.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from events.base import Event
from events.servers import ServerIdReset, ServerUninstalled, StopRequested, SyncRequested
from events.vocabulary import OrderKind


@dataclass(frozen=True)
class Order:
    kind: OrderKind
    offset: int
    new_server_id: str | None = None
    from_peer: str | None = None


class NodeOrder(Exception):
    """Raised out of the projector after the batch holding the order is committed."""

    def __init__(self, order: Order) -> None:
        super().__init__(order.kind)
        self.order = order


# The events that can carry an order to a node (``order_for``), by exact type.
ORDER_EVENTS: frozenset[type[Event]] = frozenset(
    (ServerIdReset, SyncRequested, StopRequested, ServerUninstalled)
)


def order_for(event: Event, server_id: str, offset: int) -> Order | None:
    if isinstance(event, ServerIdReset) and event.old_server_id == server_id:
        return Order(OrderKind.RESET, offset, new_server_id=event.new_server_id)
    if isinstance(event, SyncRequested) and event.server_id == server_id:
        return Order(OrderKind.SYNC, offset, from_peer=event.from_peer)
    if isinstance(event, StopRequested) and event.server_id == server_id:
        return Order(OrderKind.STOP, offset)
    if isinstance(event, ServerUninstalled) and event.server_id == server_id:
        return Order(OrderKind.UNINSTALL, offset)
    return None


async def handled_offset(pool: asyncpg.Pool) -> int:
    return await pool.fetchval("SELECT handled_offset FROM node_identity WHERE id = 1")


async def mark_handled(pool: asyncpg.Pool, order: Order) -> None:
    if order.new_server_id:
        await pool.execute(
            "UPDATE node_identity SET handled_offset = $1, server_id = $2 WHERE id = 1",
            order.offset,
            order.new_server_id,
        )
    else:
        await pool.execute(
            "UPDATE node_identity SET handled_offset = $1 WHERE id = 1", order.offset
        )
