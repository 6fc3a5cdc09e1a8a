"""Administrator passwords, stored only as scrypt hashes (``LICENSING_ADMIN_USERS``).

The setting holds ``user:hash`` entries separated by commas; make a hash with
``licensing hash-password``. The format is ``scrypt$n$r$p$salt_hex$hash_hex``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

N, R, P = 2**14, 8, 1


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


def parse_users(setting: str) -> dict[str, str]:
    users = {}
    for entry in filter(None, (e.strip() for e in setting.split(","))):
        name, _, stored = entry.partition(":")
        if name and stored:
            users[name] = stored
    return users
