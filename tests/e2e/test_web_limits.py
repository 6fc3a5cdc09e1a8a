"""The License Manager's sign-in under attack: lockout, a login storm, sign-outs that last.

Issue 9 row 12: guesses were unlimited, 300 concurrent attempts starved ``/api/health``
for 3.6 s, and a signed-out session worked again after a node restart.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from services.auth.passwords import hash_password
from tests.support.sign_in import csrf_token, log_in, login_storm

pytestmark = pytest.mark.timeout(120)

KEY = "web-limits-admin-key"
ADMIN, PASSWORD = "admin", "correct horse battery staple"
LOCK_AFTER, LOCK_SECONDS, BACKOFF = 3, 4, 0.1


def _admin_env(**extra: str) -> dict[str, str]:
    return {
        "LICENSING_ADMIN_KEY": KEY,
        "LICENSING_ADMIN_USERS": f"{ADMIN}:{hash_password(PASSWORD)}",
        **extra,
    }


async def test_a_user_locked_after_wrong_passwords_is_refused_until_the_lock_ends(site):
    node = site.start_node(
        "solo",
        **_admin_env(
            LICENSING_LOGIN_LOCK_AFTER=str(LOCK_AFTER),
            LICENSING_LOGIN_LOCK_SECONDS=str(LOCK_SECONDS),
            LICENSING_LOGIN_BACKOFF_SECONDS=str(BACKOFF),
        ),
    )
    await node.wait_registered()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        csrf = await csrf_token(http, node.url)
        for _ in range(LOCK_AFTER):
            await asyncio.sleep(BACKOFF * 2**LOCK_AFTER)  # past any backoff: each one is a guess
            status, _body, _headers = await log_in(http, node.url, ADMIN, "wrong", csrf)
            assert status == 401
        locked_at = time.monotonic()

        status, body, headers = await log_in(http, node.url, ADMIN, PASSWORD, csrf)
        assert status == 429, body
        assert 1 <= int(headers["Retry-After"]) <= LOCK_SECONDS
        assert "try again in" in body["message"] and "UTC" in body["message"]
        assert body["error"]["code"] == "too_many_attempts"

        await asyncio.sleep(max(0.0, locked_at + LOCK_SECONDS / 2 - time.monotonic()))
        status, body, _headers = await log_in(http, node.url, ADMIN, PASSWORD, csrf)
        assert status == 429, "still locked half way through the lock"

        await asyncio.sleep(max(0.0, locked_at + LOCK_SECONDS + 0.5 - time.monotonic()))
        status, body, _headers = await log_in(http, node.url, ADMIN, PASSWORD, csrf)
        assert status == 200 and body["user"] == ADMIN


async def test_a_login_storm_leaves_health_answering(site):
    node = site.start_node("solo", **_admin_env())
    await node.wait_registered()
    storm = await login_storm(node.url, ADMIN)

    timings = storm.health_seconds
    assert len(timings) >= 10
    p99 = storm.health_p99
    assert p99 < 0.5, f"/api/health p99 {p99:.3f} s during the storm (max {timings[-1]:.3f} s)"
    statuses = sorted(set(storm.statuses))
    assert set(statuses) <= {401, 429} and 429 in statuses, statuses


async def test_a_signed_out_session_stays_signed_out_after_a_restart(site):
    env = _admin_env()
    node = site.start_node("solo", **env)
    await node.wait_registered()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        status, login, _headers = await log_in(
            http, node.url, ADMIN, PASSWORD, await csrf_token(http, node.url)
        )
        assert status == 200
        cookie = next(c for c in http.cookie_jar if c.key == "lm_session_solo").value
        async with http.post(
            node.url + "/logout", json={}, headers={"X-CSRF-Token": login["csrf"]}
        ):
            pass
    node.stop()
    node = site.start_node("solo", **env)
    await node.wait_registered()

    async with aiohttp.ClientSession(
        cookies={"lm_session_solo": cookie}, cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as stale:
        async with stale.get(node.url + "/api/session") as answer:
            assert (await answer.json())["user"] is None
        async with stale.post(
            node.url + "/api/manage/sync",
            json={"node": "solo"},
            headers={"X-CSRF-Token": login["csrf"]},
        ) as refused:
            assert refused.status in (401, 403)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        status, again, _headers = await log_in(
            http, node.url, ADMIN, PASSWORD, await csrf_token(http, node.url)
        )
        assert (
            status == 200 and again["user"] == ADMIN
        )  # the same secret: sessions survive restarts
