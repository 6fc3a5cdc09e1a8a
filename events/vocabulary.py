"""Every word the system says on the wire or on a tile, in one place.

They are ``StrEnum``s: a member *is* its string (``Role.PRIMARY == "primary"``), so it
serialises as the plain word and old logs compare equal. Never rename a value: it is
in the log, in replies and in operators' scripts. The License Manager reads this
vocabulary from ``GET /api/vocabulary`` instead of keeping a copy.
"""

from __future__ import annotations

from enum import StrEnum


class ServerStatus(StrEnum):
    """The seed's words on a server tile. An uninstalled server shows ``<Role> not available``."""

    RUNNING = "Running"
    STOPPED = "Stopped"
    DISCONNECTED = "Disconnected"
    RECOVERING = "Recovering"  # a node's own status while it catches up (its tile says Running)
    HALTED = "Halted"  # a node's own status: an event it cannot apply stopped its projector
    LOADING = "Loading"  # a node's own status at start-up: its state is loading, API not ready
    PRIMARY_NOT_AVAILABLE = "Primary not available"
    BACKUP_NOT_AVAILABLE = "Backup not available"


class PairStatus(StrEnum):
    """The seed's words on the pair tile."""

    PAIRED = "Paired and Available"
    NOT_SYNCED = "Pair not synced"
    RECOVERING = "Recovering"
    PRIMARY_NOT_AVAILABLE = "Primary not available"
    BACKUP_NOT_AVAILABLE = "Backup not available"


class Activity(StrEnum):
    """What a server is doing, as the watchdog reports it (``ReportServerStatus.activity``)."""

    RUNNING = "running"
    RECOVERING = "recovering"
    STOPPED = "stopped"
    DISCONNECTED = "disconnected"
    UNINSTALLED = "uninstalled"  # never reported: follows from ServerUninstalled


class Role(StrEnum):
    """A server's place in the site: in the pair, or on its own."""

    PRIMARY = "primary"
    BACKUP = "backup"
    STANDALONE = "standalone"


class ErrorCode(StrEnum):
    """Stable error codes of a failed reply (docs/protocol.md lists them with their meaning)."""

    INVALID = "invalid"  # the command failed validation; nothing changed
    UNAUTHORIZED = "unauthorized"  # an admin command without valid credentials
    DENIED = "denied"  # an acquire the seats do not allow (see ``reason``)
    NOT_FOUND = "not_found"  # unknown license, lease or reservation
    CONFLICT = "conflict"  # e.g. a license id that is already active
    IN_USE = "in_use"  # e.g. deactivating a license whose seats are taken
    NO_SEATS = "no_seats"  # a reservation larger than the free seats
    NOT_WRITER = "not_writer"  # the node lost the writer role; retry (same command id)
    TIMEOUT = "timeout"  # client side: no reply before the deadline
    UNAVAILABLE = "unavailable"  # client side: the broker cannot be reached
    BAD_SIGNATURE = "bad_signature"  # an entitlement not signed by a vendor key this site trusts
    WRONG_SERVER = "wrong_server"  # an entitlement bound to other License Server IDs
    EXPIRED = "expired"  # outside the entitlement's activation window
    ALREADY_ACTIVATED = "already_activated"  # its serial or license id was activated here before


class DenialReason(StrEnum):
    """Why an acquire was denied (``AcquireDenied.reason``)."""

    UNKNOWN_FEATURE = "unknown_feature"
    EXPIRED = "expired"
    NO_SEATS = "no_seats"
    RESERVED = "reserved"  # free seats exist, but they are reserved for others


class IgnoredReason(StrEnum):
    """Why every projector ignored an event (the fence, invariant 3; part of the digest)."""

    STALE_EPOCH = "stale_epoch"
    EPOCH_TAKEN = "epoch_taken"
    DUPLICATE_COMMAND = "duplicate_command"
    BAD_ENTITLEMENT = "bad_entitlement"  # a LicenseActivated whose entitlement fails verification
    BAD_SIGNATURE = "bad_signature"  # a stream message not signed with a node key of the site


class Authority(StrEnum):
    """Who signed a command (header ``x-authority``; services.auth.signing)."""

    ADMIN = "admin"  # the site's admin key: administrators and their tools
    NODE = "node"  # the site's first node key: the nodes and the watchdog


class OrderKind(StrEnum):
    """What the log can order a node to do."""

    RESET = "reset"
    SYNC = "sync"
    STOP = "stop"
    UNINSTALL = "uninstall"


VOCABULARIES: dict[str, type[StrEnum]] = {
    "server_status": ServerStatus,
    "pair_status": PairStatus,
    "activity": Activity,
    "role": Role,
    "error_code": ErrorCode,
    "denial_reason": DenialReason,
    "ignored_reason": IgnoredReason,
    "order_kind": OrderKind,
}


def as_json() -> dict[str, dict[str, str]]:
    """``{vocabulary: {MEMBER: word}}``: what ``GET /api/vocabulary`` serves."""
    return {name: {m.name: m.value for m in enum} for name, enum in VOCABULARIES.items()}
