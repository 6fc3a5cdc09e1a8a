"""The client's RPC against a real RabbitMQ, with a fake writer written here.

The fake writer speaks the wire protocol (commands queue -> reply_to with the
request's correlation_id), is idempotent by message_id like the real one, and
counts deliveries per message_id so the tests can see retries.
"""

from __future__ import annotations

import asyncio
import collections
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aio_pika
import orjson
import pytest
from aio_pika.abc import AbstractIncomingMessage
from click.testing import CliRunner

from events import codec
from events.commands import (
    Acquire,
    ActivateLicense,
    DeactivateLicense,
    FeatureGrant,
    Release,
    RenewLeases,
)
from events.replies import DenialReason, ErrorCode, Reply
from services.adapters.broker_admin import BrokerAdmin
from services.adapters.topology import Topology
from services.cli.main import cli
from services.client import BrokerUnavailable, CommandTimeout, LicenseClient, LicenseDenied
from services.config.settings import Settings

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


def _broker_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=1).close()
        return True
    except OSError:
        return False


pytestmark = [
    pytest.mark.skipif(not _broker_up(), reason="needs RabbitMQ at 127.0.0.1:5672"),
    pytest.mark.timeout(60),
]


class FakeWriter:
    """Answers commands like the writer would, just enough for the client's tests."""

    def __init__(
        self, site: str, *, drop_first: bool = False, answer_renewals: bool = True
    ) -> None:
        self.topology = Topology(site)
        self.drop_first = drop_first  # ignore the first delivery of every command id
        self.answer_renewals = answer_renewals
        self.deliveries: collections.Counter[str] = collections.Counter()
        self.correlation_ids: dict[str, list[str]] = collections.defaultdict(list)
        self.actors: dict[str, str | None] = {}
        self.replies: dict[str, Reply] = {}  # idempotency: a retry gets the first reply
        self.leases: set[str] = set()
        self.renewals: collections.Counter[str] = collections.Counter()
        self.released: list[str] = []
        self._connection: aio_pika.abc.AbstractConnection | None = None
        self._channel: aio_pika.abc.AbstractChannel | None = None

    async def start(self) -> None:
        self._connection = await aio_pika.connect(AMQP_URL)
        self._channel = await self._connection.channel()
        await self._channel.set_qos(prefetch_count=200)
        queue = await self.topology.declare_commands(self._channel)
        await queue.consume(self._on_command)

    async def stop(self) -> None:
        if self._connection is not None:
            await self._connection.close()

    async def _on_command(self, message: AbstractIncomingMessage) -> None:
        async with message.process():
            command_id = message.message_id or ""
            self.deliveries[command_id] += 1
            self.correlation_ids[command_id].append(message.correlation_id or "")
            self.actors[command_id] = (message.headers or {}).get("x-actor")  # type: ignore[assignment]
            if self.drop_first and self.deliveries[command_id] == 1:
                return
            command = codec.loads_command(message.body)
            if isinstance(command, RenewLeases) and not self.answer_renewals:
                return
            reply = self.replies.get(command_id) or self._decide(command_id, command)
            if not isinstance(command, RenewLeases):
                self.replies[command_id] = reply
            assert self._channel is not None
            await self._channel.default_exchange.publish(
                aio_pika.Message(
                    codec.dumps_reply(reply),
                    correlation_id=message.correlation_id,
                    content_type="application/json",
                ),
                routing_key=message.reply_to or "",
            )

    def _decide(self, command_id: str, command: object) -> Reply:
        if isinstance(command, Acquire):
            if command.feature == "nothing-left":
                return Reply.failure(
                    command_id,
                    ErrorCode.DENIED,
                    "all 5 seats are in use",
                    reason=DenialReason.NO_SEATS,
                )
            lease_id = f"lease-{command.device}-{uuid.uuid4().hex[:6]}"
            self.leases.add(lease_id)
            return Reply.success(
                command_id,
                lease_id=lease_id,
                feature=command.feature,
                version=command.version,
                count=command.count,
                lease_seconds=command.lease_seconds,
                device=command.device,
            )
        if isinstance(command, RenewLeases):
            lease_ids = [held.lease_id for held in command.leases]
            for lease_id in lease_ids:
                self.renewals[lease_id] += 1
            renewed = [i for i in lease_ids if i in self.leases]
            gone = [i for i in lease_ids if i not in self.leases]
            return Reply.success(command_id, renewed=renewed, gone=gone)
        if isinstance(command, Release):
            if command.lease_id not in self.leases:
                return Reply.failure(
                    command_id, ErrorCode.NOT_FOUND, f"no lease {command.lease_id}"
                )
            self.leases.discard(command.lease_id)
            self.released.append(command.lease_id)
            return Reply.success(command_id, lease_id=command.lease_id)
        if isinstance(command, ActivateLicense):
            return Reply.success(command_id, license_id=command.license_id)
        if isinstance(command, DeactivateLicense):
            return Reply.failure(
                command_id, ErrorCode.NOT_FOUND, f"no license {command.license_id}"
            )
        return Reply.failure(
            command_id, ErrorCode.INVALID, "the fake writer does not know this command"
        )


async def _delete_site(site: str) -> None:
    topology = Topology(site)
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        for queue in (topology.commands, topology.dead_letters):
            await channel.queue_delete(queue)
        await channel.exchange_delete(topology.dead_letter_exchange)
        await channel.exchange_delete(topology.ingress)
    finally:
        await connection.close()


@pytest.fixture
async def site() -> AsyncIterator[str]:
    name = "t" + uuid.uuid4().hex[:8]
    yield name
    await _delete_site(name)
    await BrokerAdmin().remove(name)


@pytest.fixture
async def settings(site: str) -> Settings:
    """The client sends as the site's product user (the fake writer is a full-rights login)."""
    users = {user.role: user for user in await BrokerAdmin().setup(site)}
    return Settings(site=site, amqp_url=users["product"].amqp_url(AMQP_URL))


@pytest.fixture
async def writer(site: str) -> AsyncIterator[FakeWriter]:
    fake = FakeWriter(site)
    await fake.start()
    yield fake
    await fake.stop()


async def test_fifty_concurrent_sends_get_their_own_replies(
    settings: Settings, writer: FakeWriter
) -> None:
    async with LicenseClient(settings, attempt_timeout=5, timeout=20) as client:
        devices = [f"hmi-{n}" for n in range(60)]
        commands = [
            Acquire(feature="InTouch", version="2017", device=d, user="op") for d in devices
        ]
        ids = [uuid.uuid4().hex for _ in commands]
        replies = await asyncio.gather(
            *(client.send(c, command_id=i) for c, i in zip(commands, ids, strict=True))
        )
    for device, command_id, reply in zip(devices, ids, replies, strict=True):
        assert reply.ok
        assert reply.command_id == command_id
        assert reply.result is not None and reply.result["device"] == device
    assert all(writer.deliveries[i] == 1 for i in ids)


async def test_a_retry_reuses_the_command_id(settings: Settings, site: str) -> None:
    fake = FakeWriter(site, drop_first=True)
    await fake.start()
    try:
        async with LicenseClient(
            settings, attempt_timeout=0.3, timeout=10, actor="alice"
        ) as client:
            reply = await client.send(Acquire(feature="F", version="1", device="d", user="u"))
    finally:
        await fake.stop()
    assert reply.ok
    command_id = reply.command_id
    assert command_id is not None
    assert (
        fake.deliveries[command_id] == 2
    )  # one ignored, one answered, both with the same message_id
    assert list(fake.deliveries) == [command_id]
    first, second = fake.correlation_ids[command_id]
    assert first != second  # a fresh correlation id per attempt
    assert fake.actors[command_id] == "alice"


async def test_timeout_when_nobody_answers(settings: Settings) -> None:
    async with LicenseClient(settings, attempt_timeout=0.2, timeout=1.0) as client:
        started = time.monotonic()
        with pytest.raises(CommandTimeout) as raised:
            await client.send(DeactivateLicense(license_id="L1"), command_id="cmd-timeout-1")
        elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 3.0
    assert raised.value.command_id == "cmd-timeout-1"
    assert raised.value.attempts >= 3
    assert raised.value.code == ErrorCode.TIMEOUT
    assert "cmd-timeout-1" in str(raised.value)


async def test_broker_unavailable_names_the_url_without_password() -> None:
    settings = Settings(site="nowhere", amqp_url="amqp://guest:s3cret@127.0.0.1:1/")
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable) as raised:
        await LicenseClient.connect(settings, timeout=0.8)
    assert time.monotonic() - started < 3.0
    assert "127.0.0.1:1" in str(raised.value)
    assert "s3cret" not in str(raised.value)


async def test_reconnects_and_resends_after_losing_the_connection(
    settings: Settings, site: str
) -> None:
    fake = FakeWriter(site, drop_first=True)
    await fake.start()
    try:
        async with LicenseClient(settings, attempt_timeout=2.0, timeout=15) as client:
            sending = asyncio.create_task(
                client.send(Acquire(feature="F", version="1", device="d", user="u"))
            )
            while not fake.deliveries:
                await asyncio.sleep(0.01)
            old = client._broker._link
            assert old is not None
            await old.connection.close()  # the broker connection is lost mid-command
            started = time.monotonic()
            reply = await sending
            assert time.monotonic() - started < 2.0  # resent at once, not after the attempt timeout
            assert client._broker._link is not old
    finally:
        await fake.stop()
    assert reply.ok and reply.command_id is not None
    assert fake.deliveries[reply.command_id] == 2


async def test_commands_wait_for_a_writer_that_comes_late(settings: Settings, site: str) -> None:
    """A failover looks like this to a client: nobody answers for a while, then someone does."""
    fake = FakeWriter(site)
    await fake.start()  # the topology stays as the writer that failed over declared it
    await fake.stop()
    async with LicenseClient(settings, attempt_timeout=0.3, timeout=10) as client:
        sending = asyncio.create_task(
            client.send(Acquire(feature="F", version="1", device="d", user="u"))
        )
        await asyncio.sleep(1.0)
        assert not sending.done()
        await fake.start()
        try:
            reply = await sending
        finally:
            await fake.stop()
    assert reply.ok and reply.command_id is not None
    assert list(fake.deliveries) == [reply.command_id]  # every resend carried the one command id
    assert fake.deliveries[reply.command_id] >= 3
    assert len(fake.replies) == 1


async def test_denied_acquire_raises_license_denied(settings: Settings, writer: FakeWriter) -> None:
    async with LicenseClient(settings) as client:
        with pytest.raises(LicenseDenied) as raised:
            await client.acquire("nothing-left", "1", device="d", user="u")
    assert raised.value.code == ErrorCode.DENIED
    assert raised.value.reason == DenialReason.NO_SEATS
    assert raised.value.message == "all 5 seats are in use"


async def test_lease_renews_in_the_background_and_releases_on_exit(
    settings: Settings, writer: FakeWriter
) -> None:
    async with LicenseClient(settings, attempt_timeout=1, timeout=5) as client:
        async with client.acquire(
            "F", "1", device="hmi", user="op", lease_seconds=5, renew_every=0.1
        ) as lease:
            assert lease.lease_id in writer.leases
            assert lease.renew_every == 0.1
            await asyncio.sleep(0.6)
            assert writer.renewals[lease.lease_id] >= 3
            assert lease.held
        assert lease.released and not lease.lost
        assert writer.released == [lease.lease_id]
        renewals = writer.renewals[lease.lease_id]
        await asyncio.sleep(0.3)
        assert writer.renewals[lease.lease_id] == renewals  # renewing stopped with the release
        assert await lease.release() is not None  # idempotent: the first reply again
        assert writer.released == [lease.lease_id]


async def test_default_renewal_period_is_a_third_of_the_lease(
    settings: Settings, writer: FakeWriter
) -> None:
    async with LicenseClient(settings) as client:
        lease = await client.acquire("F", "1", device="hmi", user="op", lease_seconds=60)
        try:
            assert lease.renew_every == 20
            assert lease.count == 1
        finally:
            await lease.release()


async def test_a_lease_the_server_forgot_is_lost(settings: Settings, writer: FakeWriter) -> None:
    async with LicenseClient(settings, attempt_timeout=1, timeout=5) as client:
        lease = await client.acquire(
            "F", "1", device="hmi", user="op", lease_seconds=5, renew_every=0.1
        )
        writer.leases.discard(lease.lease_id)  # the writer expired it
        await asyncio.wait_for(lease.wait_lost(), timeout=3)
        assert lease.lost and not lease.held
        assert await lease.release() is None  # nothing to give back
        assert writer.released == []


async def test_renewals_that_time_out_do_not_stop_the_renewer(
    settings: Settings, writer: FakeWriter
) -> None:
    async with LicenseClient(settings, attempt_timeout=0.3, timeout=5) as client:
        async with client.acquire(
            "F", "1", device="hmi", user="op", lease_seconds=5, renew_every=0.1
        ) as lease:
            writer.answer_renewals = False  # e.g. a writer failover in progress
            await asyncio.sleep(1.6)  # longer than one renewal's own deadline (1 s)
            assert lease.held
            before = lease.renewals
            writer.answer_renewals = True
            await asyncio.sleep(1.5)
            assert lease.renewals > before and lease.held
        assert lease.released


# -- the CLI -----------------------------------------------------------------------------


def _invoke(args: list[str], env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, args, env=env)


@pytest.mark.parametrize(
    "args",
    [
        ["reserve", "F", "1", "--device", "d", "--user", "u"],
        ["reserve", "F", "1"],
        ["activate", "--license-id", "L", "--feature", "F:1"],
        ["activate", "--license-id", "L", "--feature", "F:1:many"],
        ["activate", "--license-id", "L"],
        ["acquire", "F", "1", "--device", "d"],
        ["acquire", "F", "1", "--device", "d", "--user", "u", "--count", "0"],
        ["--site", "Not A Site", "deactivate", "L"],
        ["server", "--node", "Bad Name"],
    ],
)
def test_cli_usage_errors_exit_2(args: list[str]) -> None:
    result = _invoke(args)
    assert result.exit_code == 2, result.output


def test_cli_rejects_a_malformed_entitlement_file(tmp_path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"license_id": "L", "features": [{"name": "F", "version": "1", "seats": 0}]}')
    result = _invoke(["activate", str(path)])
    assert result.exit_code == 2
    assert "seats" in result.output


async def test_cli_activate_json_output(site: str, writer: FakeWriter, tmp_path) -> None:
    env = {"LICENSING_SITE": site, "LICENSING_AMQP_URL": AMQP_URL}
    result = await asyncio.to_thread(
        _invoke,
        ["activate", "--license-id", "LIC-1", "--feature", "InTouch:2017:5:Server", "--json"],
        env,
    )
    assert result.exit_code == 0, result.output
    data = orjson.loads(result.stdout)
    assert data["ok"] is True and data["result"] == {"license_id": "LIC-1"}
    assert writer.deliveries[data["command_id"]] == 1

    path = tmp_path / "entitlement.json"
    path.write_text(
        orjson.dumps(
            {
                "license_id": "LIC-2",
                "features": [
                    FeatureGrant(
                        name="Historian", type="Server", version="2017 (17.0)", seats=1000
                    ).model_dump(mode="json"),
                ],
            }
        ).decode()
    )
    result = await asyncio.to_thread(_invoke, ["--json", "activate", str(path)], env)
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["result"] == {"license_id": "LIC-2"}


async def test_cli_refusals_exit_1_in_words(site: str, writer: FakeWriter) -> None:
    env = {"LICENSING_SITE": site, "LICENSING_AMQP_URL": AMQP_URL}
    result = await asyncio.to_thread(
        _invoke, ["acquire", "nothing-left", "1", "--device", "d", "--user", "u"], env
    )
    assert result.exit_code == 1
    assert "all 5 seats are in use" in result.output and "no seats" in result.output

    result = await asyncio.to_thread(_invoke, ["deactivate", "LIC-9", "--json"], env)
    assert result.exit_code == 1
    data = orjson.loads(result.stdout)
    assert data["ok"] is False and data["error"]["code"] == ErrorCode.NOT_FOUND

    result = await asyncio.to_thread(
        _invoke, ["acquire", "F", "1", "--device", "d", "--user", "u"], env
    )
    assert result.exit_code == 0
    assert result.stdout.strip() in writer.leases


def test_cli_timeout_exits_1_with_a_message(site: str) -> None:
    env = {"LICENSING_SITE": site, "LICENSING_AMQP_URL": AMQP_URL}
    result = _invoke(
        ["--timeout", "0.6", "--attempt-timeout", "0.2", "release", "lease-1", "--secret", "s"], env
    )
    assert result.exit_code == 1
    assert "no reply to Release" in result.output


def test_cli_release_needs_the_lease_secret_or_a_reason(site: str) -> None:
    env = {"LICENSING_SITE": site, "LICENSING_AMQP_URL": AMQP_URL}
    result = _invoke(["--timeout", "0.6", "release", "lease-1"], env)
    assert result.exit_code == 2
    assert "--secret" in result.output and "--reason" in result.output


def test_cli_unreachable_broker_exits_1_without_the_password() -> None:
    env = {"LICENSING_SITE": "nowhere", "LICENSING_AMQP_URL": "amqp://guest:s3cret@127.0.0.1:1/"}
    result = _invoke(["--timeout", "0.5", "--json", "unreserve", "R1"], env)
    assert result.exit_code == 1
    data = orjson.loads(result.stdout)
    assert data["error"]["code"] == ErrorCode.UNAVAILABLE
    assert "127.0.0.1:1" in data["error"]["message"] and "s3cret" not in result.output


# -- usage and status read a node's HTTP API ----------------------------------------------


@pytest.fixture
async def api() -> AsyncIterator[str]:
    from aiohttp import web

    usage = {
        "usage": [
            {
                "lease_id": "l1",
                "feature": "Historian Enterprise 3M Tags",
                "type": "Server",
                "version": "2017 (17.0)",
                "count": 1,
                "device": "K1AOS1RED",
                "user": "",
                "since": "2026-01-02T03:04:05+00:00",
                "in_use": 1,
                "total": 1000,
            }
        ]
    }
    servers = {
        "pair_status": "Backup not available",
        "servers": [
            {
                "node": "a",
                "role": "primary",
                "server_id": "K1AOS1RED_1TU61JVZ",
                "status": "Running",
            },
            {"node": "b", "role": "backup", "server_id": "K1GRRED_CZTJ42CG", "status": "Stopped"},
        ],
    }
    health = {
        "node": "a",
        "server_id": "K1AOS1RED_1TU61JVZ",
        "offset": 42,
        "digest": "ab" * 32,
        "writer": True,
    }

    def serve(payload: dict[str, Any]) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(_request: web.Request) -> web.Response:
            return web.json_response(payload)

        return handler

    app = web.Application()
    app.router.add_get("/api/usage", serve(usage))
    app.router.add_get("/api/servers", serve(servers))
    app.router.add_get("/api/health", serve(health))
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    port = tcp._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_cli_usage_and_status_tables(api: str) -> None:
    result = await asyncio.to_thread(_invoke, ["usage", "--api", api])
    assert result.exit_code == 0, result.output
    for text in (
        "In Use/Total",
        "Historian Enterprise 3M Tags",
        "1/1000",
        "K1AOS1RED",
        "2026-01-02 03:04:05",
    ):
        assert text in result.stdout

    result = await asyncio.to_thread(_invoke, ["status"], {"LICENSING_API_URL": api})
    assert result.exit_code == 0, result.output
    for text in (
        "License Server ID",
        "Pair Status",
        "K1GRRED_CZTJ42CG",
        "Stopped",
        "Backup not available",
    ):
        assert text in result.stdout

    result = await asyncio.to_thread(_invoke, ["status", "--api", api, "--json"])
    data = orjson.loads(result.stdout)
    assert (
        data["servers"]["pair_status"] == "Backup not available" and data["health"]["offset"] == 42
    )


def test_cli_status_without_an_api_exits_1() -> None:
    result = _invoke(["status", "--api", "http://127.0.0.1:1"])
    assert result.exit_code == 1
    assert "cannot reach" in result.output
