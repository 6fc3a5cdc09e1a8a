"""The License Manager's sign-in as a browser speaks it, and a login storm against it.

A browser first asks ``/api/session`` for its CSRF token, then posts ``/login`` with it. The
storm is issue 9's row 12: tests/e2e/test_web_limits.py tests it in depth, the attack table
(tests/security) once more against its signed pair; both assert on the same measurement.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiohttp

HEALTH_EVERY_SECONDS = 0.02
SETTLE_SECONDS = 0.5  # health is still timed this long after the last refusal


async def csrf_token(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(url + "/api/session") as answer:
        return (await answer.json())["csrf"]


async def log_in(
    http: aiohttp.ClientSession, url: str, username: str, password: str, csrf: str
) -> tuple[int, dict, dict]:
    """``POST /login``: the status, the JSON body and the headers of the answer."""
    async with http.post(
        url + "/login",
        json={"username": username, "password": password},
        headers={"X-CSRF-Token": csrf},
    ) as response:
        return response.status, await response.json(), dict(response.headers)


@dataclass(frozen=True)
class Storm:
    statuses: list[int]  # one a guess, in the order they were sent
    health_seconds: list[float]  # each /api/health answer's time during the storm, sorted

    @property
    def health_p99(self) -> float:
        timings = self.health_seconds
        return timings[min(len(timings) - 1, int(len(timings) * 0.99))]


async def login_storm(url: str, username: str, guesses: int = 300) -> Storm:
    """``guesses`` wrong passwords for ``username`` sent at once, on one session with no limit
    on connections, while ``/api/health`` is asked every 20 ms (each must answer 200)."""
    timings: list[float] = []
    over = asyncio.Event()

    async def probe(http: aiohttp.ClientSession) -> None:
        while not over.is_set():
            started = time.monotonic()
            async with http.get(url + "/api/health") as answer:
                assert answer.status == 200
                await answer.read()
            timings.append(time.monotonic() - started)
            await asyncio.sleep(HEALTH_EVERY_SECONDS)

    async with aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True), connector=aiohttp.TCPConnector(limit=0)
    ) as http:
        csrf = await csrf_token(http, url)
        prober = asyncio.create_task(probe(http))
        answers = await asyncio.gather(
            *(log_in(http, url, username, f"guess {i}", csrf) for i in range(guesses))
        )
        await asyncio.sleep(SETTLE_SECONDS)
        over.set()
        await prober
    return Storm([status for status, _body, _headers in answers], sorted(timings))
