"""amqps:// with CA verification: a node and a client over TLS, and a client with the wrong CA
refused with a clear error.

The TLS listener is a TLS terminating proxy in this process (tests/support/tcp_proxy.py with a
server context) in front of the plain broker on 5672, with a CA and a server certificate
this test makes. That keeps the shared broker's configuration untouched (a TLS listener on
it would need its config changed and a restart, for every engineer on this machine), and
what is tested is ours: that every component verifies the broker's certificate against
``LICENSING_AMQP_CA_FILE``. Between RabbitMQ's own TLS listener and a client the handshake
is the same.
"""

from __future__ import annotations

import asyncio

import pytest

from events.commands import FeatureGrant
from services.client import LicenseClient
from services.client.errors import BrokerUnavailable
from tests.support.certs import make_authority
from tests.support.sites import settings_for
from tests.support.tcp_proxy import TcpProxy

FEATURE = ("Runtime", "2017")


@pytest.fixture
async def authorities(tmp_path):
    return make_authority(tmp_path, "site"), make_authority(tmp_path, "other")


@pytest.fixture
async def tls_proxy(site, authorities):
    site_ca, _other = authorities
    async with TcpProxy(5672, tls=site_ca.server_context()) as proxy:
        yield proxy
        # The proxy runs on this loop: stop the nodes from threads while it still forwards,
        # so they can finish their close handshake (as tests/e2e/test_failover.py does).
        await asyncio.gather(*(asyncio.to_thread(proc.stop) for proc in site.processes))


async def test_a_node_and_a_client_over_amqps_and_a_wrong_ca_refused(site, tls_proxy, authorities):
    site_ca, other_ca = authorities
    node_url = tls_proxy.via(site.broker_url("node"))
    assert node_url.startswith("amqps://")
    node = site.start_node(
        "primary", LICENSING_AMQP_URL=node_url, LICENSING_AMQP_CA_FILE=str(site_ca.ca_file)
    )
    health = await node.wait_healthy()
    assert health["broker"] == f"127.0.0.1:{tls_proxy.port}", health

    product_url = tls_proxy.via(site.broker_url("product"))
    settings = settings_for(site.name, amqp_url=product_url, amqp_ca_file=str(site_ca.ca_file))
    async with LicenseClient(settings) as client:
        reply = await client.activate(
            "LIC-TLS", [FeatureGrant(name=FEATURE[0], version=FEATURE[1], seats=1)]
        )
        assert reply.ok, reply
        async with client.acquire(*FEATURE, device="hmi-tls", user="op") as lease:
            assert lease.lease_id
        assert client.broker == f"127.0.0.1:{tls_proxy.port}"

    wrong = settings_for(site.name, amqp_url=product_url, amqp_ca_file=str(other_ca.ca_file))
    client = LicenseClient(wrong, timeout=3)
    with pytest.raises(BrokerUnavailable) as refused:
        await client.open()
    await client.close()
    assert "TLS refused" in str(refused.value), refused.value
    assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value), refused.value

    # Without any CA file the system's CAs are asked, and they do not know the test's CA.
    system = settings_for(site.name, amqp_url=product_url)
    client = LicenseClient(system, timeout=3)
    with pytest.raises(BrokerUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        await client.open()
    await client.close()
