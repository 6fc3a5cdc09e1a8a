"""Node configuration from the environment (prefix ``LICENSING_``)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.domain.model import OUTCOME_GENERATION
from services.trust import keys

MIN_NODE_SECRET = 32
_SAFE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LICENSING_", extra="ignore")

    # One broker URL or several, comma separated (the nodes of a cluster; user, password and
    # vhost may differ per URL): every component tries them in turn (services.adapters.brokers).
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    # TLS for amqps:// URLs: the CA that vouches for the brokers (unset: the system's CAs), and
    # a client certificate and key for brokers that ask for one.
    amqp_ca_file: str | None = None
    amqp_cert_file: str | None = None
    amqp_key_file: str | None = None
    # Replicas the site's quorum queues and stream are declared with (RabbitMQ caps it at the
    # cluster's size): a confirm then means a majority of them has the message.
    replicas: int = Field(default=3, ge=1, le=9)
    # The broker's management API, with an administrator's login: only ``licensing site
    # setup`` / ``remove`` (and ``up`` on its first run) use it, to make the site's users.
    broker_admin_url: str = "http://guest:guest@127.0.0.1:15672"
    pg_dsn: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    site: str = "default"
    # Where the node's HTTP API and License Manager listen. 127.0.0.1 by default; a
    # container or a real site network sets 0.0.0.0 or the host's address.
    http_host: str = "127.0.0.1"
    # AMQP heartbeat in seconds. The broker declares a silent peer dead after about
    # two missed heartbeats, which is when single-active-consumer hands the writer
    # role to the backup: 2 s gives failover on a silent partition in about 4-6 s.
    heartbeat: int = Field(default=2, ge=1, le=60)
    projector_batch: int = Field(default=500, ge=1, le=10_000)
    # A snapshot of the domain state after this many events or seconds (whichever first), so
    # a start replays only the log's tail after it (invariant 13).
    snapshot_every_events: int = Field(default=50_000, ge=1)
    snapshot_every_seconds: float = Field(default=300.0, gt=0)
    # The node's event loop: uvloop (libuv; it served the acquire path faster in
    # bench/README.md's A/B) or the standard asyncio one.
    event_loop: Literal["asyncio", "uvloop"] = "uvloop"
    writer_prefetch: int = Field(default=200, ge=1, le=2_000)
    lease_check_seconds: float = Field(default=1.0, gt=0)
    # Borrowed time: how long a product keeps a granted lease while renewals cannot reach the
    # pair, from its last successful renewal (the seed's vendor: 20 minutes for clients).
    grace_seconds: float = Field(default=1200.0, ge=0)
    # The watchdog: a node silent this long is gone; the pair is "not synced" when one
    # node is more than max_lag_events behind the other for max_lag_seconds.
    watchdog_detect_seconds: float = Field(default=3.0, gt=0)
    watchdog_max_lag_events: int = Field(default=1000, ge=1)
    watchdog_max_lag_seconds: float = Field(default=10.0, gt=0)
    # Where the watchdog serves /metrics (Prometheus text); unset: it serves nothing.
    watchdog_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # Logs: readable lines (text) or one JSON object per line (json), services.config.logs.
    log_format: Literal["text", "json"] = "text"
    # The node's and the watchdog's log level (the CLI's is -v); DEBUG adds every decision.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # The site's admin key: admin commands (activate, pair, reset, ...) must be signed
    # with it (services.auth.signing). Unset means an open site: admin commands are
    # accepted unsigned, and /api/health says so. ``licensing up`` generates one.
    admin_key: SecretStr | None = None
    # The site's node keys, "kid:secret,kid:secret" (secrets of at least 32 characters): the
    # first signs, every one verifies (rotation: add the new key second, move it first, drop
    # the old). Held by the nodes and the watchdog, never by products. The first signs every
    # stream message, heartbeat and node command (services.auth.log_signing, .signing). Unset:
    # an open site (unsigned stream and node commands accepted), and /api/health says so.
    node_keys: SecretStr | None = None
    # How far a signed command's issue time may be from the writer's clock, in seconds. Kept
    # under the answer memory, so a replay gets the first answer or ``unauthorized``.
    signature_window: float = Field(default=300.0, gt=0)
    # Administrators of the License Manager: "user:scrypt$...,other:scrypt$..."
    # (make a hash with ``licensing hash-password``).
    admin_users: SecretStr = SecretStr("")
    # Sign-in throttling per client address and per user name (services/web/throttle.py):
    # from the second failure each one doubles a wait starting at login_backoff_seconds;
    # login_lock_after failures (twice that for an address) lock it for login_lock_seconds.
    login_backoff_seconds: float = Field(default=1.0, ge=0)
    login_lock_after: int = Field(default=6, ge=1)
    login_lock_seconds: float = Field(default=900.0, ge=0)
    # Denial rows older than this (at the event time of the batch being applied) are
    # pruned; their per-day counts per feature and reason are kept for ever.
    denial_retention_days: float = Field(default=90.0, gt=0)
    # The vendor public keys whose entitlements this site activates (base64, comma separated;
    # ``licensing vendor keygen`` prints one). Keep an old key while licenses it signed are in
    # the log: every replay checks them again. Empty: unsigned activations (demo and test mode).
    vendor_keys: str = ""
    # The site's Ed25519 private key (base64 of its 32 bytes): it signs deactivation receipts;
    # its public key goes into activation requests. ``licensing up`` generates one.
    site_key: SecretStr | None = None

    @field_validator("site")
    @classmethod
    def _site_is_a_safe_name(cls, value: str) -> str:
        if not _SAFE.match(value):
            raise ValueError("site must be lowercase letters, digits, '-' or '_' (at most 40)")
        return value

    @field_validator("node_keys")
    @classmethod
    def _node_keys_are_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_node_keys(value.get_secret_value())
        return value

    @field_validator("signature_window")
    @classmethod
    def _window_under_the_answer_memory(cls, value: float) -> float:
        if value >= OUTCOME_GENERATION.total_seconds():
            raise ValueError(
                f"LICENSING_SIGNATURE_WINDOW must stay under the writer's answer memory "
                f"({OUTCOME_GENERATION.total_seconds():.0f} s), or a replay is decided afresh"
            )
        return value

    @field_validator("vendor_keys")
    @classmethod
    def _vendor_keys_are_keys(cls, value: str) -> str:
        try:
            keys.Trust.from_setting(value)
        except keys.BadKey as exc:
            raise ValueError(f"LICENSING_VENDOR_KEYS: {exc}") from None
        return value

    @field_validator("site_key")
    @classmethod
    def _site_key_is_a_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            try:
                keys.load_private(value.get_secret_value())
            except keys.BadKey as exc:
                raise ValueError(f"LICENSING_SITE_KEY: {exc}") from None
        return value

    def trust(self) -> keys.Trust:
        return keys.Trust.from_setting(self.vendor_keys)

    def site_key_value(self) -> str | None:
        return self.site_key.get_secret_value() if self.site_key else None

    def site_public_key(self) -> str | None:
        private = self.site_key_value()
        return keys.public_text(private) if private else None

    def node_keys_value(self) -> str:
        return self.node_keys.get_secret_value() if self.node_keys else ""

    def admin_key_value(self) -> str | None:
        return self.admin_key.get_secret_value() if self.admin_key else None

    def node_key_secrets(self) -> tuple[str, ...]:
        """The node keys' secrets, the signing one first (empty: an open site)."""
        if self.node_keys is None:
            return ()
        return tuple(secret for _kid, secret in parse_node_keys(self.node_keys.get_secret_value()))


def parse_node_keys(setting: str) -> list[tuple[str, str]]:
    """``kid:secret`` entries, comma separated; ValueError names what is wrong."""
    found = []
    for entry in filter(None, (e.strip() for e in setting.split(","))):
        kid, _, secret = entry.partition(":")
        if not kid or len(secret) < MIN_NODE_SECRET:
            raise ValueError(
                f"LICENSING_NODE_KEYS: each entry is kid:secret with a secret of at least "
                f"{MIN_NODE_SECRET} characters"
            )
        found.append((kid, secret))
    return found


def safe_node_name(node: str) -> str:
    if not _SAFE.match(node):
        raise ValueError("node name must be lowercase letters, digits, '-' or '_' (at most 40)")
    return node
