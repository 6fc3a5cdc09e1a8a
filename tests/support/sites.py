"""A throwaway site: its own queues, stream, broker users and node databases, removed afterwards.

``create_site`` makes the site's broker users (node, product, watchdog) as ``licensing site
setup`` does; nodes then run as the node user, the watchdog as the watchdog user and clients
as the product user. ``AMQP_URL`` is the full-rights login (guest): only what a test does on
purpose with it (forging stream messages, deleting the stream) uses it.

A signed site (``SIGNED_ENV``: node keys and an admin key, the realistic configuration) is
what a site makes with ``Site(..., signed=True)``; the rest of the tiers run open sites.
"""

from __future__ import annotations

import uuid

from services.adapters import teardown
from services.adapters.broker_admin import BrokerAdmin
from services.config.settings import Settings

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
PG_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
# The node keys of tests that run a signed site (LICENSING_NODE_KEYS of their processes).
TEST_NODE_KEYS = "test-1:" + "k" * 40
TEST_ADMIN_KEY = "test-admin-key-" + "a" * 24
SIGNED_ENV = {"LICENSING_NODE_KEYS": TEST_NODE_KEYS, "LICENSING_ADMIN_KEY": TEST_ADMIN_KEY}

# The users' AMQP URLs of the sites this test process made, by site then role.
_users: dict[str, dict[str, str]] = {}


def new_site_name() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


async def create_site(site: str) -> None:
    """The site's broker users, with fresh passwords (the topology is the nodes' to declare)."""
    users = await BrokerAdmin().setup(site)
    _users[site] = {user.role: user.amqp_url(AMQP_URL) for user in users}


def role_url(site: str, role: str) -> str:
    """The AMQP URL of a role's user; a site nobody created has none, so full rights."""
    return _users.get(site, {}).get(role, AMQP_URL)


def settings_for(site: str, **overrides: object) -> Settings:
    """A product's settings: the product user of the site."""
    options: dict[str, object] = {"amqp_url": role_url(site, "product"), **overrides}
    return Settings(pg_dsn=PG_DSN, site=site, **options)


async def remove_site(site: str, nodes: list[str]) -> None:
    await teardown.remove_site(AMQP_URL, PG_DSN, site, nodes)
    await BrokerAdmin().remove(site)  # the three users, by exact name
    _users.pop(site, None)
