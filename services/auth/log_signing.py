"""The site's node keys: signatures of stream messages and heartbeats (invariant 10), pure.

Only nodes write the stream, but any broker login could publish to it; the signature is
what tells a node's message from anyone else's. ``LICENSING_NODE_KEYS`` is comma
separated ``kid:secret``. The first key signs; every listed key verifies, so a key is
rotated by adding the new one second everywhere, then moving it first, then dropping
the old one. No keys is "open" mode: nothing is signed and everything is accepted.

The header is ``x-sig: <kid>:<hex HMAC-SHA256(secret, body)>``. The kid only picks the
key; the HMAC over the exact body bytes is the proof.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field

HEADER = "x-sig"
MIN_SECRET_LENGTH = 32
_KID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class BadNodeKeys(ValueError):
    """LICENSING_NODE_KEYS is not a list of ``kid:secret`` with secrets long enough."""


@dataclass(frozen=True)
class NodeKey:
    kid: str
    secret: bytes = field(repr=False)

    def mac(self, body: bytes) -> str:
        return hmac.new(self.secret, body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class NodeKeys:
    keys: tuple[NodeKey, ...] = ()

    @classmethod
    def from_setting(cls, text: str | None) -> NodeKeys:
        keys: list[NodeKey] = []
        for entry in (text or "").split(","):
            entry = entry.strip()
            if not entry:
                continue
            kid, sep, secret = entry.partition(":")
            if not sep or not _KID.match(kid):
                raise BadNodeKeys("each node key is kid:secret (kid: letters, digits, _ . -)")
            if len(secret) < MIN_SECRET_LENGTH:
                raise BadNodeKeys(
                    f"node key {kid}: the secret needs at least {MIN_SECRET_LENGTH} characters"
                )
            if any(k.kid == kid for k in keys):
                raise BadNodeKeys(f"node key {kid} is listed twice")
            keys.append(NodeKey(kid, secret.encode()))
        return cls(tuple(keys))

    @property
    def signed(self) -> bool:
        """Does this site sign its log? (False: open mode.)"""
        return bool(self.keys)

    def describe(self) -> str:
        if not self.signed:
            return "open (no LICENSING_NODE_KEYS: unsigned stream messages are accepted)"
        return f"signed (key {self.keys[0].kid}; {len(self.keys)} verify)"

    def sign(self, body: bytes) -> str:
        """The ``x-sig`` header value for ``body``, made with the first key."""
        if not self.signed:
            raise BadNodeKeys("no node key to sign with (open mode)")
        first = self.keys[0]
        return f"{first.kid}:{first.mac(body)}"

    def headers(self, body: bytes) -> dict[str, str]:
        """The headers a publisher adds: the signature, or nothing in open mode."""
        return {HEADER: self.sign(body)} if self.signed else {}

    def verify(self, body: bytes, header: object) -> bool:
        """Is ``header`` a signature of ``body`` by one of the keys? Any malformed header
        (missing, not text, unknown kid) is simply not one."""
        if isinstance(header, bytes):
            try:
                header = header.decode("ascii")
            except UnicodeDecodeError:
                return False
        if not isinstance(header, str):
            return False
        kid, sep, mac = header.partition(":")
        key = next((k for k in self.keys if k.kid == kid), None)
        if not sep or key is None:
            return False
        return hmac.compare_digest(key.mac(body), mac)


OPEN = NodeKeys()  # a site without node keys: nothing signed, everything accepted
