"""Administrator passwords, stored only as scrypt hashes (``LICENSING_ADMIN_USERS``).

The setting holds ``user:hash`` entries separated by commas; make a hash with
``licensing hash-password``. The format is ``scrypt$n$r$p$salt_hex$hash_hex``.

A check costs about 50 ms of CPU and 16 MB: ``verify`` runs it on a small pool of its own
threads (hashlib releases the GIL), so a storm of sign-ins queues for those workers
instead of starving the event loop or the default executor every other ``to_thread`` uses.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from concurrent.futures import ThreadPoolExecutor

N, R, P = 2**14, 8, 1
HASH_WORKERS = 1  # administrators sign in rarely; the other core stays the event loop's
_hashing = ThreadPoolExecutor(max_workers=HASH_WORKERS, thread_name_prefix="scrypt")


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, dklen=32)
    return f"scrypt${N}${R}${P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(
            password.encode(),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected) // 2,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest.hex(), expected)


async def verify(password: str, stored: str) -> bool:
    """``check_password`` off the event loop, on the bounded hashing pool."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_hashing, check_password, password, stored)


def parse_users(setting: str) -> dict[str, str]:
    users = {}
    for entry in filter(None, (e.strip() for e in setting.split(","))):
        name, _, stored = entry.partition(":")
        if name and stored:
            users[name] = stored
    return users
