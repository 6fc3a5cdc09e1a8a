"""Following a node after an order: its replay (with a progress bar) or its stop.

Everything here reads the nodes' own HTTP APIs: ``/api/servers`` of the API the
administrator points at (to find each node's address), then ``/api/health`` of the
node that carries out the order and of the writer, about five times a second.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from events.vocabulary import ServerStatus
from services.cli.api import API_TIMEOUT, ApiUnavailable, get_json
from services.views import Health, ServersView, Tile

POLL_SECONDS = 0.2
HEALTH_TIMEOUT = 2.0
MISMATCH_SECONDS = 3.0  # equal offsets, different digests, for this long: the pair is not synced
RESTARTED_SLACK = 5.0  # uptime this much below what it should be: the node process was restarted


class FollowFailed(Exception):
    """Following did not end well (timeout, a halted projector, digests that differ)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Located:
    """Where the nodes of a site answer, as ``/api/servers`` of one of them says."""

    servers: ServersView
    urls: dict[str, str] = field(
        default_factory=dict
    )  # node -> api_url, for nodes that publish one

    def entry(self, node: str) -> Tile | None:
        return self.servers.tile(node)


async def locate(api_url: str) -> Located:
    """``/api/servers`` of ``api_url``; ``ApiUnavailable`` if it does not answer."""
    timeout = aiohttp.ClientTimeout(total=API_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        answer = await get_json(session, api_url, "/api/servers")
    try:
        servers = ServersView.model_validate(answer)
    except ValidationError:
        raise ApiUnavailable(
            f"GET {api_url}/api/servers answered something that is not the site's servers"
        ) from None
    return Located(servers, servers.api_urls())


async def read_health(session: aiohttp.ClientSession, base: str) -> Health | None:
    """A node's ``/api/health``, healthy (200) or not (503); None if it does not answer."""
    try:
        async with session.get(f"{base.rstrip('/')}/api/health") as response:
            if response.status not in (200, 503):
                return None
            return Health.model_validate(await response.json(content_type=None))
    except (TimeoutError, aiohttp.ClientError, ValueError, OSError):
        return None  # a ValidationError is a ValueError: an answer that is not a health


async def health_once(base: str) -> Health | None:
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=HEALTH_TIMEOUT)
    ) as session:
        return await read_health(session, base)


def _progress(show: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True, highlight=False),
        disable=not show,
    )


@dataclass
class Replayed:
    node: str
    server_id: str
    old_server_id: str
    events: int
    offset: int
    digest: str
    matched: str | None  # the node whose digest it equals
    matched_as: str  # "the writer", "the log's last writer", "a caught-up peer", ...
    elapsed: float
    polls: int
    saw_recovering: bool

    @property
    def rate(self) -> float:
        return self.events / self.elapsed if self.elapsed > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "server_id": self.server_id,
            "old_server_id": self.old_server_id,
            "events": self.events,
            "offset": self.offset,
            "digest": self.digest,
            "matched": self.matched,
            "matched_as": self.matched_as,
            "elapsed": round(self.elapsed, 3),
            "rate": round(self.rate, 1),
            "polls": self.polls,
            "saw_recovering": self.saw_recovering,
        }


Reference = tuple[str | None, Health | None, str]


def _writer_health(target: str, own: Health, others: dict[str, Health | None]) -> Reference:
    """The node to match: the writer, and its health.

    The writer is the node that says so (``writer: true``; a node takes the role
    when the first command reaches it), else the writer the log names
    (``writer_node``, as in ``/api/servers``). If that is the node being rebuilt
    itself (it was the writer until the order stopped its session, and no command
    has promoted another node since), any other caught-up node serves as well: they
    all read the same log. A site of one node has only itself to match.
    """
    for node, health in others.items():
        if health and health.writer is True:
            return node, health, "the writer"
    if own.writer is True:
        return target, own, "the writer"
    named = next((h.writer_node for h in others.values() if h and h.writer_node), None)
    if named and named != target and others.get(named):
        return named, others[named], "the log's last writer"
    caught_up = [(n, h) for n, h in others.items() if h and h.caught_up]
    if caught_up:
        node, health = max(caught_up, key=lambda item: item[1].offset)
        return node, health, "a caught-up peer"
    if not others:
        return target, own, "itself (the site's only node with an API)"
    return None, None, ""


def _restarted(own: Health, before: Health, elapsed: float) -> bool:
    """The node's session restarted since ``before`` (or its whole process did)."""
    return (
        own.restarts > before.restarts
        or own.uptime_seconds + RESTARTED_SLACK < before.uptime_seconds + elapsed
    )


async def follow_replay(
    node: str, located: Located, before: Health, *, new_id: bool, timeout: float, show: bool
) -> Replayed:
    """Poll until ``node`` carried out its reset/sync order and matches the writer's digest.

    ``before`` is the node's health read before the order was sent. The order is
    carried out when the node's session restarted (``restarts`` grew, or the process
    itself was restarted) and, for a reset, its License Server ID changed. Then it is
    done when it is caught up and its digest equals the writer's digest.
    """
    url = located.urls[node]
    peers = {name: u for name, u in located.urls.items() if name != node}
    id0 = before.server_id
    start = time.monotonic()
    deadline = start + timeout
    carried_out = saw_recovering = False
    mismatch_since: float | None = None
    polls = 0
    last: Health | None = None
    verb = "Resetting" if new_id else "Replaying"
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=HEALTH_TIMEOUT)
    ) as session:
        with _progress(show) as progress:
            task = progress.add_task(
                f"{verb} {node}: waiting for it to take the order", total=None, rate=""
            )
            while True:
                tick = time.monotonic()
                own, *answers = await asyncio.gather(
                    read_health(session, url), *(read_health(session, u) for u in peers.values())
                )
                others = dict(zip(peers, answers, strict=True))
                polls += 1
                now = time.monotonic()
                elapsed = now - start
                if own is not None:
                    last = own
                    if own.status == ServerStatus.HALTED or own.projector_halted:
                        raise FollowFailed(
                            "halted",
                            f"{node} stopped replaying: its projector halted: "
                            f"{own.projector_halted or own.last_error}",
                        )
                    if own.status == ServerStatus.RECOVERING:
                        saw_recovering = True
                    if not carried_out:
                        carried_out = _restarted(own, before, elapsed) and (
                            not new_id or own.server_id != id0
                        )
                    events = own.events_applied
                    moving = carried_out or saw_recovering
                    rate = f"{events / elapsed:,.0f} events/s" if elapsed > 0 and moving else ""
                    if moving:
                        target = own.target_offset
                        total = None if target is None else max(target + 1, own.offset + 1)
                        progress.update(
                            task,
                            description=f"{verb} {node} ({own.status})",
                            completed=own.offset + 1,
                            total=total,
                            rate=rate,
                        )
                    writer, writer_health, matched_as = _writer_health(node, own, others)
                    if carried_out and own.caught_up and writer_health is not None:
                        if (
                            writer_health.digest == own.digest
                            and own.status == ServerStatus.RUNNING
                        ):
                            progress.update(
                                task,
                                description=f"{verb} {node} (caught up)",
                                completed=own.offset + 1,
                                total=own.offset + 1,
                                rate=rate,
                            )
                            return Replayed(
                                node,
                                own.server_id,
                                id0,
                                events,
                                own.offset,
                                own.digest,
                                writer,
                                matched_as,
                                elapsed,
                                polls,
                                saw_recovering,
                            )
                        if writer_health.offset == own.offset:
                            mismatch_since = mismatch_since or now
                            if now - mismatch_since >= MISMATCH_SECONDS:
                                raise FollowFailed(
                                    "not_synced",
                                    f"pair not synced: {node} and {writer} ({matched_as}) are both "
                                    f"at offset {own.offset} but their digests differ "
                                    f"({own.digest[:12]} != {writer_health.digest[:12]})",
                                )
                        else:
                            mismatch_since = None
                elif carried_out or saw_recovering:
                    progress.update(task, description=f"{verb} {node} (not answering)")
                if now >= deadline:
                    where = (
                        "it never took the order"
                        if not carried_out and not saw_recovering
                        else f"it is at offset {last.offset} of {last.target_offset}, "
                        f"status {last.status}"
                        if last
                        else "its API does not answer"
                    )
                    raise FollowFailed(
                        "timeout",
                        f"{node} did not catch up with the writer within "
                        f"{timeout:g} s ({where}); it may still be "
                        f"replaying: watch it with "
                        f"'licensing status --api {url}'",
                    )
                await asyncio.sleep(max(0.0, POLL_SECONDS - (time.monotonic() - tick)))


async def follow_stop(node: str, url: str, *, timeout: float) -> tuple[str, float]:
    """Poll until the node's API stops answering or its health says Stopped. (how, seconds)."""
    start = time.monotonic()
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=HEALTH_TIMEOUT)
    ) as session:
        while True:
            health = await read_health(session, url)
            elapsed = time.monotonic() - start
            if health is None:
                return "its API no longer answers", elapsed
            if health.status == ServerStatus.STOPPED:
                return "its health says Stopped", elapsed
            if elapsed >= timeout:
                raise FollowFailed(
                    "timeout",
                    f"{node} still answers at {url} with status "
                    f"{health.status} after {timeout:g} s; "
                    f"it has not stopped",
                )
            await asyncio.sleep(POLL_SECONDS)
