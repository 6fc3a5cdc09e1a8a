"""The License Server ID, of the seed's form ``HOSTNAME_XXXXXXXX`` (e.g. ``K1GRRED_CZTJ42CG``).

The host part is the node name upper-cased (several nodes may share one host here),
the suffix is 8 random characters. It is kept in the node's own database.
"""

from __future__ import annotations

import re
import secrets
import string

import asyncpg

_ALPHABET = string.ascii_uppercase + string.digits


def new_server_id(node: str) -> str:
    host = re.sub(r"[^A-Z0-9]", "", node.upper())[:15] or "NODE"
    return f"{host}_{''.join(secrets.choice(_ALPHABET) for _ in range(8))}"


async def load_or_create(pool: asyncpg.Pool, node: str) -> str:
    server_id = await pool.fetchval("SELECT server_id FROM node_identity WHERE id = 1")
    if server_id is None:
        server_id = await pool.fetchval(
            "INSERT INTO node_identity (node, server_id) VALUES ($1, $2) "
            "ON CONFLICT (id) DO UPDATE SET node = node_identity.node RETURNING server_id",
            node,
            new_server_id(node),
        )
    return server_id
