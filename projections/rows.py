"""Read-model rows, built from the domain state (so they can never disagree with it)."""

from __future__ import annotations

import orjson

from services.domain.model import Feature, Lease, License, Reservation, Server, State


def license_row(lic: License) -> tuple:
    features = [
        {"name": n, "type": t, "version": v, "seats": s, "expires_at": e.isoformat() if e else None}
        for n, t, v, s, e in lic.features
    ]
    return (lic.license_id, lic.activated_at, orjson.dumps(features).decode(), list(lic.server_ids))


def server_row(server: Server) -> tuple:
    return (
        server.node,
        server.server_id,
        server.api_url,
        server.registered_at,
        server.ever_licensed,
    )


def feature_row(f: Feature) -> tuple:
    expiries = [g.expires_at for g in f.grants if g.expires_at is not None]
    return (
        f.name,
        f.version,
        f.type,
        f.total,
        f.in_use,
        f.reserved,
        f.reserved_in_use,
        min(expiries) if expiries else None,
    )


def usage_row(lease: Lease, state: State) -> tuple:
    f = state.features.get(lease.key)
    return (
        lease.lease_id,
        lease.name,
        lease.version,
        f.type if f else "",
        lease.count,
        lease.device,
        lease.user,
        lease.granted_at,
        lease.lease_seconds,
        lease.reservation_id,
    )


def reservation_row(r: Reservation) -> tuple:
    return (r.reservation_id, r.name, r.version, r.device, r.user, r.count, r.in_use, r.created_at)


UPSERT_LICENSE = """
INSERT INTO licenses (license_id, activated_at, features, server_ids) VALUES ($1, $2, $3, $4)
ON CONFLICT (license_id) DO UPDATE SET activated_at = EXCLUDED.activated_at, \
features = EXCLUDED.features,
    server_ids = EXCLUDED.server_ids"""

UPSERT_SERVER = """
INSERT INTO servers (node, server_id, api_url, registered_at, ever_licensed) \
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (node) DO UPDATE SET server_id = EXCLUDED.server_id, api_url = EXCLUDED.api_url,
    registered_at = EXCLUDED.registered_at, ever_licensed = EXCLUDED.ever_licensed"""

UPSERT_FEATURE = """
INSERT INTO features (name, version, type, total, in_use, reserved, reserved_in_use, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (name, version) DO UPDATE SET type = EXCLUDED.type, total = EXCLUDED.total,
    in_use = EXCLUDED.in_use, reserved = EXCLUDED.reserved,
    reserved_in_use = EXCLUDED.reserved_in_use, expires_at = EXCLUDED.expires_at"""

UPSERT_USAGE = """
INSERT INTO usage (lease_id, feature, version, type, count, device, "user", since, \
lease_seconds, reservation_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (lease_id) DO UPDATE SET type = EXCLUDED.type, \
reservation_id = EXCLUDED.reservation_id"""

UPSERT_RESERVATION = """
INSERT INTO reservations (reservation_id, feature, version, device, "user", count, in_use, \
created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (reservation_id) DO UPDATE SET in_use = EXCLUDED.in_use"""
