"""A consumer that knows when the broker takes it away.

Deleting a queue (or a stream) does not close anyone's channel: RabbitMQ sends each of its
consumers ``basic.cancel`` (consumer-cancel notifications; aiormq announces the capability
and passes the frame to the channel's ``on_consumer_cancel_callbacks``) and the channel stays
open and silent. Nothing else tells a consumer it will never get another message, so every
long-lived consumer of a node and of the watchdog subscribes through ``consume``, waits on
``cancelled`` next to its other reasons to stop, and re-declares and re-consumes when it fires
(issue 9, row 8).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aio_pika.abc import AbstractQueue

log = logging.getLogger(__name__)


@dataclass
class Consumer:
    queue: AbstractQueue
    tag: str
    cancelled: asyncio.Future[None]  # done when the broker cancelled this consumer

    async def stop(self) -> None:
        """Cancel it ourselves; a channel already gone has nothing left to cancel."""
        if not self.cancelled.done():
            self.cancelled.cancel()
        try:
            await self.queue.cancel(self.tag)
        except Exception:
            pass


async def consume(
    queue: AbstractQueue,
    callback: Callable[[Any], Awaitable[Any]],
    purpose: str,
    *,
    raw: bool = False,
    **options: Any,
) -> Consumer:
    """``queue.consume`` with a tag of our own, watched for the broker's cancel.

    ``raw``: the callback gets aiormq's ``DeliveredMessage`` instead of aio-pika's
    ``IncomingMessage`` (the writer's hot path: building one costs as much as screening).
    """
    # The tag is chosen before consuming: a cancel can arrive right behind consume-ok, before
    # a tag the broker picked would be known here.
    tag = f"licensing.{purpose}.{uuid.uuid4().hex[:12]}"
    cancelled: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    underlay = await queue.channel.get_underlay_channel()

    def on_cancel(frame: Any) -> None:
        if frame.consumer_tag == tag and not cancelled.done():
            log.warning("the broker cancelled %s's consumer on %s", purpose, queue.name)
            cancelled.set_result(None)

    underlay.on_consumer_cancel_callbacks.add(on_cancel)
    cancelled.add_done_callback(lambda _: underlay.on_consumer_cancel_callbacks.discard(on_cancel))
    if raw:
        await underlay.basic_consume(queue.name, callback, consumer_tag=tag, **options)
    else:
        await queue.consume(callback, consumer_tag=tag, **options)
    return Consumer(queue, tag, cancelled)
