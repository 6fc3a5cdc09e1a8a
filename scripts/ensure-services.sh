#!/usr/bin/env bash
# Make sure RabbitMQ (with streams) and PostgreSQL answer; start the local ones that are down.
#
# Idempotent: services that already answer are left alone. The endpoints come from
# LICENSING_AMQP_URL and LICENSING_PG_DSN (the same variables the nodes read), with
# the defaults of services/config/settings.py. Only a service on this host
# (127.0.0.1 / localhost) is ever started.
#
#   ENSURE_SERVICES_TIMEOUT  seconds to wait for each service (default 60)
#   ENSURE_SERVICES_NO_START set to 1 to only check, never start anything
#
# It also enables RabbitMQ's management plugin (its HTTP API is how a site's broker users
# and permissions are set up: services/adapters/broker_admin.py) and its bundled stream
# plugin (the streams' own protocol, port 5552: `make bench` measures a reader over it),
# when it can run rabbitmq-plugins here.
#
# Exit status: 0 when both answer, 1 otherwise (with what to do on stderr).
set -uo pipefail

AMQP_URL=${LICENSING_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}
PG_DSN=${LICENSING_PG_DSN:-postgresql://postgres@127.0.0.1:5432/postgres}
TIMEOUT=${ENSURE_SERVICES_TIMEOUT:-60}
NO_START=${ENSURE_SERVICES_NO_START:-0}

say() { printf 'ensure-services: %s\n' "$*"; }
fail() { printf 'ensure-services: ERROR: %s\n' "$*" >&2; }

# host and port out of scheme://[user[:pass]@]host[:port][/...]
url_host() {
    local rest=${1#*://}
    rest=${rest%%/*}; rest=${rest%%\?*}; rest=${rest##*@}
    if [[ $rest == \[*\]* ]]; then rest=${rest#\[}; printf '%s' "${rest%%\]*}"; else printf '%s' "${rest%%:*}"; fi
}
url_port() {
    local rest=${1#*://}
    rest=${rest%%/*}; rest=${rest%%\?*}; rest=${rest##*@}; rest=${rest##*\]}
    if [[ $rest == *:* ]]; then printf '%s' "${rest##*:}"; else printf '%s' "$2"; fi
}
is_local() { [[ $1 == 127.0.0.1 || $1 == localhost || $1 == ::1 || -z $1 ]]; }

port_open() {  # host port
    timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

wait_until() {  # what seconds command...
    local what=$1 seconds=$2; shift 2
    local deadline=$((SECONDS + seconds))
    until "$@"; do
        if ((SECONDS >= deadline)); then
            fail "$what did not answer within ${seconds}s"
            return 1
        fi
        sleep 1
    done
}

# ----------------------------------------------------------------- PostgreSQL
PG_HOST=$(url_host "$PG_DSN"); PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=$(url_port "$PG_DSN" 5432)

pg_up() {
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2
    else
        port_open "$PG_HOST" "$PG_PORT"
    fi
}

start_postgres() {
    if ! command -v pg_ctlcluster >/dev/null 2>&1 || [[ ! -d /etc/postgresql ]]; then
        return 1
    fi
    local version started=1
    for version in $(ls /etc/postgresql 2>/dev/null | sort -rn); do
        [[ -d /etc/postgresql/$version/main ]] || continue
        say "starting PostgreSQL $version (cluster main)"
        if pg_ctlcluster --skip-systemctl-redirect "$version" main start; then
            started=0
        fi
        break
    done
    return $started
}

ensure_postgres() {
    if pg_up; then
        say "PostgreSQL answers on $PG_HOST:$PG_PORT"
        return 0
    fi
    if [[ $NO_START == 1 ]] || ! is_local "$PG_HOST"; then
        fail "PostgreSQL does not answer on $PG_HOST:$PG_PORT (not starting it: $( [[ $NO_START == 1 ]] && echo 'ENSURE_SERVICES_NO_START=1' || echo 'not on this host'))"
        return 1
    fi
    if ! start_postgres; then
        fail "PostgreSQL does not answer on $PG_HOST:$PG_PORT and could not be started here."
        fail "  Install PostgreSQL >= 15 (Debian: apt-get install postgresql) with trust auth on 127.0.0.1,"
        fail "  or point LICENSING_PG_DSN at a server (e.g. postgresql://postgres@db-host:5432/postgres)."
        return 1
    fi
    wait_until "PostgreSQL on $PG_HOST:$PG_PORT" "$TIMEOUT" pg_up || return 1
    say "PostgreSQL answers on $PG_HOST:$PG_PORT"
}

# ------------------------------------------------------------------- RabbitMQ
MQ_HOST=$(url_host "$AMQP_URL"); MQ_HOST=${MQ_HOST:-127.0.0.1}
MQ_PORT=$(url_port "$AMQP_URL" 5672)

# An AMQP 0-9-1 handshake, not just an open port: the broker answers the protocol
# header with a Connection.Start frame, whose first byte is the frame type 1.
mq_up() {
    local first
    first=$(timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf "AMQP\x00\x00\x09\x01" >&3 && head -c 1 <&3 | od -An -tx1' \
        "$MQ_HOST" "$MQ_PORT" 2>/dev/null) || return 1
    [[ ${first//[[:space:]]/} == 01 ]]
}

# rabbitmqctl talks to the local node only, and only as root or the rabbitmq user.
can_ctl() {
    is_local "$MQ_HOST" && command -v rabbitmqctl >/dev/null 2>&1 &&
        { [[ $(id -u) == 0 ]] || [[ $(id -un) == rabbitmq ]]; }
}

start_rabbitmq() {
    # The Erlang node may be up with the app stopped (rabbitmqctl stop_app): start the app.
    if can_ctl && rabbitmqctl -q ping >/dev/null 2>&1; then
        say "RabbitMQ node is up but its app is not: rabbitmqctl start_app"
        rabbitmqctl -q start_app >/dev/null && return 0
    fi
    command -v rabbitmq-server >/dev/null 2>&1 || return 1
    say "starting RabbitMQ (rabbitmq-server -detached)"
    rabbitmq-server -detached || return 1
}

ensure_streams() {
    # Streams are core since 3.9 but sit behind the stream_queue feature flag.
    if ! can_ctl; then
        say "cannot run rabbitmqctl here; assuming the broker has the stream_queue feature flag enabled"
        return 0
    fi
    rabbitmqctl -q enable_feature_flag all >/dev/null 2>&1 ||
        rabbitmqctl -q enable_feature_flag stream_queue >/dev/null 2>&1 || true
    local flags
    flags=$(rabbitmqctl -q list_feature_flags name state 2>/dev/null) || flags=""
    if [[ -z $flags ]]; then
        say "could not list feature flags; assuming streams are enabled"
    elif grep -Eq '^stream_queue[[:space:]]+enabled' <<<"$flags"; then
        say "RabbitMQ feature flag stream_queue is enabled"
    else
        fail "RabbitMQ has no enabled stream_queue feature flag: streams need RabbitMQ >= 3.9."
        fail "  Upgrade rabbitmq-server to >= 3.9 and run 'rabbitmqctl enable_feature_flag all'."
        return 1
    fi
}

ensure_rabbitmq() {
    if ! mq_up; then
        if [[ $NO_START == 1 ]] || ! is_local "$MQ_HOST"; then
            fail "RabbitMQ does not answer on $MQ_HOST:$MQ_PORT (not starting it: $( [[ $NO_START == 1 ]] && echo 'ENSURE_SERVICES_NO_START=1' || echo 'not on this host'))"
            return 1
        fi
        if ! start_rabbitmq; then
            fail "RabbitMQ does not answer on $MQ_HOST:$MQ_PORT and could not be started here."
            fail "  Install rabbitmq-server >= 3.9 with streams (Debian: apt-get install rabbitmq-server),"
            fail "  or set LICENSING_AMQP_URL to a broker (e.g. amqp://guest:guest@mq-host:5672/)."
            return 1
        fi
        wait_until "RabbitMQ on $MQ_HOST:$MQ_PORT" "$TIMEOUT" mq_up || return 1
    fi
    if can_ctl; then
        # The AMQP port opens a moment before the node has finished booting.
        if ! rabbitmqctl -q await_startup --timeout "$TIMEOUT" >/dev/null 2>&1; then
            fail "RabbitMQ on $MQ_HOST:$MQ_PORT did not finish booting within ${TIMEOUT}s (see /var/log/rabbitmq)"
            return 1
        fi
    fi
    say "RabbitMQ answers on $MQ_HOST:$MQ_PORT"
    ensure_streams
}

# The management plugin serves the HTTP API that sets sites up (licensing site setup).
# Idempotent: enabling an enabled plugin changes nothing.
ensure_management() {
    if ! can_ctl || ! command -v rabbitmq-plugins >/dev/null 2>&1; then
        say "cannot run rabbitmq-plugins here; assuming rabbitmq_management is enabled"
        return 0
    fi
    if rabbitmq-plugins -q list -e 2>/dev/null | grep -q '\brabbitmq_management\b'; then
        say "RabbitMQ plugin rabbitmq_management is enabled"
        return 0
    fi
    say "enabling the RabbitMQ plugin rabbitmq_management (rabbitmq-plugins enable)"
    if ! rabbitmq-plugins -q enable rabbitmq_management >/dev/null; then
        fail "could not enable rabbitmq_management; site setup needs its HTTP API"
        return 1
    fi
    say "RabbitMQ plugin rabbitmq_management is enabled"
}

# The stream protocol (port 5552) lets the bench compare the rstream client with aio-pika's
# reader on the same stream. Idempotent; the nodes do not need it, so failing only warns.
ensure_stream_protocol() {
    if ! can_ctl || ! command -v rabbitmq-plugins >/dev/null 2>&1; then
        return 0
    fi
    if rabbitmq-plugins -q list -e 2>/dev/null | grep -q '\brabbitmq_stream\b'; then
        say "RabbitMQ plugin rabbitmq_stream is enabled"
        return 0
    fi
    say "enabling the RabbitMQ plugin rabbitmq_stream (rabbitmq-plugins enable)"
    if ! rabbitmq-plugins -q enable rabbitmq_stream >/dev/null; then
        say "could not enable rabbitmq_stream; the bench's rstream reader will be skipped"
    fi
}

status=0
ensure_postgres || status=1
if ensure_rabbitmq; then
    ensure_management || status=1
    ensure_stream_protocol
else
    status=1
fi
exit $status
