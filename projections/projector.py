"""The projector: applies the log, in order, to the in-memory state and to Postgres.

It knows nothing of the broker. It takes batches of ``(offset, events)`` and applies
them to the in-memory domain state behind the fence (telling listeners, e.g. the
writer waiting for its read-back), then writes the batch's rows, the event_log copy,
the digest and the checkpoint in one Postgres transaction (``ProjectionStore``). It
also rebuilds that state from the node's own event_log (start-up) or a peer's (a
Sync from a peer), and halts loudly on an event it cannot apply.

Where the batches come from lives above it: ``services/node/stream_consumer.py``
subscribes to the stream from the checkpoint, batches the deliveries, hands them to
``apply_messages`` and acks after the commit. A stream message is new iff its offset
is past the checkpoint (stream offsets are not dense), and that check is made here.

On a signed site (node keys) every message is verified first, with the ``verify`` the
node hands in (the key material stays above this layer, like the vendor ``trust``). One
that fails is recorded as rejected (``projections/rejected.py``) and changes nothing;
a signed message that cannot be read is our bug and halts, as in open mode.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NoReturn

import orjson

from events.base import Decision, Event
from events.codec import canonical, event_from_dict, events_from_dicts
from projections import digest as digests
from projections import rejected
from projections.changes import BatchChanges
from projections.rejected import Rejected
from projections.store import Checkpoint, PeerUnfit, ProjectionStore, Snapshot
from services.domain import snapshot as snapshots
from services.domain.evolve import CannotApply, apply
from services.domain.fold import Fold
from services.domain.model import State
from services.trust.keys import Trust

log = logging.getLogger(__name__)

# event, verdict, state after, stream offset
Listener = Callable[[Event, "str | None", State, int], None]
# The event types a listener wants to hear now (None: every one). Asked once a folded batch
# and once an event otherwise, so it may change as its owner does (the writer's does).
Interest = Callable[[], "frozenset[type[Event]] | None"]
# (body, its x-sig header) -> is it the site's? None: an open site, every message is.
Verify = Callable[[bytes, Any], bool]
# A stream message as the consumer hands it over: offset, body, x-sig header (or None).
Message = tuple[int, bytes, Any]
# What a batch applies at an offset: the message's events, or the record of its rejection.
Entry = tuple[int, "list[dict] | Rejected"]


# How a rebuild from a peer went (Rebuild.source in /api/health, after the peer's name).
REPLAYED_PEER_LOG = "event_log"
COPIED_PEER_SNAPSHOT = "snapshot and event_log (proven by digest)"
REFUSED_PEER_COPY = "copy refused (digest mismatch): replayed from the stream"


# While a whole log is replayed, the event loop gets a turn after every this many stream
# messages: the API keeps answering (Recovering, with progress) and a previous batch's
# transaction goes on meanwhile (services/node/stream_consumer.py overlaps them).
PAUSE_EVERY = 1
LOAD_PAUSE_EVERY = 500  # rows of the local event_log, the same for a local load


@dataclass(frozen=True)
class Staged:
    """A batch applied in memory and not yet written: what ``Projector.commit`` writes."""

    changes: BatchChanges
    state: State  # the state after the batch (immutable: later batches do not touch it)
    checkpoint: Checkpoint
    snapshot: Snapshot | None


class ProjectionHalted(Exception):
    """An event this node cannot apply. The projector stops and says so.

    Invariant 9 (docs/architecture.md): it is never skipped silently.
    """


@dataclass(frozen=True)
class SnapshotPolicy:
    """Write a snapshot after this many events, or this many seconds, since the last one."""

    every_events: int = 50_000
    every_seconds: float = 300.0
    # While catching up, a snapshot only every this many times ``every_events``: a long
    # catch-up spent a twentieth of its time on snapshots (each encodes the whole state);
    # when it ends, the live spacing comes back at once (``snapshot_if_behind``).
    catch_up_spacing: int = 4


@dataclass
class Loading:
    """How far a start-up load is: events replayed of those to replay, and from where."""

    events_loaded: int = 0
    events_total: int = 0
    from_offset: int = -1  # the snapshot's stream offset, or -1: a full local replay
    started: float = 0.0  # time.monotonic() at the start

    @property
    def seconds(self) -> float:
        return round(time.monotonic() - self.started, 1)


class Projector:
    def __init__(
        self,
        store: ProjectionStore,
        trust: Trust = Trust(),
        verify: Verify | None = None,
        snapshot_policy: SnapshotPolicy = SnapshotPolicy(),
    ) -> None:
        self.policy = snapshot_policy
        self._events_since_snapshot = 0
        self._snapshot_due_at = time.monotonic() + snapshot_policy.every_seconds
        self.loading: Loading | None = None  # set while ``load`` runs
        self.loaded_from = -1  # the stream offset of the snapshot the last load started from
        self.trust = trust  # the vendor keys the fence checks entitlements with (invariant 12)
        self.verify = verify  # the node keys' check of stream messages (invariant 10)
        self.unverified_messages = 0  # rejected messages in the log so far (same on every node)
        self.store = store
        self.state = State()
        self.checkpoint = Checkpoint()  # what Postgres holds (committed)
        self.head = Checkpoint()  # what the in-memory state holds: ahead while a write is staged
        self._listeners: list[tuple[Listener, Interest]] = []
        self.halted: str | None = None
        self.consistent = False  # in-memory state equals what Postgres holds
        # In memory (what the writer and /api/servers see); ``checkpoint`` is in Postgres.
        self.applied_offset = -1
        self._announced: Checkpoint | None = None  # read by announce_load, used by load

    async def announce_load(self) -> None:
        """Read the checkpoint before the API opens, so its very first answer already says how
        many events the load has to go through (Loading, 0 of N), not 0 of an unknown total."""
        self._announced = await self.store.checkpoint()
        self.loading = Loading(
            events_total=self._announced.events_applied, started=time.monotonic()
        )

    async def load(self, full_replay_if_needed: bool = True) -> None:
        """Rebuild the in-memory state from the newest snapshot of this shape and the tail of
        this node's own event_log after it; check the chain arrives at the checkpoint's digest.

        A snapshot that does not decode, or whose tail misses the digest, is set aside for a
        full local replay: the log is the truth, the snapshot only a shortcut.
        """
        checkpoint = self._announced
        if checkpoint is None:
            checkpoint = await self.store.checkpoint()
        self._announced = None
        if self.loading is None:
            self.loading = Loading(events_total=checkpoint.events_applied, started=time.monotonic())
        try:
            snapshot = await self.store.newest_snapshot(snapshots.SNAPSHOT_VERSION)
            if snapshot is not None and snapshot.offset <= checkpoint.offset:
                try:
                    await self._load_from(checkpoint, snapshot)
                    return
                except (snapshots.SnapshotUnreadable, ProjectionHalted) as exc:
                    if not full_replay_if_needed:
                        why = f"snapshot at offset {snapshot.offset}: {exc}"
                        raise ProjectionHalted(why) from None
                    log.warning(
                        "snapshot at offset %s not used (%s): replaying the whole local log",
                        snapshot.offset,
                        exc,
                    )
            await self._load_from(checkpoint, None)
        finally:
            self.loading = None

    async def _load_from(self, checkpoint: Checkpoint, snapshot: Snapshot | None) -> None:
        if snapshot is None:
            state, digest, count, unverified, after = State(), "", 0, 0, (-1, -1)
        else:
            state = snapshots.decode(snapshot.body)
            digest, count = snapshot.digest, snapshot.events_applied
            unverified, after = snapshot.unverified_messages, (snapshot.offset, snapshot.idx)
        loading = self.loading or Loading(started=time.monotonic())
        loading.from_offset, loading.events_total = after[0], checkpoint.events_applied - count
        loading.events_loaded = 0
        # A whole log's replay keeps no state between events: the mutable fold's work.
        fold = Fold(state, self.trust)
        async for page in self.store.event_log(after=after):
            events = _page_events(page)
            for n, row in enumerate(page, 1):
                if n % LOAD_PAUSE_EVERY == 0:
                    await asyncio.sleep(0)  # the API answers Loading meanwhile
                if row["type"] == rejected.TYPE:
                    # The recorded verdict is replayed as it is: the message's bytes are gone.
                    record = _rejected_row(row)
                    digest = digests.advance(digest, record.canonical(), record.reason)
                    count, unverified = count + 1, unverified + 1
                    continue
                event = next(events)
                ignored = fold.apply(event)
                if ignored != row["ignored"]:
                    raise ProjectionHalted(
                        f"local event_log at {row['stream_offset']}/{row['idx']} no longer "
                        f"replays the same way ({ignored!r} != {row['ignored']!r}); "
                        f"reset this node"
                    )
                digest = digests.advance(digest, canonical(event), ignored)
                count += 1
            loading.events_loaded += len(page)
        if digest != checkpoint.digest or count != checkpoint.events_applied:
            raise ProjectionHalted(
                "local event_log does not match the checkpoint digest; reset this node"
            )
        state = fold.freeze()
        self.state, self.checkpoint, self.head, self.consistent = (
            state,
            checkpoint,
            checkpoint,
            True,
        )
        self.applied_offset, self.unverified_messages = checkpoint.offset, unverified
        self.loaded_from = after[0]
        self._events_since_snapshot = count - (snapshot.events_applied if snapshot else 0)

    def forget(self) -> None:
        """Drop the in-memory state at once (a reset's first step): nothing stale is shown."""
        self.state, self.checkpoint, self.head, self.consistent = (
            State(),
            Checkpoint(),
            Checkpoint(),
            False,
        )
        self.applied_offset, self.unverified_messages = -1, 0
        self._events_since_snapshot, self.loaded_from = 0, -1

    async def reset(self) -> None:
        self.forget()
        await self.store.reset()
        self.consistent, self.halted = True, None

    async def apply_messages(self, messages: list[Message], catching_up: bool = False) -> bool:
        """Apply the new ones of (offset, body, signature) stream messages; True if any was new.

        A message at or before the checkpoint is a redelivery from the start of a
        stream chunk: it is already applied.
        """
        staged = await self.stage_messages(messages, catching_up)
        if staged is not None:
            await self.commit(staged)
        return staged is not None

    async def stage_messages(
        self, messages: list[Message], catching_up: bool = False, pause_every: int = 0
    ) -> Staged | None:
        """``apply_messages`` in memory only: what ``commit`` then writes (None: nothing new).

        ``pause_every`` messages it lets the event loop run (``stage``)."""
        batch: list[Entry] = []
        for offset, body, signature in messages:
            if offset <= self.head.offset:
                continue
            if self.verify is not None and not self.verify(body, signature):
                log.warning("stream message at offset %s is not signed by the site", offset)
                batch.append((offset, Rejected.of(body)))
                continue
            try:
                parsed = orjson.loads(body)
                if isinstance(parsed, dict) and "rejected" in parsed:  # a re-seeded verdict
                    batch.append((offset, Rejected.from_record(parsed["rejected"])))
                    continue
                items = parsed["events"]
            except Exception as exc:
                self._halt(f"stream message at offset {offset} is not a valid event batch: {exc}")
            batch.append((offset, items))
        return await self.stage(batch, catching_up, pause_every) if batch else None

    async def apply_batch(
        self, batch: list[Entry], catching_up: bool = False, pause_every: int = 0
    ) -> None:
        """Apply (offset, events) pairs in memory, then their rows and the checkpoint in one
        Postgres transaction (``stage``, then ``commit``)."""
        await self.commit(await self.stage(batch, catching_up, pause_every))

    async def stage(
        self, batch: list[Entry], catching_up: bool = False, pause_every: int = 0
    ) -> Staged:
        """Apply (offset, events) pairs in memory, from the head; what ``commit`` will write.

        A rejected message gets its row and its link in the digest, nothing else.

        ``catching_up`` (the stream consumer, for a batch the stream held before it
        subscribed) folds the batch in place (``services/domain/fold.py``): the same
        state, verdicts and rows, and the listeners hear every event in order, but only
        once the batch is folded, each with the state after the batch.

        ``pause_every`` messages (0: never) it lets the event loop run, so that the previous
        batch's transaction goes on meanwhile (a catch-up overlaps them); the state, head and
        listeners move only at the end, so nothing sees a batch half applied.
        """
        changes = BatchChanges()
        digest, count = self.head.digest, self.head.events_applied
        fold = Fold(self.state, self.trust) if catching_up else None
        heard: list[tuple[Event, str | None, int]] = []  # what the listeners hear after a fold
        for n, (offset, items) in enumerate(batch, 1):
            if pause_every and n % pause_every == 0:
                await asyncio.sleep(0)
            if isinstance(items, Rejected):
                digest = digests.advance(digest, items.canonical(), items.reason)
                count += 1
                changes.log_rows.append(
                    (offset, 0, rejected.TYPE, items.reason, orjson.dumps(items.record()).decode())
                )
                self.unverified_messages += 1
                continue
            try:
                events = events_from_dicts(items)
            except Exception as exc:
                self._halt(f"stream message at offset {offset} is not a valid event batch: {exc}")
            for idx, event in enumerate(events):
                # The stored copy is the event's canonical JSON: the bytes the digest chains
                # (one serialization an event, not two), the same event once jsonb parses it.
                event_bytes = canonical(event)
                body = event_bytes.decode()
                try:
                    if fold is None:
                        ignored = self._apply(changes, event, offset, idx, body)
                    else:
                        ignored = _fold(fold, changes, event, offset, idx, body)
                        heard.append((event, ignored, offset))
                except CannotApply as exc:
                    if fold is not None:
                        self.state = fold.freeze()
                        self._tell(heard, self.state)
                    self._halt(
                        f"event {event.type} at offset {offset}/{idx} cannot be applied: {exc}"
                    )
                digest = digests.advance(digest, event_bytes, ignored)
                count += 1
        if fold is not None:
            self.state = fold.freeze()
            self._tell(heard, self.state)
        checkpoint = Checkpoint(batch[-1][0], digest, count)
        self._events_since_snapshot += count - self.head.events_applied
        self.head, self.consistent, self.applied_offset = checkpoint, False, checkpoint.offset
        snapshot = self._snapshot_if_due(changes, self.state, checkpoint, catching_up)
        if snapshot is not None:
            self._events_since_snapshot = 0
            self._snapshot_due_at = time.monotonic() + self.policy.every_seconds
        return Staged(changes, self.state, checkpoint, snapshot)

    async def commit(self, staged: Staged) -> None:
        """Write a staged batch: its rows, event_log copy, snapshot and checkpoint, in one
        transaction. Staged batches are committed in the order they were staged."""
        await self.store.write(staged.changes, staged.state, staged.checkpoint, staged.snapshot)
        self.checkpoint = staged.checkpoint
        self.consistent = self.checkpoint == self.head

    def listen(self, listener: Listener, interest: Interest = lambda: None) -> None:
        """Tell ``listener`` every applied event, in log order, of the types ``interest`` names.

        A catch-up tells its listeners some 40,000 events a second; most want a few types or,
        for a while, none: asking first saves a call an event (bench/README.md)."""
        self._listeners.append((listener, interest))

    def unlisten(self, listener: Listener) -> None:
        self._listeners = [entry for entry in self._listeners if entry[0] != listener]

    def _apply(
        self, changes: BatchChanges, event: Event, offset: int, idx: int, body: str
    ) -> str | None:
        """One event through the pure ``apply``: the state and the listeners move at once."""
        before = self.state
        self.state, ignored = apply(before, event, self.trust)
        changes.record(before, self.state, event, offset, idx, ignored, body)
        for listener, interest in self._listeners:
            kinds = interest()
            if kinds is None or type(event) in kinds:
                listener(event, ignored, self.state, offset)
        return ignored

    def _tell(self, heard: list[tuple[Event, str | None, int]], state: State) -> None:
        """What a folded batch's listeners hear: each its events in order, with the state after
        the batch."""
        for listener, interest in self._listeners:
            kinds = interest()
            if kinds is None:
                for event, ignored, offset in heard:
                    listener(event, ignored, state, offset)
            elif kinds:
                for event, ignored, offset in heard:
                    if type(event) in kinds:
                        listener(event, ignored, state, offset)
        heard.clear()

    async def snapshot_now(self) -> bool:
        """A snapshot of what is applied now, if anything is since the last (a clean stop:
        the next start then replays almost nothing). True if one was stored."""
        if not self.consistent or self._events_since_snapshot == 0 or self.checkpoint.offset < 0:
            return False
        checkpoint, state = self.checkpoint, self.state
        idx = await self.store.last_idx_at(checkpoint.offset)
        if idx is None:
            return False
        stored = await self.store.keep_snapshot(
            Snapshot(
                offset=checkpoint.offset,
                idx=idx,
                digest=checkpoint.digest,
                events_applied=checkpoint.events_applied,
                unverified_messages=self.unverified_messages,
                version=snapshots.SNAPSHOT_VERSION,
                body=snapshots.encode(state),
            )
        )
        if stored:
            self._events_since_snapshot = 0
        return stored

    async def snapshot_if_behind(self) -> bool:
        """A snapshot now if the live spacing is overdue (a catch-up just ended); True if
        one was stored. A node left idle after a Sync then restarts from its end."""
        if self._events_since_snapshot < self.policy.every_events:
            return False
        return await self.snapshot_now()

    def _snapshot_if_due(
        self, changes: BatchChanges, state: State, checkpoint: Checkpoint, catching_up: bool
    ) -> Snapshot | None:
        every = self.policy.every_events * (self.policy.catch_up_spacing if catching_up else 1)
        due = self._events_since_snapshot >= every or (
            self._events_since_snapshot > 0 and time.monotonic() >= self._snapshot_due_at
        )
        if not due or not changes.log_rows:
            return None
        return Snapshot(
            offset=checkpoint.offset,
            idx=changes.log_rows[-1][1],
            digest=checkpoint.digest,
            events_applied=checkpoint.events_applied,
            unverified_messages=self.unverified_messages,
            version=snapshots.SNAPSHOT_VERSION,
            body=snapshots.encode(state),
        )

    async def rebuild_from(self, peer: ProjectionStore, page: int = 5000) -> str:
        """Rebuild from a peer instead of the stream (then the stream takes over); say how.

        A peer with a snapshot is copied whole (state transfer) and the copy proven: its log's
        tail replays from its snapshot to its checkpoint's digest. A copy that does not is
        refused loudly, and the node replays the stream instead. A peer without a snapshot
        has its event_log replayed here, folded as a catch-up from the stream is.
        """
        if await peer.newest_snapshot(snapshots.SNAPSHOT_VERSION) is not None:
            return await self._transfer_from(peer)
        await self.reset()
        held: list[Entry] = []
        async for rows in peer.event_log(page=page):
            for row in rows:
                if row["type"] == rejected.TYPE:
                    held.append((row["stream_offset"], _rejected_row(row)))
                elif held and held[-1][0] == row["stream_offset"]:
                    events = held[-1][1]
                    assert isinstance(events, list)  # a rejected message is one row
                    events.append(orjson.loads(row["body"]))
                else:
                    held.append((row["stream_offset"], [orjson.loads(row["body"])]))
            # The last message of a page may continue on the next one: keep it back.
            complete, held = held[:-1], held[-1:]
            if complete:
                await self.apply_batch(complete, catching_up=True, pause_every=PAUSE_EVERY)
        if held:
            await self.apply_batch(held, catching_up=True, pause_every=PAUSE_EVERY)
        return REPLAYED_PEER_LOG

    async def _transfer_from(self, peer: ProjectionStore) -> str:
        self.forget()
        try:
            copied = await self.store.copy_from(peer)
            await self.load(full_replay_if_needed=False)
        except (ProjectionHalted, PeerUnfit, snapshots.SnapshotUnreadable) as exc:
            log.error(
                "the peer's copy is refused, it does not prove itself (%s); replaying the "
                "stream instead",
                exc,
            )
            await self.reset()
            return REFUSED_PEER_COPY
        log.info(
            "state transfer proven: %s events, snapshot at offset %s, digest %s",
            copied.events_applied,
            self.loaded_from,
            copied.digest[:12],
        )
        return COPIED_PEER_SNAPSHOT

    def _halt(self, why: str) -> NoReturn:
        self.halted = why
        log.error("projector halted: %s", why)
        raise ProjectionHalted(why)


def _fold(
    fold: Fold, changes: BatchChanges, event: Event, offset: int, idx: int, body: str
) -> str | None:
    """One event through the fold; its rows read the fold as they would read a ``State``."""
    if not fold.handles(event):
        before, after, ignored = fold.apply_slow(event)
        changes.record(before, after, event, offset, idx, ignored, body)
        return ignored
    assert isinstance(event, Decision)  # every event the fold handles is one
    ignored = fold.verdict(event)
    touched = changes.record_before(fold, event, offset, idx, ignored, body)
    if ignored is None:
        fold.evolve(event)
    changes.record_after(fold, event, offset, idx, ignored, touched)
    return ignored


def _page_events(page: list[Any]) -> Iterator[Event]:
    """The events of a page of event_log rows (not its rejected messages' records), in order,
    validated at once; if that fails, one at a time, so the first bad row fails first."""
    items = [orjson.loads(r["body"]) for r in page if r["type"] != rejected.TYPE]
    try:
        return iter(events_from_dicts(items))
    except Exception:
        return (event_from_dict(item) for item in items)


def _rejected_row(row: Any) -> Rejected:
    """An event_log row of a rejected message; a row that is not one is a corrupt copy."""
    try:
        record = Rejected.from_record(orjson.loads(row["body"]))
    except ValueError as exc:
        raise ProjectionHalted(
            f"local event_log at {row['stream_offset']}/{row['idx']} is not a record of a "
            f"rejected message ({exc}); reset this node"
        ) from None
    if record.reason != row["ignored"]:
        raise ProjectionHalted(
            f"local event_log at {row['stream_offset']}/{row['idx']} records {row['ignored']!r} "
            f"for a rejected message; reset this node"
        )
    return record
