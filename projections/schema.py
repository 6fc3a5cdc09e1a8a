"""DDL of a node's read-model database. Idempotent: run at every start."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS projection_checkpoint (
    id               int PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    stream_offset    bigint NOT NULL,            -- last stream message fully applied (-1: none)
    digest           text   NOT NULL,            -- running digest of every event and \
verdict applied
    events_applied   bigint NOT NULL,
    epoch            bigint NOT NULL DEFAULT 0,    -- 64-bit like the contract's epochs
    writer_node      text,
    writer_server_id text,
    -- Denials before this are pruned: the newest event time applied minus the retention,
    -- never the wall clock, so every node at the same offset holds the same rows.
    denials_kept_from timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
INSERT INTO projection_checkpoint (stream_offset, digest, events_applied)
VALUES (-1, '', 0) ON CONFLICT (id) DO NOTHING;

CREATE TABLE IF NOT EXISTS node_identity (  -- survives a replay; replaced by a License \
Server ID reset
    id         int PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    node       text NOT NULL,
    server_id  text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
-- The offset of the last reset/sync/stop addressed to this node that it acted on, so a
-- replay of the same log does not act on it again.
ALTER TABLE node_identity ADD COLUMN IF NOT EXISTS handled_offset bigint NOT NULL DEFAULT -1;

CREATE TABLE IF NOT EXISTS event_log (      -- invariant 8: the node's own copy of the log
    stream_offset bigint NOT NULL,
    idx           int    NOT NULL,           -- position of the event inside its stream message
    type          text   NOT NULL,
    ignored       text,                      -- why the fence ignored it, or NULL if applied
    body          jsonb  NOT NULL,
    PRIMARY KEY (stream_offset, idx)
);
-- A usage report names who held a released lease: its grant, found by lease id.
CREATE INDEX IF NOT EXISTS event_log_grants ON event_log ((body->>'lease_id'))
    WHERE type = 'LeaseGranted';

CREATE TABLE IF NOT EXISTS licenses (
    license_id   text PRIMARY KEY,
    activated_at timestamptz NOT NULL,
    features     jsonb NOT NULL,
    server_ids   text[] NOT NULL
);

CREATE TABLE IF NOT EXISTS features (
    name            text NOT NULL,
    version         text NOT NULL,
    type            text NOT NULL,
    total           bigint NOT NULL,
    in_use          bigint NOT NULL,
    reserved        bigint NOT NULL,
    reserved_in_use bigint NOT NULL,
    expires_at      timestamptz,              -- earliest expiry among its licenses, if any
    PRIMARY KEY (name, version)
);

CREATE TABLE IF NOT EXISTS usage (          -- one row per acquisition held now
    lease_id       text PRIMARY KEY,
    feature        text NOT NULL,
    version        text NOT NULL,
    type           text NOT NULL,
    count          bigint NOT NULL,
    device         text NOT NULL,
    "user"         text NOT NULL,
    since          timestamptz NOT NULL,
    lease_seconds  int NOT NULL,
    reservation_id text
);

CREATE TABLE IF NOT EXISTS reservations (
    reservation_id text PRIMARY KEY,
    feature        text NOT NULL,
    version        text NOT NULL,
    device         text,
    "user"         text,
    count          bigint NOT NULL,
    in_use         bigint NOT NULL,
    created_at     timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS servers (
    node          text PRIMARY KEY,
    server_id     text NOT NULL,
    api_url       text,
    registered_at timestamptz NOT NULL,
    ever_licensed boolean NOT NULL
);

CREATE TABLE IF NOT EXISTS pair (
    id           int PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    primary_node text NOT NULL,
    backup_node  text NOT NULL,
    since        timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS status_history (  -- the timeline of servers and the pair
    stream_offset bigint NOT NULL,
    idx           int NOT NULL,
    at            timestamptz NOT NULL,
    kind          text NOT NULL,              -- the event type
    node          text,
    server_id     text,
    server_status text,                       -- the tile's words for the node, after the event
    pair_status   text,                       -- the pair tile's words, after the event
    reason        text NOT NULL DEFAULT '',
    PRIMARY KEY (stream_offset, idx)
);

CREATE TABLE IF NOT EXISTS denials (
    stream_offset bigint NOT NULL,
    idx           int NOT NULL,
    at            timestamptz NOT NULL,
    feature       text NOT NULL,
    version       text NOT NULL,
    device        text NOT NULL,
    "user"        text NOT NULL,
    count         bigint NOT NULL,
    reason        text NOT NULL,
    message       text NOT NULL,
    command_id    text NOT NULL,
    PRIMARY KEY (stream_offset, idx)
);
CREATE INDEX IF NOT EXISTS denials_at ON denials (at);

CREATE TABLE IF NOT EXISTS usage_history (  -- in use against total per feature, at every change
    stream_offset bigint NOT NULL,
    idx           int NOT NULL,
    at            timestamptz NOT NULL,
    feature       text NOT NULL,
    version       text NOT NULL,
    in_use        bigint NOT NULL,
    total         bigint NOT NULL,
    PRIMARY KEY (stream_offset, idx, feature, version)
);
CREATE INDEX IF NOT EXISTS usage_history_feature_at ON usage_history (feature, version, at);

-- Denials per day, feature and reason, kept forever while the denial rows themselves are
-- pruned after the retention period (counted as each denial is applied, so a replay
-- rebuilds the same counts).
CREATE TABLE IF NOT EXISTS denial_days (
    day     date   NOT NULL,
    feature text   NOT NULL,
    version text   NOT NULL,
    reason  text   NOT NULL,
    times   bigint NOT NULL,
    seats   bigint NOT NULL,
    PRIMARY KEY (day, feature, version, reason)
);

-- Snapshots of the domain state (invariant 13): derived from the log like the read models, so
-- dropped with them. One covers the log up to (stream_offset, idx) inclusive; its digest and
-- events_applied are the checkpoint's at that position. The newest two are kept.
CREATE TABLE IF NOT EXISTS snapshots (
    stream_offset       bigint NOT NULL,
    idx                 int NOT NULL,
    digest              text NOT NULL,
    events_applied      bigint NOT NULL,
    unverified_messages bigint NOT NULL,
    snapshot_version    int NOT NULL,     -- services/domain/snapshot.py SNAPSHOT_VERSION
    created_at          timestamptz NOT NULL DEFAULT now(),
    body                bytea NOT NULL,
    PRIMARY KEY (stream_offset, idx)
);

-- Not a read model (not in READ_MODEL_TABLES): a replay or a reset must not empty it, or a
-- signed-out License Manager session would be good again.
CREATE TABLE IF NOT EXISTS revoked_sessions (
    sid        text PRIMARY KEY,
    revoked_at timestamptz NOT NULL DEFAULT now()
);
"""

READ_MODEL_TABLES = (
    "event_log",
    "licenses",
    "features",
    "usage",
    "reservations",
    "servers",
    "pair",
    "status_history",
    "denials",
    "denial_days",
    "usage_history",
    "snapshots",
)
