"""The broker address list: parsing LICENSING_AMQP_URL and the order addresses are tried in."""

from __future__ import annotations

import pytest

from services.adapters.brokers import (
    BadBrokerUrl,
    BrokerAddress,
    BrokerList,
    NoBrokerReachable,
    parse_broker_urls,
    rotation,
)
from services.adapters.topology import Topology, replicated

CLUSTER = (
    "amqp://guest:guest@127.0.0.1:5681/,amqp://u2:p2@127.0.0.1:5682/other,"
    " amqps://u3:p3@broker-3.plant:5683/%2Fsite?heartbeat=5"
)


def test_a_list_is_split_in_order_and_each_url_keeps_its_own_login_and_vhost():
    addresses = parse_broker_urls(CLUSTER)
    assert [a.host_port for a in addresses] == [
        "127.0.0.1:5681",
        "127.0.0.1:5682",
        "broker-3.plant:5683",
    ]
    assert [a.parsed.user for a in addresses] == ["guest", "u2", "u3"]
    assert [a.parsed.password for a in addresses] == ["guest", "p2", "p3"]
    assert [a.parsed.path for a in addresses] == ["/", "/other", "//site"]
    assert [a.tls for a in addresses] == [False, False, True]


def test_one_url_is_a_list_of_one():
    (only,) = parse_broker_urls("amqp://guest:guest@127.0.0.1:5672/")
    assert only.host_port == "127.0.0.1:5672"


def test_the_default_port_follows_the_scheme():
    plain, tls = parse_broker_urls("amqp://h1/,amqps://h2/")
    assert (plain.host_port, tls.host_port) == ("h1:5672", "h2:5671")


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        ("", "empty"),
        ("amqp://h1/,,amqp://h2/", "entry 2 is empty"),
        ("amqp://h1/,", "entry 2 is empty"),
        ("http://h1/", "entry 1 must start with amqp:// or amqps://"),
        ("amqp://h1/,h2:5672", "entry 2 must start with amqp://"),
        ("amqp:///vhost", "entry 1 names no host"),
        ("amqp://h1:99999/", "entry 1 is not a URL: Port out of range"),
    ],
)
def test_a_bad_entry_is_named(setting, says):
    with pytest.raises(BadBrokerUrl, match=says):
        parse_broker_urls(setting)


def test_the_shown_url_has_no_password_and_no_query():
    address = BrokerAddress("amqps://u:secret@h:5671/v?heartbeat=5&cafile=x")
    assert address.shown == "amqps://u@h:5671/v"
    assert "secret" not in address.shown


def test_the_heartbeat_is_added_unless_the_url_sets_one():
    assert BrokerAddress("amqp://h/").with_heartbeat(2) == "amqp://h/?heartbeat=2"
    assert BrokerAddress("amqp://h/?x=1").with_heartbeat(2) == "amqp://h/?x=1&heartbeat=2"
    assert BrokerAddress("amqp://h/?heartbeat=7").with_heartbeat(2) == "amqp://h/?heartbeat=7"


@pytest.mark.parametrize(
    ("start", "order"), [(0, [0, 1, 2]), (1, [1, 2, 0]), (2, [2, 0, 1]), (3, [0, 1, 2])]
)
def test_rotation_begins_at_start_and_wraps_around(start, order):
    assert rotation(3, start) == order


def test_after_a_lost_connection_the_next_attempt_begins_after_it():
    brokers = BrokerList(parse_broker_urls(CLUSTER), heartbeat=2)
    brokers.current = brokers.addresses[2]
    brokers.lost()
    assert brokers.current is None
    assert rotation(len(brokers.addresses), brokers._start) == [0, 1, 2]
    brokers.current = brokers.addresses[0]
    brokers.lost()
    assert rotation(len(brokers.addresses), brokers._start) == [1, 2, 0]


async def test_when_no_address_answers_the_error_names_each(unused_tcp_port_factory):
    # Nothing listens on these loopback ports: each attempt is refused at once.
    ports = [unused_tcp_port_factory(), unused_tcp_port_factory()]
    setting = ",".join(f"amqp://guest:secret@127.0.0.1:{port}/" for port in ports)
    brokers = BrokerList(parse_broker_urls(setting), heartbeat=2, attempt_timeout=2.0)
    with pytest.raises(NoBrokerReachable) as refused:
        await brokers.connect("test")
    for port in ports:
        assert f"amqp://guest@127.0.0.1:{port}/" in str(refused.value)
    assert "secret" not in str(refused.value)
    assert brokers.reached is None


def test_quorum_queues_and_the_stream_are_declared_with_the_replica_count():
    topology = Topology("s", replicas=3)
    arguments = topology._arguments()
    assert arguments[topology.commands]["x-quorum-initial-group-size"] == 3
    assert arguments[topology.dead_letters]["x-quorum-initial-group-size"] == 3
    assert arguments[topology.events] == {"x-queue-type": "stream", "x-initial-cluster-size": 3}
    assert replicated({"x-queue-type": "quorum"}, 5) == {
        "x-queue-type": "quorum",
        "x-quorum-initial-group-size": 5,
    }
