"""Admin commands are signed: HMAC-SHA256 over the command id, the actor and the body.

The key is the site's admin key (``LICENSING_ADMIN_KEY``), known to the nodes and to
the administrators' tools, never to products. A node's License Manager signs on
behalf of the administrator logged in to it; the CLI signs with the key from its
environment. The actor is inside the signature, so the name recorded in the event
is the one that was authorized.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "x-signature"


def sign(key: str, command_id: str, actor: str | None, body: bytes) -> str:
    mac = hmac.new(key.encode(), digestmod=hashlib.sha256)
    mac.update(command_id.encode() + b"\n" + (actor or "").encode() + b"\n")
    mac.update(body)
    return mac.hexdigest()


def verify(key: str, command_id: str, actor: str | None, body: bytes, signature: object) -> bool:
    if not isinstance(signature, str):
        return False
    return hmac.compare_digest(sign(key, command_id, actor, body), signature)
