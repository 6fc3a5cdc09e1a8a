# Shared by ensure-cluster.sh, stop-cluster.sh and cluster-node.sh: one loopback RabbitMQ
# cluster of three nodes, c1@localhost..c3@localhost, apart from the default broker on 5672.
#
#   LICENSING_CLUSTER_PREFIX   node name prefix (default c: c1@localhost..c3@localhost)
#   LICENSING_CLUSTER_PORT     AMQP port base (default 5680: node N on 5680+N, its Erlang
#                              distribution on 20000 more); a second cluster for an
#                              experiment takes another prefix and base, e.g. x and 5690
#   LICENSING_CLUSTER_BASE     where every node keeps its files (default
#                              /var/tmp/licensing-cluster, or /var/tmp/licensing-cluster-PREFIX)
#   LICENSING_CLUSTER_TIMEOUT  seconds to wait for a node to answer (default 90)
#   LICENSING_CLUSTER_PARTITIONS  cluster_partition_handling (default autoheal)
#   LICENSING_CLUSTER_NET_TICKTIME  Erlang net_ticktime in seconds (default 60, RabbitMQ's):
#                              how soon the others call a silent (paused) node down
#
# Node N listens for AMQP on 5680+N and for Erlang distribution on 25680+N; no plugin is
# enabled, so nothing else listens (the default broker runs none either, and a plugin's
# default port, 15672/15692/5552, would collide with it if it ever did).
# Everything runs as the rabbitmq user with its Erlang cookie, and every node is found,
# signalled and stopped by the pid in its own pid file: the default broker is never touched.
# This file is sourced, not run.

CLUSTER_PREFIX=${LICENSING_CLUSTER_PREFIX:-c}
CLUSTER_PORT=${LICENSING_CLUSTER_PORT:-5680}
if [[ $CLUSTER_PREFIX == c ]]; then
    CLUSTER_BASE=${LICENSING_CLUSTER_BASE:-/var/tmp/licensing-cluster}
else
    CLUSTER_BASE=${LICENSING_CLUSTER_BASE:-/var/tmp/licensing-cluster-$CLUSTER_PREFIX}
fi
CLUSTER_TIMEOUT=${LICENSING_CLUSTER_TIMEOUT:-90}
CLUSTER_PARTITIONS=${LICENSING_CLUSTER_PARTITIONS:-autoheal}
CLUSTER_TICKTIME=${LICENSING_CLUSTER_NET_TICKTIME:-60}
CLUSTER_NODES=(1 2 3)
# Not /usr/sbin: that wrapper writes the default broker's /var/log/rabbitmq/startup_log.
RABBIT_BIN=/usr/lib/rabbitmq/bin

cluster_say() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
cluster_fail() { printf '%s: ERROR: %s\n' "${0##*/}" "$*" >&2; }

node_name() { printf '%s%s@localhost' "$CLUSTER_PREFIX" "$1"; }
node_dir() { printf '%s/%s%s' "$CLUSTER_BASE" "$CLUSTER_PREFIX" "$1"; }
node_amqp_port() { printf '%s' $((CLUSTER_PORT + $1)); }
node_dist_port() { printf '%s' $((CLUSTER_PORT + 20000 + $1)); }
node_pid_file() { printf '%s/rabbitmq.pid' "$(node_dir "$1")"; }

cluster_urls() {
    local n urls=()
    for n in "${CLUSTER_NODES[@]}"; do
        urls+=("amqp://guest:guest@127.0.0.1:$(node_amqp_port "$n")/")
    done
    (IFS=,; printf '%s\n' "${urls[*]}")
}

as_rabbitmq() {
    # The CLI's own distribution ports differ from the default's (35672-35682), so our
    # rabbitmqctl calls never queue behind the ones other tools make.
    runuser -u rabbitmq -- env HOME=/var/lib/rabbitmq \
        RABBITMQ_CTL_DIST_PORT_MIN=35700 RABBITMQ_CTL_DIST_PORT_MAX=35730 "$@"
}

ctl() {  # N rabbitmqctl-args...; bounded, because a paused node never answers
    local n=$1; shift
    timeout 30 runuser -u rabbitmq -- env HOME=/var/lib/rabbitmq \
        RABBITMQ_CTL_DIST_PORT_MIN=35700 RABBITMQ_CTL_DIST_PORT_MAX=35730 \
        "$RABBIT_BIN/rabbitmqctl" -q -n "$(node_name "$n")" "$@"
}

# The pid in node N's pid file, only if that process is alive and is node N (its
# environment names the node), so a stale file or a reused pid is never signalled.
node_pid() {
    local n=$1 file pid
    file=$(node_pid_file "$n")
    [[ -s $file ]] || return 1
    pid=$(tr -dc '0-9' <"$file")
    [[ -n $pid && -r /proc/$pid/environ ]] || return 1
    tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null |
        grep -qx "RABBITMQ_NODENAME=$(node_name "$n")" || return 1
    printf '%s\n' "$pid"
}

write_node_files() {  # N
    local n=$1 dir
    dir=$(node_dir "$n")
    install -d -o rabbitmq -g rabbitmq "$CLUSTER_BASE" "$dir" "$dir/mnesia" "$dir/log"
    # A private env file instead of /etc/rabbitmq/rabbitmq-env.conf: its NODENAME and
    # settings belong to the default broker. Distribution stays on loopback as there.
    cat >"$dir/rabbitmq-env.conf" <<EOF
ERL_EPMD_ADDRESS=127.0.0.1
export ERL_FLAGS="-kernel inet_dist_use_interface {127,0,0,1}"
EOF
    cat >"$dir/rabbitmq.conf" <<EOF
cluster_partition_handling = $CLUSTER_PARTITIONS
log.file.level = info
log.console = false
EOF
    printf '[].\n' >"$dir/enabled_plugins"
    chown rabbitmq:rabbitmq "$dir/rabbitmq-env.conf" "$dir/rabbitmq.conf" "$dir/enabled_plugins"
}

# Start node N detached unless it already runs; returns at once (node_wait waits).
node_start() {
    local n=$1 dir pid
    if pid=$(node_pid "$n"); then
        cluster_say "$(node_name "$n") already runs (pid $pid)"
        return 0
    fi
    write_node_files "$n"
    dir=$(node_dir "$n")
    rm -f "$(node_pid_file "$n")"
    cluster_say "starting $(node_name "$n") (AMQP 127.0.0.1:$(node_amqp_port "$n"))"
    (cd "$dir" && as_rabbitmq \
        RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf" \
        RABBITMQ_NODENAME="$(node_name "$n")" \
        RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
        RABBITMQ_NODE_PORT="$(node_amqp_port "$n")" \
        RABBITMQ_DIST_PORT="$(node_dist_port "$n")" \
        RABBITMQ_MNESIA_BASE="$dir/mnesia" \
        RABBITMQ_LOG_BASE="$dir/log" \
        RABBITMQ_PID_FILE="$(node_pid_file "$n")" \
        RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" \
        RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" \
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel net_ticktime $CLUSTER_TICKTIME" \
        "$RABBIT_BIN/rabbitmq-server" -detached >>"$dir/log/startup.log" 2>&1)
}

# Wait until node N answers `status` and has finished booting, within the deadline.
node_wait() {
    local n=$1 deadline=$((SECONDS + CLUSTER_TIMEOUT))
    until ctl "$n" status >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            cluster_fail "$(node_name "$n") did not answer within ${CLUSTER_TIMEOUT}s" \
                "(see $(node_dir "$n")/log)"
            return 1
        fi
        sleep 1
    done
    ctl "$n" await_startup --timeout "$CLUSTER_TIMEOUT" >/dev/null 2>&1 || {
        cluster_fail "$(node_name "$n") did not finish booting (see $(node_dir "$n")/log)"
        return 1
    }
}

# Signal node N by its pid; SIGNAL is a kill(1) name such as KILL, STOP, CONT, TERM.
node_signal() {
    local n=$1 sig=$2 pid
    pid=$(node_pid "$n") || { cluster_fail "$(node_name "$n") is not running"; return 1; }
    kill -s "$sig" "$pid"
    printf '%s\n' "$pid"
}

pid_alive() {  # a zombie counts as gone: its parent (often init) may reap it late
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ -n $state && $state != Z ]]
}

wait_pid_gone() {  # pid seconds
    local deadline=$((SECONDS + $2))
    while pid_alive "$1"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

# Stop node N gracefully by its pid (a paused node is resumed first), kill -9 if it hangs.
node_stop() {
    local n=$1 pid
    pid=$(node_pid "$n") || return 0
    cluster_say "stopping $(node_name "$n") (pid $pid)"
    kill -CONT "$pid" 2>/dev/null
    kill -TERM "$pid" 2>/dev/null
    if ! wait_pid_gone "$pid" 60; then
        cluster_say "$(node_name "$n") did not stop within 60s: kill -9 $pid"
        kill -KILL "$pid" 2>/dev/null
        wait_pid_gone "$pid" 10
    fi
    rm -f "$(node_pid_file "$n")"
}
