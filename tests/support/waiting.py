"""Wait for a condition with a deadline (never a bare sleep)."""
from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable, TypeVar

T = TypeVar("T")


async def wait_for(check: Callable[[], Awaitable[T | None]], timeout: float, what: str,
                   interval: float = 0.05) -> T:
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            result = await check()
        except AssertionError as exc:
            result, last = None, exc
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        await asyncio.sleep(interval)
