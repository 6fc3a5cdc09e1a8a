#!/usr/bin/env bash
# Stop the loopback cluster of scripts/ensure-cluster.sh, node by node, by the pids in
# the nodes' pid files (never by name: the default broker on 5672 keeps running).
#
#   --wipe   also remove the cluster's base directory (queues, streams, logs, membership)
set -uo pipefail
source "$(dirname "$0")/cluster-lib.sh"

wipe=0
case ${1:-} in
    --wipe) wipe=1 ;;
    "") ;;
    *) printf 'usage: %s [--wipe]\n' "${0##*/}" >&2; exit 2 ;;
esac

status=0
# Reverse order: c1, the node the others joined, goes last.
for n in 3 2 1; do
    node_stop "$n" || status=1
done
if ((wipe)) && ((status == 0)); then
    case $CLUSTER_BASE in
        /|"") cluster_fail "refusing to wipe '$CLUSTER_BASE'"; exit 1 ;;
    esac
    cluster_say "removing $CLUSTER_BASE"
    rm -rf -- "$CLUSTER_BASE"
fi
exit $status
