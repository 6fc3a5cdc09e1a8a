#!/usr/bin/env bash
# One node of the loopback cluster, by the pid in its pid file (for fault tests):
#
#   cluster-node.sh start N    start node N if it is not running; wait until it has booted
#   cluster-node.sh stop N     stop it gracefully (SIGTERM; kill -9 after 60 s)
#   cluster-node.sh kill N     kill -9, and wait until the process is gone
#   cluster-node.sh pause N    SIGSTOP (the node neither answers nor closes its sockets)
#   cluster-node.sh resume N   SIGCONT
#   cluster-node.sh pid N      print the pid (exit 1 when not running)
#
# N is 1, 2 or 3. Printed on stdout: the pid acted on (start: the new pid).
set -uo pipefail
source "$(dirname "$0")/cluster-lib.sh"

usage() { printf 'usage: %s start|stop|kill|pause|resume|pid 1|2|3\n' "${0##*/}" >&2; exit 2; }
[[ $# == 2 && $2 =~ ^[123]$ ]] || usage
action=$1 n=$2

case $action in
    start)
        node_start "$n" && node_wait "$n" && node_pid "$n" ;;
    stop)
        node_stop "$n" ;;
    kill)
        pid=$(node_signal "$n" KILL) || exit 1
        wait_pid_gone "$pid" 10 || { cluster_fail "pid $pid survived kill -9"; exit 1; }
        printf '%s\n' "$pid" ;;
    pause)
        node_signal "$n" STOP ;;
    resume)
        node_signal "$n" CONT ;;
    pid)
        node_pid "$n" ;;
    *)
        usage ;;
esac
