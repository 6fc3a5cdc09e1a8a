"""The writer: decides commands against the write state and appends the events.

Exactly one node at a time receives commands (single-active-consumer). On its first
delivery it promotes itself: it appends ``WriterPromoted{epoch = highest + 1}`` and
decides nothing until it has read its own marker back as accepted. Then, for each
command: decide against the speculative state (projected state + its own events in
flight), publish, wait until the projector reads the event back as accepted, reply,
ack. If the projector reads anything that shows another writer won, or the channel
is lost, the writer drops everything pending and raises ``Demoted``; the node then
rejoins as a follower. It never re-publishes an old decision.

Lease expiry and borrowed time. A lease not renewed within its period is expired
(``LeaseExpired``), but only against a clock that ran while the writer could hear renewals.
While the pair is out of reach (the broker or its majority lost, both nodes down or frozen)
no writer sees a renewal, and products keep their leases on borrowed time
(``LICENSING_GRACE_SECONDS``). So the writer gives every open lease a fresh period whenever
it may have been deaf: on promotion, which follows every start and every reconnect (a node
that lost its broker channel is demoted and is promoted anew by its next delivery), and when
it stalled while still connected: its expiry tick came ``STALL_SECONDS`` late (the process was
paused or starved) or an append waited that long for its confirm (the log took nothing). It
expires nothing while an append is stalled. The same lease ids then renew when products
reach the pair again, and each seat is still counted once: nothing was released or granted.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

import aio_pika
import aiormq.abc

from events import codec, replies
from events.base import Decision, Event
from events.commands import Acquire, Command, RenewLeases
from events.leases import LeaseExpired, LeaseGranted, LeaseReleased
from events.licenses import LicenseDeactivated
from events.replies import ErrorCode, Reply, Wire
from events.writer import WriterPromoted
from projections.projector import Projector
from services.adapters import consumers
from services.adapters.topology import Topology
from services.adapters.topology import dead_letter as cut_copy
from services.auth import signing
from services.auth.log_signing import OPEN, NodeKeys
from services.domain import lease_secrets
from services.domain.decide import Context, ExpireLease, decide
from services.domain.evolve import evolve
from services.domain.model import State
from services.trust import receipt
from services.trust.keys import Trust
from services.writer import intake
from services.writer.delivery import Delivery
from services.writer.leases import LeaseClock
from services.writer.outlet import DirectAcks, GatheredAcks, Outgoing, ReplyChannel

log = logging.getLogger(__name__)

NOTHING: frozenset[type[Event]] = frozenset()  # an interest in no event (Projector.listen)
Clock = Callable[[], datetime]
# Late by this much, the writer may have missed renewals: far above a healthy tick's or
# confirm's delay (milliseconds), well under the shortest lease (5 s).
STALL_SECONDS = 2.0
# A stream append not confirmed within this long ends the writer's term (AppendFailed). A
# cluster that lost its majority neither acks nor nacks (docs/cluster-notes.md), and a writer
# waiting for ever would hold its pending commands and the writer role while nothing can be
# decided. Far above a confirm under load (milliseconds) or a leader move (under 1 s).
APPEND_DEADLINE_SECONDS = 10.0


def utc_now() -> datetime:
    return datetime.now(UTC)


def _undecidable(command: object, command_id: str) -> Wire:
    """A command the domain raised on: a bug or a gap in the contract, never the pair's end.

    Nothing changed (the speculative state is replaced only after decide and evolve return),
    so the answer is ``invalid`` and the writer goes on with the next command.
    """
    kind = getattr(command, "type", type(command).__name__)
    log.exception("command %.130r (%s) could not be decided; nothing changed", command_id, kind)
    return replies.failure(
        command_id, ErrorCode.INVALID, f"{kind} could not be decided; nothing was changed"
    )


class Demoted(Exception):
    """This node is no longer the writer (fenced, or its channel is gone)."""


class AppendFailed(Demoted):
    """The stream did not confirm an append within the deadline, or refused it (a nack).

    The event may still land later (a confirm left waiting arrives when the majority returns),
    so nothing pending is answered: the commands go back to the queue, and whoever is promoted
    next answers them from the log (already there: from the answer memory; there after the next
    promotion marker: ignored as a stale epoch, invariant 3).
    """


class Writer:
    def __init__(
        self,
        node: str,
        server_id: str,
        projector: Projector,
        topology: Topology,
        *,
        prefetch: int = 200,
        lease_check_seconds: float = 1.0,
        clock: Clock = utc_now,
        max_events_per_message: int = 200,
        reply_channels: int = 8,
        keys: signing.Keys | None = None,
        trust: Trust = Trust(),
        site_key: str | None = None,
        node_keys: NodeKeys = OPEN,
        append_deadline: float = APPEND_DEADLINE_SECONDS,
    ) -> None:
        self.node, self.server_id = node, server_id
        self.append_deadline = append_deadline
        self.projector, self.topology = projector, topology
        self.prefetch, self.lease_check_seconds, self.clock = prefetch, lease_check_seconds, clock
        self.max_events_per_message = max_events_per_message
        self.keys = keys or signing.Keys()  # none: an open site
        self.trust, self.site_key = trust, site_key
        self.node_keys = node_keys  # the first signs what this writer appends
        # aio-pika held a channel's lock until a publish was written to the socket, so one
        # reply channel let only one reply out per few event-loop turns: under load that, not
        # the broker, capped the writer. Replies now skip the drain wait (outlet.py) and still
        # go round-robin over a few channels (bench/README.md).
        self.reply_channels = max(1, reply_channels)
        self.epoch: int | None = None  # set once our promotion is read back
        self.speculative: State = State()
        # Replies travel as their JSON objects (events/replies.py): no pydantic model per command.
        self.pending: dict[str, asyncio.Future[Wire]] = {}
        self.leases = LeaseClock()
        self.dead_lettered = 0
        self.commands_handled = 0
        # Told of every answer (command or None if unreadable, reply, delivery's monotonic time).
        self.answered: Callable[[Command | None, Wire, float], None] = lambda *_: None
        self._acks: DirectAcks | GatheredAcks = DirectAcks()
        self._outbox: asyncio.Queue[Event] = asyncio.Queue()
        self._promotion: asyncio.Task | None = None
        self._marker: WriterPromoted | None = None
        self._marker_seen: asyncio.Future[str | None] | None = None
        self._failure: asyncio.Future[None] | None = None
        self._appending_since: float | None = None  # monotonic start of the append in flight
        self.consuming = False  # subscribed to the commands queue (a candidate can take commands)

    @property
    def is_writer(self) -> bool:
        return self.epoch is not None

    # ---- lifecycle -------------------------------------------------------------------

    async def run(self, connection: aio_pika.abc.AbstractConnection) -> None:
        """Serve as writer candidate until demoted (raises) or cancelled."""
        loop = asyncio.get_running_loop()
        self._failure = loop.create_future()
        self.projector.listen(self._on_applied, self._interest)
        consume_channel = await connection.channel(publisher_confirms=False)
        self._publish_channel = await connection.channel(publisher_confirms=True)
        reply_channels = [
            await connection.channel(publisher_confirms=False) for _ in range(self.reply_channels)
        ]
        self._reply_to = itertools.cycle([await ReplyChannel.of(c) for c in reply_channels])
        self._acks = GatheredAcks(await consume_channel.get_underlay_channel())
        for channel in (consume_channel, self._publish_channel, *reply_channels):
            channel.close_callbacks.add(self._on_channel_closed)
        tasks: list[asyncio.Task] = []
        try:
            await consume_channel.set_qos(prefetch_count=self.prefetch)
            await self.topology.declare_events(self._publish_channel)
            queue = await self.topology.declare_commands(consume_channel)
            tasks = [
                asyncio.create_task(self._publish_loop(), name="writer-publish"),
                asyncio.create_task(self._expiry_loop(), name="writer-expiry"),
            ]
            tasks.append(
                asyncio.create_task(
                    self._keep_consuming(connection, queue), name="writer-commands-consumer"
                )
            )
            for task in tasks:
                task.add_done_callback(self._on_task_done)
            await self._failure
        finally:
            self._step_down("writer stopped")
            for task in tasks:
                task.cancel()
            self.projector.unlisten(self._on_applied)
            for channel in (consume_channel, self._publish_channel, *reply_channels):
                if not channel.is_closed:
                    try:
                        await channel.close()
                    except Exception:
                        pass

    async def _keep_consuming(
        self, connection: aio_pika.abc.AbstractConnection, queue: aio_pika.abc.AbstractQueue
    ) -> None:
        """Consume the commands queue for the whole session, and again whenever the broker
        cancels the consumer (the queue was deleted: issue 9, row 8).

        A cancelled consumer gets nothing more, so a writer that lost it steps down at once
        (invariant 4) and, once the queue is declared again, rejoins as a candidate: whoever
        the broker makes active then promotes itself with a new epoch.
        """
        while True:
            consumer = await consumers.consume(
                queue, self._on_raw_delivery, f"writer-{self.node}", raw=True
            )
            self.consuming = True
            try:
                await consumer.cancelled
            finally:
                self.consuming = False
            self._step_down("the broker cancelled the commands consumer")
            queue = await self._declare_again(connection, queue)

    async def _declare_again(
        self, connection: aio_pika.abc.AbstractConnection, queue: aio_pika.abc.AbstractQueue
    ) -> aio_pika.abc.AbstractQueue:
        """Re-declare the commands queue and ingress until the broker lets us (on a channel of
        their own, so a refusal does not close the one this writer acks on)."""
        pause = 0.2
        while True:
            try:
                await self.topology.redeclare_commands(connection)
                log.warning("%s re-declared %s", self.node, self.topology.commands)
                return await queue.channel.get_queue(queue.name, ensure=False)
            except aio_pika.exceptions.AMQPError as exc:
                if connection.is_closed:
                    raise
                log.warning("re-declaring %s failed: %s", self.topology.commands, exc)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)

    def _fail(self, why: str) -> None:
        if self._failure is not None and not self._failure.done():
            self._failure.set_exception(Demoted(why))

    def _on_channel_closed(self, *args) -> None:
        self._fail("broker channel lost")

    def _on_task_done(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._fail(f"{task.get_name()} failed: {task.exception()!r}")

    def _step_down(self, why: str) -> None:
        if self.epoch is not None:
            log.warning("%s stops writing at epoch %s: %s", self.node, self.epoch, why)
        self.epoch = None
        for future in self.pending.values():
            if not future.done():
                future.set_exception(Demoted(why))
                # Its waiter may already be gone (cancelled with the session): mark the exception
                # seen, or asyncio logs "Future exception was never retrieved" on every failover.
                future.exception()
        self.pending.clear()
        while not self._outbox.empty():
            self._outbox.get_nowait()

    # ---- promotion -------------------------------------------------------------------

    async def _ensure_promoted(self) -> None:
        if self.epoch is not None:
            return
        if self._promotion is None or self._promotion.done():
            self._promotion = asyncio.create_task(self._promote())
        await asyncio.shield(self._promotion)

    async def _promote(self) -> None:
        loop = asyncio.get_running_loop()
        for _attempt in range(5):
            epoch = self.projector.state.epoch + 1
            self._marker = WriterPromoted(
                epoch=epoch, node=self.node, server_id=self.server_id, at=self.clock()
            )
            self._marker_seen = loop.create_future()
            await self._publish([self._marker])
            ignored = await self._read_back_marker()
            if ignored is None and self.projector.state.epoch == epoch:
                self.epoch = epoch
                self.speculative = self.projector.state
                self.leases.fresh_period_for_all(self.speculative, self.clock())
                log.info("%s is the writer at epoch %s", self.node, epoch)
                return
        raise Demoted("could not take the writer role: other nodes keep claiming epochs")

    async def _read_back_marker(self, stall_seconds: float = 15.0) -> str | None:
        """Wait for our marker; a node still replaying a long log may take a while, so
        give up only when the projector stops making progress."""
        assert self._marker_seen is not None
        last, stalled_since = self.projector.checkpoint.offset, asyncio.get_running_loop().time()
        while True:
            try:
                return await asyncio.wait_for(asyncio.shield(self._marker_seen), timeout=1.0)
            except TimeoutError:
                now = asyncio.get_running_loop().time()
                if self.projector.checkpoint.offset != last:
                    last, stalled_since = self.projector.checkpoint.offset, now
                elif now - stalled_since > stall_seconds:
                    raise

    # ---- read-back -------------------------------------------------------------------

    def _interest(self) -> frozenset[type[Event]] | None:
        """What ``_on_applied`` acts on: everything while this node writes or promotes itself;
        nothing otherwise (a candidate's catch-up need not call it for every event)."""
        return None if self.epoch is not None or self._marker is not None else NOTHING

    def _on_applied(
        self, event: Event, ignored: str | None, state: State, offset: int = -1
    ) -> None:
        """Called by the projector for every event it reads, in log order."""
        if isinstance(event, WriterPromoted):
            if self._marker is not None and event == self._marker and self._marker_seen is not None:
                if not self._marker_seen.done():
                    self._marker_seen.set_result(ignored)
                return
            if ignored is None and self.epoch is not None:
                self._step_down(f"{event.node} took the writer role at epoch {event.epoch}")
                self._fail("fenced by a newer epoch")
            return
        if not isinstance(event, Decision) or self.epoch is None or event.epoch != self.epoch:
            return
        future = self.pending.pop(event.command_id, None)
        if future is None:
            return
        if ignored is not None:
            self._step_down(f"own event ignored ({ignored})")
            self._fail("fenced")
            future.set_exception(Demoted(ignored))
            return
        if isinstance(event, LeaseGranted):
            self.leases.granted(event.lease_id, event.expires_at)
        elif isinstance(event, (LeaseReleased, LeaseExpired)):
            self.leases.ended(event.lease_id)
        answer = state.answer(event.command_id)
        reply = None if answer is None else replies.from_answer(answer)
        if isinstance(event, LicenseDeactivated) and self.site_key and reply is not None:
            reply = self._with_receipt(reply, event, state, offset)
        future.set_result(reply)

    def _with_receipt(
        self, reply: Wire, event: LicenseDeactivated, state: State, offset: int
    ) -> Wire:
        """The deactivation's receipt, signed here with the site key.

        The writer signs, not the CLI: it holds the site key (an administrator's machine
        need not), and it signs only once the deactivation is in the log and read back as
        accepted, so a receipt always names a log offset where the license really left.
        Ed25519 is deterministic, so the same event and offset always give the same receipt.
        """
        activation = state.activations.get(event.license_id)
        terms = receipt.Terms(
            site=self.topology.site,
            license_id=event.license_id,
            serial=activation.serial if activation else None,
            server_ids=list(activation.server_ids) if activation else [],
            deactivated_at=event.at,
            log_offset=offset,
            command_id=event.command_id,
        )
        signed = receipt.sign(terms, self.site_key)  # type: ignore[arg-type]
        return replies.with_result(reply, receipt=signed.model_dump(mode="json"))

    # ---- commands --------------------------------------------------------------------

    async def _on_raw_delivery(self, raw: aiormq.abc.DeliveredMessage) -> None:
        await self._on_delivery(Delivery(raw))

    async def _on_delivery(self, message: Delivery) -> None:
        try:
            await self._serve(message)
        except Exception:
            # An unacked delivery holds a prefetch slot for good: enough of them and the writer
            # takes no command at all (issue 9, row 6). So whatever failed, the message goes;
            # its sender retries under the same command id and gets the first answer, if any.
            log.exception("command %.130r failed in the writer", message.message_id)
            await self._dead_letter(message, "the writer failed on it")

    def _screen(self, message: Delivery) -> intake.Screened:
        try:
            return intake.screen(
                message.body,
                message.message_id,
                message.reply_to,
                message.headers,
                self.keys,
                self.clock(),
            )
        except Exception:
            log.exception("command %.130r could not be screened", message.message_id)
            if not message.reply_to:
                return intake.DeadLetter("screening failed")
            return intake.Refused(
                Reply.failure(
                    None,  # the id may be what broke screening; the correlation id still goes back
                    ErrorCode.INVALID,
                    "the writer could not read this command; nothing was changed",
                )
            )

    async def _serve(self, message: Delivery) -> None:
        started = time.monotonic()
        screened = self._screen(message)
        if isinstance(screened, intake.DeadLetter):
            await self._dead_letter(message, screened.why)
            return
        if isinstance(screened, intake.Refused):
            refusal = replies.of(screened.reply)
            await self._answer(message, refusal)
            self.answered(None, refusal, started)
            return
        try:
            await self._ensure_promoted()
            reply = await self.handle(screened.command, screened.command_id, screened.actor)
        except (TimeoutError, Demoted) as exc:
            self._fail(f"promotion or decision failed: {exc!r}")
            # Not ours to answer any more: the next writer gets it again (same command id).
            try:
                await message.nack(requeue=True)
            except Exception:
                return
            await self._acks.settled(message)
            return
        await self._answer(message, reply)
        self.answered(screened.command, reply, started)

    async def handle(self, command: Command, command_id: str, actor: str | None = None) -> Wire:
        """Decide one command and return its reply once the log has accepted its event."""
        if isinstance(command, RenewLeases):
            try:
                renewed, gone, refused = self.leases.renew(
                    self.speculative, list(command.leases), self.clock()
                )
            except Exception:
                return _undecidable(command, command_id)
            if refused and not renewed and not gone:
                return replies.failure(
                    command_id,
                    ErrorCode.UNAUTHORIZED,
                    f"renewing {', '.join(refused)} needs each lease's secret (the lease_secret "
                    "of its acquire's reply)",
                )
            return replies.success(command_id, renewed=renewed, gone=gone, refused=refused)
        reply = await self._decide(command, command_id, actor)
        if isinstance(command, Acquire):
            return self._with_lease_secret(reply)
        return reply

    @property
    def lease_key(self) -> str | None:
        return self.keys.node[0] if self.keys.node else None

    def _with_lease_secret(self, reply: Wire) -> Wire:
        """A grant's reply carries the lease secret; the log keeps only its hash. Derived from
        the command id, so a retry, here or at the next writer, gets the same secret."""
        result = reply.get("result") or {}
        command_id = reply.get("command_id")
        if not reply["ok"] or not result.get("lease_id") or command_id is None:
            return reply
        secret = lease_secrets.secret_for(self.lease_key, command_id)
        return replies.with_result(reply, lease_secret=secret)

    async def _decide(self, command: object, command_id: str, actor: str | None) -> Wire:
        if self.epoch is None:
            raise Demoted("not the writer")
        if command_id in self.pending:
            return await asyncio.shield(self.pending[command_id])
        known = self.speculative.answer(command_id)
        if known is not None:
            return replies.from_answer(known)
        ctx = Context(
            command_id=command_id,
            epoch=self.epoch,
            now=self.clock(),
            actor=actor,
            trust=self.trust,
            lease_key=self.lease_key,
        )
        try:
            event = decide(self.speculative, command, ctx)
            after = None if event is None else evolve(self.speculative, event, self.trust)
        except Exception:
            return _undecidable(command, command_id)
        if event is None or after is None:  # an observation that changes nothing (domain.watch)
            return replies.success(command_id, changed=False)
        log.debug("decided %s", event.type, extra={"command_id": command_id, "event": event.type})
        self.speculative = after
        future: asyncio.Future[Wire] = asyncio.get_running_loop().create_future()
        self.pending[command_id] = future
        self._outbox.put_nowait(event)
        return await asyncio.shield(future)

    async def _answer(self, message: Delivery, reply: Wire) -> None:
        await next(self._reply_to).default_exchange.publish(
            Outgoing.reply(replies.dumps(reply), message.correlation_id),
            routing_key=message.reply_to or "",
        )
        self.commands_handled += 1
        await self._acks.ack(message)

    async def _dead_letter(self, message: Delivery, why: str) -> None:
        # Repr and cut: the id and the reason may carry anything a sender put there.
        log.warning("dead-lettering command message %.130r: %.300r", message.message_id, why)
        self.dead_lettered += 1
        try:
            # A copy cut to its first few KB, with the reason (issue 9, row 13: the queue keeps
            # a bounded amount); a rejection would move the whole body there.
            exchange = await self._publish_channel.get_exchange(
                self.topology.dead_letter_exchange, ensure=False
            )
            # A quorum queue without its majority never confirms: the delivery must not wait.
            async with asyncio.timeout(self.append_deadline):
                await exchange.publish(
                    cut_copy(message.body, why, {"x-message-id": message.message_id or ""}),
                    routing_key="",
                )
            await self._acks.ack(message)
            return
        except Exception:
            log.warning("could not copy %.130r to the dead letters", message.message_id)
        try:
            await message.reject(requeue=False)
            await self._acks.settled(message)
        except Exception:
            # The channel is gone: the broker hands the message out again, nothing is lost.
            log.warning("could not dead-letter %.130r", message.message_id, exc_info=True)

    # ---- appending -------------------------------------------------------------------

    async def _publish(self, events: list[Event]) -> None:
        """Append one stream message and wait for its confirm; ``AppendFailed`` if it does not
        come within the deadline or is a nack. Both the publish loop and a promotion end the
        writer's term with it, and the node's next session is a candidate again."""
        body = codec.dumps_events(events)
        try:
            async with asyncio.timeout(self.append_deadline):
                await self._publish_channel.default_exchange.publish(
                    aio_pika.Message(
                        body,
                        headers=self.node_keys.headers(body),  # verified by every reader (inv. 10)
                        content_type="application/json",
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    ),
                    routing_key=self.topology.events,
                )
        except TimeoutError:
            raise AppendFailed(
                f"the stream confirmed no append within {self.append_deadline:g} s"
            ) from None
        except aio_pika.exceptions.DeliveryError as exc:
            raise AppendFailed(f"the stream refused an append ({exc.frame!r})") from None

    async def _publish_loop(self) -> None:
        """Group commit: whatever was decided while the last publish awaited its confirm goes in
        one message."""
        while True:
            batch = [await self._outbox.get()]
            while len(batch) < self.max_events_per_message and not self._outbox.empty():
                batch.append(self._outbox.get_nowait())
            started = time.monotonic()
            self._appending_since = started
            try:
                await self._publish(batch)
            finally:
                self._appending_since = None
            if time.monotonic() - started > STALL_SECONDS:
                self._restart_lease_clock("an append waited for the log")

    def _append_stalled(self) -> bool:
        since = self._appending_since
        return since is not None and time.monotonic() - since > STALL_SECONDS

    def _restart_lease_clock(self, why: str) -> None:
        if self.epoch is None:
            return  # the next promotion gives every lease a fresh period anyway
        log.warning("%s was deaf to renewals (%s): a fresh period for every lease", self.node, why)
        self.leases.restart(self.speculative, self.clock())

    async def _expiry_loop(self) -> None:
        last_tick = time.monotonic()
        while True:
            await asyncio.sleep(self.lease_check_seconds)
            tick = time.monotonic()
            late, last_tick = tick - last_tick - self.lease_check_seconds, tick
            if self.epoch is None:
                continue
            if late > STALL_SECONDS:
                self._restart_lease_clock(f"its expiry check ran {late:.1f} s late")
                continue
            if self._append_stalled():
                continue  # renewals may not be reaching us either; decide once the log answers
            for lease_id in self.leases.overdue(self.speculative, self.clock()):
                asyncio.create_task(self._expire(lease_id))

    async def _expire(self, lease_id: str) -> None:
        try:
            await self._decide(ExpireLease(lease_id), f"expire:{lease_id}", "writer")
        except Demoted:
            pass
