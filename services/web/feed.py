"""The live feed: server-sent events telling the page when the node has applied new events."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from services.views import Health

POLL_SECONDS = 0.2  # how often the live feed looks at the node's checkpoint
KEEPALIVE_SECONDS = 15.0  # an SSE comment now and then keeps proxies from closing the stream


class LiveFeed:
    def __init__(self, health: Callable[[], Health]) -> None:
        self.health = health
        self.closing = asyncio.Event()  # set on shutdown, or the runner would wait for the feeds

    def signature(self) -> dict[str, Any]:
        """What the page must redraw on: any change of it is worth a "changed" notice."""
        h = self.health()
        return {
            "offset": h.offset,
            "status": h.status,
            "caught_up": h.caught_up,
            "connected": h.connected,
            "halted": bool(h.projector_halted),
        }

    async def close(self, _: web.Application) -> None:
        self.closing.set()

    async def events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        try:
            await response.write(b"retry: 1000\n\n")
            await self._notify(response)
        except ConnectionResetError:  # the page went away
            pass
        return response

    async def _notify(self, response: web.StreamResponse) -> None:
        last: dict[str, Any] | None = None
        quiet = 0.0
        while not self.closing.is_set():
            now = self.signature()
            if now != last:
                await response.write(b"event: changed\ndata: " + orjson.dumps(now) + b"\n\n")
                last, quiet = now, 0.0
            elif quiet >= KEEPALIVE_SECONDS:
                await response.write(b": keep-alive\n\n")
                quiet = 0.0
            try:
                await asyncio.wait_for(self.closing.wait(), POLL_SECONDS)
            except TimeoutError:
                quiet += POLL_SECONDS
