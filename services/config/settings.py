"""Node configuration from the environment (prefix ``LICENSING_``)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.trust import keys

_SAFE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LICENSING_", extra="ignore")

    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
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
    writer_prefetch: int = Field(default=200, ge=1, le=2_000)
    lease_check_seconds: float = Field(default=1.0, gt=0)
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
    # Administrators of the License Manager: "user:scrypt$...,other:scrypt$..."
    # (make a hash with ``licensing hash-password``).
    admin_users: SecretStr = SecretStr("")
    # The vendor public keys whose entitlements this site activates (base64, comma separated;
    # ``licensing vendor keygen`` prints one). Keep an old key while licenses it signed are in
    # the log: every replay checks them again. Empty: unsigned activations (demo and test mode).
    vendor_keys: str = ""
    # The site's Ed25519 private key (base64 of its 32 bytes): it signs deactivation receipts;
    # its public key goes into activation requests. ``licensing up`` generates one.
    site_key: SecretStr | None = None
    # The site's node keys, "kid:secret,..." (secrets of 32 characters or more): the first
    # signs every stream message and heartbeat, all verify (services.auth.log_signing, which
    # parses them: settings sit beside services.auth, not above it). Unset: an open stream.
    node_keys: SecretStr | None = None

    @field_validator("site")
    @classmethod
    def _site_is_a_safe_name(cls, value: str) -> str:
        if not _SAFE.match(value):
            raise ValueError("site must be lowercase letters, digits, '-' or '_' (at most 40)")
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

    def amqp_url_with_heartbeat(self) -> str:
        if "heartbeat=" in self.amqp_url:
            return self.amqp_url
        sep = "&" if "?" in self.amqp_url else "?"
        return f"{self.amqp_url}{sep}heartbeat={self.heartbeat}"


def safe_node_name(node: str) -> str:
    if not _SAFE.match(node):
        raise ValueError("node name must be lowercase letters, digits, '-' or '_' (at most 40)")
    return node
