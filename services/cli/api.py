"""Reading a node's HTTP API (the License Manager's data) with aiohttp."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

DEFAULT_API_URL = "http://127.0.0.1:8081"
API_TIMEOUT = 5.0


class ApiUnavailable(Exception):
    """The API could not be reached or answered with an error."""


async def get_json(session: aiohttp.ClientSession, base: str, path: str) -> Any:
    url = f"{base.rstrip('/')}{path}"
    try:
        async with session.get(url) as response:
            if response.status != 200:
                text = (await response.text())[:200]
                raise ApiUnavailable(f"GET {url} answered HTTP {response.status}: {text}")
            return await response.json(content_type=None)
    except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
        raise ApiUnavailable(f"GET {url} failed: {type(exc).__name__}: {exc}") from None


async def fetch(base: str, *paths: str) -> list[Any]:
    """GET every path concurrently; each result is the JSON body or the ApiUnavailable it raised."""
    timeout = aiohttp.ClientTimeout(total=API_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        return list(
            await asyncio.gather(
                *(get_json(session, base, p) for p in paths), return_exceptions=True
            )
        )
