"""A site's broker users and permissions, set up and removed through the management HTTP API.

Three users per site, each with RabbitMQ's own permission regexes (configure, write, read):

- ``licensing-<site>-node``: every object of the site (``licensing.<site>.*``); the only one
  that may write to the default exchange, which is how the stream and the replies are
  published. It declares the topology.
- ``licensing-<site>-product``: writes only to ``licensing.<site>.ingress`` (bound to the
  commands queue); configures and reads only server-named queues (``amq.gen-*``, its
  exclusive reply queue). So it cannot declare, delete, purge or consume the site's queues,
  nor publish through the default exchange (whose resource name is ``amq.default``) to the
  stream or the commands queue, nor to the heartbeats exchange.
- ``licensing-<site>-watchdog``: reads the heartbeats exchange into its own server-named
  queue (binding needs write on that queue and read on the exchange), declares the
  heartbeats exchange if no node has yet (configure on that one name, which would also let it
  delete that transient exchange: the watchdog holds the node key anyway) and sends its
  reports through the ingress, like a product.

Direct reply-to (``amq.rabbitmq.reply-to``) needs no permission at all on 3.10: consuming
the pseudo-queue is not checked, and the responder publishes the reply through the default
exchange with its own rights (tests/security/test_broker_permissions.py proves it with a
product that has no read permission on it).

One vhost shared by the sites (the one the AMQP URL names, ``/`` by default), with per-site
names, rather than a vhost per site. Measured on the local 3.10 broker: the three users and
their permissions take about 11 ms to set up and 4 ms to remove; a vhost adds about 10 ms to
create and 15 ms to delete, so cost does not decide it. What does: a vhost per site is the
cleaner least privilege (a node may write the default exchange, and so any queue of its
vhost; in a shared vhost that includes other sites' streams, which only the signed log then
stops), but every URL, tool and test that names ``/`` would have to learn the site's vhost.
So a site gets its own vhost when its AMQP URL names one (``amqp://host/licensing-<site>``;
not exercised by the tests, which use ``/``): ``setup`` creates it and ``remove`` deletes
it when it is named ``licensing-<site>``; with ``/`` the anchored regexes keep products
apart exactly.
``remove`` deletes exactly the three users by name (their permissions go with them).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import aiohttp

from services.adapters.topology import Topology

DEFAULT_ADMIN_URL = "http://guest:guest@127.0.0.1:15672"
ROLES = ("node", "product", "watchdog")
_SERVER_NAMED = r"amq\.gen-.*"


class BrokerAdminError(RuntimeError):
    """The management API refused or failed a request."""


@dataclass(frozen=True)
class Permissions:
    configure: str
    write: str
    read: str


@dataclass(frozen=True)
class SiteUser:
    role: str
    name: str
    password: str

    def amqp_url(self, base_url: str) -> str:
        """``base_url`` (host, port, vhost, query) with this user's credentials; a comma
        separated list (a broker cluster) gets them in every URL."""
        return ",".join(self._one_url(url.strip()) for url in base_url.split(","))

    def _one_url(self, base_url: str) -> str:
        parts = urlsplit(base_url)
        host = parts.hostname or "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port else ""
        user = f"{quote(self.name, safe='')}:{quote(self.password, safe='')}"
        return urlunsplit(
            (parts.scheme, f"{user}@{host}{port}", parts.path or "/", parts.query, "")
        )


def user_name(site: str, role: str) -> str:
    return f"licensing-{site}-{role}"


def _exactly(*names: str) -> str:
    return "^(" + "|".join(names) + ")$"


def permissions(site: str, role: str) -> Permissions:
    """The regexes of one role of one site (anchored: nothing of another site matches)."""
    topology = Topology(site)
    own = re.escape(f"licensing.{site}.") + ".*"
    ingress = re.escape(topology.ingress)
    heartbeats = re.escape(topology.heartbeats)
    if role == "node":
        # amq.default: the writer publishes events to the stream and replies to reply_to.
        return Permissions(
            configure=_exactly(own, _SERVER_NAMED),
            write=_exactly(own, _SERVER_NAMED, r"amq\.default"),
            read=_exactly(own, _SERVER_NAMED),
        )
    if role == "product":
        return Permissions(
            configure=_exactly(_SERVER_NAMED), write=_exactly(ingress), read=_exactly(_SERVER_NAMED)
        )
    if role == "watchdog":
        return Permissions(
            configure=_exactly(_SERVER_NAMED, heartbeats),
            write=_exactly(_SERVER_NAMED, ingress),
            read=_exactly(_SERVER_NAMED, heartbeats),
        )
    raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")


def vhost_of(amqp_url: str) -> str:
    """The vhost an AMQP URL names (``/`` when it names none, as in amqp://host/); of a list,
    the first URL's (a cluster's users and vhosts are the same on every node)."""
    path = urlsplit(amqp_url.split(",")[0].strip()).path
    return path[1:] if len(path) > 1 else "/"


class BrokerAdmin:
    """The management API of one broker (``LICENSING_BROKER_ADMIN_URL``)."""

    def __init__(self, admin_url: str = DEFAULT_ADMIN_URL, vhost: str = "/") -> None:
        parts = urlsplit(admin_url)
        self._authorization = aiohttp.encode_basic_auth(
            unquote(parts.username or "guest"), unquote(parts.password or "guest")
        )
        port = f":{parts.port}" if parts.port else ""
        self._base = urlunsplit((parts.scheme, f"{parts.hostname}{port}", "/api", "", ""))
        self.vhost = vhost

    async def setup(self, site: str) -> list[SiteUser]:
        """Create (or reset) the site's three users with fresh passwords and their rights."""
        users = [SiteUser(r, user_name(site, r), secrets.token_urlsafe(24)) for r in ROLES]
        async with self._session() as http:
            if self.vhost != "/":
                await self._call(http, "PUT", f"vhosts/{self._vhost_part()}", {})
            for user in users:
                body = {"password": user.password, "tags": ""}
                await self._call(http, "PUT", f"users/{quote(user.name, safe='')}", body)
                rights = permissions(site, user.role)
                await self._call(
                    http,
                    "PUT",
                    f"permissions/{self._vhost_part()}/{quote(user.name, safe='')}",
                    {"configure": rights.configure, "write": rights.write, "read": rights.read},
                )
        return users

    async def remove(self, site: str) -> None:
        """Delete the site's users by exact name; a user already gone is fine."""
        async with self._session() as http:
            for role in ROLES:
                name = quote(user_name(site, role), safe="")
                await self._call(http, "DELETE", f"users/{name}", missing_ok=True)
            if self.vhost == f"licensing-{site}":
                await self._call(http, "DELETE", f"vhosts/{self._vhost_part()}", missing_ok=True)

    def _vhost_part(self) -> str:
        return quote(self.vhost, safe="")

    def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            headers={"Authorization": self._authorization},
            timeout=aiohttp.ClientTimeout(total=10),
        )

    async def _call(
        self,
        http: aiohttp.ClientSession,
        method: str,
        path: str,
        body: dict[str, str] | None = None,
        *,
        missing_ok: bool = False,
    ) -> None:
        url = f"{self._base}/{path}"
        try:
            async with http.request(method, url, json=body) as response:
                if response.status == 404 and missing_ok:
                    return
                if response.status >= 300:
                    text = (await response.text())[:300]
                    raise BrokerAdminError(f"{method} {path}: HTTP {response.status} {text}")
        except aiohttp.ClientError as exc:
            raise BrokerAdminError(
                f"the broker's management API at {self._base} did not answer ({exc}); "
                "is the rabbitmq_management plugin enabled (scripts/ensure-services.sh)?"
            ) from exc
