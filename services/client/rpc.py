"""Request/reply over AMQP with retries under one command id.

Every send attempt gets its own correlation id, and every correlation id of one
logical command points at the same future: a late reply to the first attempt
still answers the command. The command id (AMQP ``message_id``) never changes
across attempts, so the idempotent writer returns the first result to a retry.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from datetime import UTC, datetime

import aiormq.abc
import aiormq.exceptions
from aiormq import spec
from pydantic import ValidationError

from events import codec, limits
from events.base import Command
from events.replies import ErrorCode, Reply
from events.vocabulary import Authority
from services.auth import signing
from services.client.broker import Broker, Link
from services.client.errors import BrokerUnavailable, ClientClosed, CommandTimeout, ProtocolError

log = logging.getLogger(__name__)

# A channel that breaks in the middle of a publish raises one of these.
_SEND_ERRORS = (OSError, aiormq.exceptions.AMQPError, RuntimeError)
PERSISTENT = 2  # delivery mode: the commands queue keeps it on disk
NOT_WRITER_PAUSE = 0.2
SEND_ERROR_PAUSE = 0.1


class Unconfirmed(float):
    """The pause ``_publish`` returns when no broker node confirmed the attempt: ``call``
    counts these to tell an unreachable broker (``unavailable``) from a silent server."""


UNCONFIRMED = Unconfirmed(SEND_ERROR_PAUSE)


def new_command_id() -> str:
    return uuid.uuid4().hex


class Rpc:
    """Sends commands through the site's ingress exchange and waits for their replies."""

    def __init__(
        self,
        routing_key: str,
        *,
        attempt_timeout: float,
        timeout: float,
        admin_key: str | None = None,
        node_key: str | None = None,
    ) -> None:
        self.routing_key = routing_key
        # Sign the commands that need authority (services.auth.signing) with what this
        # client holds: products hold neither key, the nodes and the watchdog a node key.
        self.keys = {Authority.ADMIN: admin_key, Authority.NODE: node_key}
        self.attempt_timeout = attempt_timeout
        self.timeout = timeout
        self._pending: dict[str, asyncio.Future[Reply]] = {}
        # Correlation ids need only be unique among this client's attempts (its reply queue is
        # its own): a counter, not a uuid4 and its getrandom call per attempt. Command ids stay
        # random: another product must not guess one and take its answer.
        self._attempts = itertools.count(1)
        self.broker: Broker | None = None

    async def on_reply(self, message: aiormq.abc.DeliveredMessage) -> None:
        """Consumer callback of the reply queue (no_ack): resolve the waiting future."""
        correlation_id = message.header.properties.correlation_id
        future = self._pending.get(correlation_id or "")
        if future is None or future.done():
            log.debug("reply for an unknown or answered correlation id %r", correlation_id)
            return
        try:
            future.set_result(codec.loads_reply(message.body))
        except (ValueError, ValidationError) as exc:
            future.set_exception(ProtocolError(f"unreadable reply: {exc}"))

    def fail_all(self, reason: str) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ClientClosed(reason))
        self._pending.clear()

    async def call(
        self,
        command: Command,
        *,
        command_id: str | None = None,
        timeout: float | None = None,
        actor: str | None = None,
    ) -> Reply:
        broker = self.broker
        if broker is None:
            raise ClientClosed("the client is closed")
        command_id = command_id or new_command_id()
        if not command_id or len(command_id) > limits.MAX_NAME:
            raise ValueError(f"a command id is 1 to {limits.MAX_NAME} characters")
        if actor is not None and len(actor) > limits.MAX_NAME:
            raise ValueError(f"an actor name is at most {limits.MAX_NAME} characters")
        body = codec.dumps(command)
        if len(body) > limits.MAX_COMMAND_BYTES:
            raise ValueError(
                f"the command is {len(body)} bytes; the limit is {limits.MAX_COMMAND_BYTES}"
            )

        kind = getattr(command, "type", type(command).__name__)
        loop = asyncio.get_running_loop()
        timeout = self.timeout if timeout is None else timeout
        deadline = loop.time() + timeout
        correlation_ids: list[str] = []
        result: asyncio.Future[Reply] = loop.create_future()
        attempts = 0
        unconfirmed = 0  # attempts in a row that no broker node confirmed
        try:
            while True:
                if loop.time() >= deadline:
                    if unconfirmed:
                        raise BrokerUnavailable(
                            broker.url,
                            f"no broker node took {kind} {command_id} within {timeout:g} s "
                            f"({unconfirmed} attempt(s) unconfirmed): the broker cluster "
                            "may have lost its majority",
                        )
                    raise CommandTimeout(kind, command_id, timeout, attempts)
                link = await broker.link(deadline)
                correlation_id = str(next(self._attempts))
                correlation_ids.append(correlation_id)
                self._pending[correlation_id] = result
                attempts += 1
                headers = self._headers(command, command_id, actor, body)
                pause = await self._publish(
                    link, body, command_id, correlation_id, headers, deadline
                )
                unconfirmed = unconfirmed + 1 if isinstance(pause, Unconfirmed) else 0
                if pause is not None:
                    await asyncio.sleep(min(pause, max(deadline - loop.time(), 0)))
                    continue
                wait = max(min(self.attempt_timeout, deadline - loop.time()), 0.0)
                await asyncio.wait(
                    {result, link.broken}, timeout=wait, return_when=asyncio.FIRST_COMPLETED
                )
                if not result.done():
                    if attempts > 1 or link.broken.done():
                        log.info(
                            "no reply to %s %s yet (attempt %d); resending",
                            kind,
                            command_id,
                            attempts,
                        )
                    continue
                reply = result.result()
                if reply.ok or reply.error is None or reply.error.code != ErrorCode.NOT_WRITER:
                    return reply
                # The node lost the writer role between receiving and deciding: ask again.
                log.info(
                    "%s %s reached a node that is no longer the writer; retrying", kind, command_id
                )
                self._forget(correlation_ids)
                result = loop.create_future()
                await asyncio.sleep(min(NOT_WRITER_PAUSE, max(deadline - loop.time(), 0)))
        finally:
            self._forget(correlation_ids)

    def _forget(self, correlation_ids: list[str]) -> None:
        for correlation_id in correlation_ids:
            self._pending.pop(correlation_id, None)
        correlation_ids.clear()

    def _headers(
        self, command: Command, command_id: str, actor: str | None, body: bytes
    ) -> dict[str, str] | None:
        """Signed afresh on every attempt: a retry after minutes must not look like a replay."""
        headers = {"x-actor": actor} if actor else {}
        for authority in signing.needed_authority(command):
            key = self.keys[authority]
            if key:
                now = datetime.now(UTC)
                headers.update(signing.headers(key, authority, command_id, actor, body, now))
                break
        return headers or None

    async def _publish(
        self,
        link: Link,
        body: bytes,
        command_id: str,
        correlation_id: str,
        headers: dict[str, str] | None,
        deadline: float,
    ) -> float | None:
        """Publish one attempt: None if the broker took it, else how long to pause before the
        caller retries. No node has declared the site yet (no ingress, or nothing bound to
        it): nobody can answer, so the attempt counts as one without a reply. No confirm within
        the attempt's time, or a nack: the link is dropped, and the next attempt goes to the
        next broker node of the list on a new channel."""
        properties = spec.Basic.Properties(
            message_id=command_id,
            correlation_id=correlation_id,
            reply_to=link.reply_to,
            content_type="application/json",
            delivery_mode=PERSISTENT,
            headers=headers,
        )
        remaining = deadline - asyncio.get_running_loop().time()
        try:
            # An attempt's confirm gets attempt_timeout: a paused broker node keeps the socket
            # open and never answers, and a cluster without its majority confirms nothing.
            async with asyncio.timeout(max(min(remaining, self.attempt_timeout), 0.0)):
                # mandatory: a command no queue takes yet comes back (DeliveryError) and is
                # sent again, instead of being confirmed into nowhere.
                await link.publish(body, properties, self.routing_key)
            return None
        except TimeoutError:
            if remaining > self.attempt_timeout:
                log.info("no broker confirm for %s; trying another broker node", command_id)
                link.mark_broken()
            return UNCONFIRMED
        except aiormq.exceptions.ChannelNotFoundEntity:
            log.info("no ingress exchange for %s yet (no node has run); retrying", command_id)
            link.mark_broken()  # the broker closed the channel
            return self.attempt_timeout
        except aiormq.exceptions.DeliveryError as exc:
            if isinstance(exc.frame, spec.Basic.Nack):
                # The queue refused it. After a broker node dies, a channel opened while the
                # cluster still named the dead node as the commands queue's leader keeps
                # sending there and nacks every publish (RabbitMQ 3.10, docs/cluster-notes.md):
                # only a new channel learns the new leader.
                log.info("the broker refused %s (nack); reconnecting", command_id)
                link.mark_broken()
                return SEND_ERROR_PAUSE
            log.info("no commands queue takes %s yet; retrying", command_id)
            return self.attempt_timeout
        except _SEND_ERRORS as exc:
            log.info("publishing %s failed (%s); reconnecting", command_id, exc)
            link.mark_broken()
            return SEND_ERROR_PAUSE
