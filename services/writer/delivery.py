"""A command as the writer reads it: straight from aiormq's frames.

aio-pika wraps every delivery in an ``IncomingMessage``, which costs about as much Python as
screening the command (some 30 µs: it builds a full message object and its properties). The
writer reads five fields and settles the delivery, so it takes aiormq's ``DeliveredMessage``
(``consumers.consume(..., raw=True)``) and reads those.
"""

from __future__ import annotations

from typing import Any

import aiormq.abc


class Delivery:
    """The fields of a command delivery the writer uses, and its settlement."""

    __slots__ = (
        "body",
        "message_id",
        "reply_to",
        "correlation_id",
        "headers",
        "delivery_tag",
        "channel",
    )

    def __init__(self, raw: aiormq.abc.DeliveredMessage) -> None:
        properties = raw.header.properties
        self.body: bytes = raw.body
        self.message_id: str | None = properties.message_id
        self.reply_to: str | None = properties.reply_to
        self.correlation_id: str | None = properties.correlation_id
        self.headers: dict[str, Any] = properties.headers or {}
        self.delivery_tag: int | None = raw.delivery_tag
        self.channel = raw.channel  # delivery tags count per channel

    async def ack(self) -> None:
        await self.channel.basic_ack(self.delivery_tag)

    async def nack(self, requeue: bool = True) -> None:
        await self.channel.basic_nack(self.delivery_tag, requeue=requeue)

    async def reject(self, requeue: bool = False) -> None:
        await self.channel.basic_reject(self.delivery_tag, requeue=requeue)
