"""Wait for a condition with a deadline (never a bare sleep)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from services.adapters.processes import wait_until

T = TypeVar("T")


async def wait_for(
    check: Callable[[], Awaitable[T | None]], timeout: float, what: str, interval: float = 0.05
) -> T:
    """``check()``'s first true result; an ``assert`` that fails in it means "not yet" and is
    what the TimeoutError reports when time runs out."""
    return await wait_until(check, timeout, what, interval, not_yet=AssertionError)
