"""Run one async client session from a click command; client errors exit 1 in words."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from services.cli.context import CliContext
from services.cli.output import fail
from services.client import ClientError, LicenseClient
from services.config.settings import Settings

T = TypeVar("T")


def with_client(
    ctx: CliContext,
    work: Callable[[LicenseClient], Awaitable[T]],
    settings: Settings | None = None,
) -> T:
    """``work`` with a client of ``settings`` (default: the command's own)."""
    settings = settings or ctx.settings()

    async def session() -> T:
        client = LicenseClient(
            settings, timeout=ctx.timeout, attempt_timeout=ctx.attempt_timeout, actor=ctx.actor
        )
        async with client:
            return await work(client)

    try:
        return asyncio.run(session())
    except ClientError as exc:
        fail(ctx, exc.code, exc.message)
