#!/usr/bin/env bash
# Make sure a 3-node loopback RabbitMQ cluster runs (c1@localhost..c3@localhost on AMQP
# ports 5681-5683) and print its URL list, comma separated, on the last line.
#
# Idempotent: running nodes are left alone, stopped ones are started, and nodes 2 and 3
# are joined to c1 only when they are not members yet. The default broker on 5672 is
# never stopped or changed. Settings and layout: scripts/cluster-lib.sh.
# Stop it with scripts/stop-cluster.sh [--wipe]; one node: scripts/cluster-node.sh.
#
# Exit status: 0 when all three nodes run as one cluster, 1 otherwise.
set -uo pipefail
source "$(dirname "$0")/cluster-lib.sh"

if [[ $(id -u) != 0 ]]; then
    cluster_fail "run as root: the nodes run as the rabbitmq user (runuser)"
    exit 1
fi

# A node that was a member knows its cluster; a new one must join c1 (after a wipe, or
# the first time). The disk node list of node N names c1 once it has joined.
joined() {
    local status
    status=$(ctl "$1" cluster_status --formatter json 2>/dev/null) || return 1
    grep -o '"disk_nodes":\[[^]]*\]' <<<"$status" | grep -q "\"$(node_name 1)\""
}

join_c1() {
    local n=$1
    cluster_say "joining $(node_name "$n") to $(node_name 1)"
    ctl "$n" stop_app >/dev/null &&
        ctl "$n" join_cluster "$(node_name 1)" >/dev/null &&
        ctl "$n" start_app >/dev/null
}

# All nodes start together: a clustered node that restarts waits for its peers.
for n in "${CLUSTER_NODES[@]}"; do
    node_start "$n" || { cluster_fail "could not start $(node_name "$n")"; exit 1; }
done
for n in "${CLUSTER_NODES[@]}"; do
    node_wait "$n" || exit 1
done
for n in "${CLUSTER_NODES[@]:1}"; do
    if ! joined "$n"; then
        join_c1 "$n" || { cluster_fail "$(node_name "$n") could not join $(node_name 1)"; exit 1; }
        node_wait "$n" || exit 1
    fi
done
cluster_say "cluster of $(node_name 1), $(node_name 2), $(node_name 3) runs (files: $CLUSTER_BASE)"
cluster_urls
