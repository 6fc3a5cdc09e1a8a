"""The client signs with what it holds, and the writer's screening accepts exactly that."""

from __future__ import annotations

from datetime import UTC, datetime

from events.codec import dumps
from events.commands import Acquire, RegisterServer, Release, Reserve
from events.vocabulary import Authority
from services.auth.signing import AUTHORITY_HEADER, Keys
from services.client.rpc import Rpc
from services.writer.intake import Accepted, Refused, screen

ADMIN_KEY, NODE_KEY = "admin-key", "n" * 32
KEYS = Keys(admin=ADMIN_KEY, node=(NODE_KEY,))


def _screened(rpc: Rpc, command, actor: str | None = "someone"):
    body = dumps(command)
    headers = rpc._headers(command, "c1", actor, body)
    return headers, screen(body, "c1", "reply", headers, KEYS, datetime.now(UTC))


def test_each_command_is_signed_with_the_key_its_authority_needs():
    node = Rpc("q", attempt_timeout=1, timeout=1, node_key=NODE_KEY)
    admin = Rpc("q", attempt_timeout=1, timeout=1, admin_key=ADMIN_KEY)
    product = Rpc("q", attempt_timeout=1, timeout=1)
    register = RegisterServer(node="a", server_id="A_1")
    force = Release(lease_id="L-1", reason="stuck")
    reserve = Reserve(feature="F", version="1", device="d")

    headers, got = _screened(node, register)
    assert headers[AUTHORITY_HEADER] == Authority.NODE and isinstance(got, Accepted)
    for command in (register, force, reserve):  # the admin key stands in for a node key too
        headers, got = _screened(admin, command)
        assert headers[AUTHORITY_HEADER] == Authority.ADMIN and isinstance(got, Accepted)
    for command in (force, reserve):  # a node key is no admin key
        assert isinstance(_screened(node, command)[1], Refused)
    for command in (register, force, reserve):
        assert isinstance(_screened(product, command)[1], Refused)
    headers, got = _screened(product, Acquire(feature="F", version="1", device="d", user="u"))
    assert headers == {"x-actor": "someone"} and isinstance(got, Accepted)
