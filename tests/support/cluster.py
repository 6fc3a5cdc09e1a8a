"""The 3-node loopback RabbitMQ cluster of scripts/ensure-cluster.sh, for fault tests.

Nodes are numbered 1..3 (``c1@localhost``..``c3@localhost``, AMQP on 5681..5683). Every
fault (kill -9, SIGSTOP, SIGCONT, start) goes through scripts/cluster-node.sh, which acts
by the pid in the node's own pid file, so the default broker on 5672 is never touched.
The scripts need root (the nodes run as the rabbitmq user). ``LICENSING_CLUSTER_PREFIX`` and
``LICENSING_CLUSTER_PORT`` pick another cluster (scripts/cluster-lib.sh), e.g. for an
experiment beside a test run; the scripts this module calls inherit them. Everything here is async:
a ``rabbitmqctl`` call costs about a second, and a test's publishers keep running meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts"
NODES = (1, 2, 3)
RABBIT_BIN = "/usr/lib/rabbitmq/bin"
CTL_TIMEOUT = 30.0
PREFIX = os.environ.get("LICENSING_CLUSTER_PREFIX", "c")
PORT_BASE = int(os.environ.get("LICENSING_CLUSTER_PORT", "5680"))


class ClusterError(RuntimeError):
    """A cluster script or rabbitmqctl call failed; the message holds its output."""


def node_name(node: int) -> str:
    """The Erlang node name of cluster node ``node``: ``c1@localhost``."""
    return f"{PREFIX}{node}@localhost"


def amqp_port(node: int) -> int:
    """The AMQP port of cluster node ``node`` (5681..5683 by default)."""
    return PORT_BASE + node


def node_url(node: int) -> str:
    """The guest AMQP URL of one cluster node."""
    return f"amqp://guest:guest@127.0.0.1:{amqp_port(node)}/"


def urls() -> list[str]:
    """Every node's AMQP URL, node 1 first (the list ensure-cluster.sh prints)."""
    return [node_url(node) for node in NODES]


def url_list(first: int = 1) -> str:
    """The URLs comma separated, as one ``LICENSING_AMQP_URL`` value, beginning at node
    ``first`` (a process on host N lists its local node first: docs/deployment.md)."""
    ordered = [node_url(1 + (first - 1 + step) % len(NODES)) for step in range(len(NODES))]
    return ",".join(ordered)


def node_at(host_port: str | None) -> int | None:
    """The node number of a ``host:port`` as health shows it (``broker``), None if not ours."""
    if not host_port:
        return None
    port = int(host_port.rsplit(":", 1)[-1])
    return port - PORT_BASE if port - PORT_BASE in NODES else None


def unavailable() -> str | None:
    """Why the cluster cannot run here (for ``pytest.mark.skipif``), or None if it can."""
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        return "the loopback cluster needs root and runuser"
    if not os.path.exists(f"{RABBIT_BIN}/rabbitmq-server"):
        return f"no {RABBIT_BIN}/rabbitmq-server"
    return None


def node_of(name: str) -> int:
    """The node number of an Erlang node name such as ``c2@localhost``."""
    match = re.fullmatch(rf"{re.escape(PREFIX)}([123])@localhost", name)
    if match is None:
        raise ClusterError(f"{name!r} is not a node of the loopback cluster")
    return int(match.group(1))


async def _run(args: list[str], timeout: float) -> str:
    # Its own process group: on a timeout the CLI's Erlang VM under runuser must die too,
    # or it holds our pipe open until the node it waits for gives up (60 s and more).
    proc = await asyncio.create_subprocess_exec(
        *args,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        raise ClusterError(f"{' '.join(args)} did not finish within {timeout}s") from None
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        raise ClusterError(f"{' '.join(args)} exited {proc.returncode}:\n{text}")
    return text


async def _node_script(action: str, node: int, timeout: float = 120.0) -> int:
    out = await _run([str(SCRIPTS / "cluster-node.sh"), action, str(node)], timeout)
    return int(out.split()[-1])


async def ensure_cluster(timeout: float = 240.0) -> list[str]:
    """Start the cluster if it does not run (idempotent); return the nodes' URLs."""
    out = await _run([str(SCRIPTS / "ensure-cluster.sh")], timeout)
    return out.strip().splitlines()[-1].split(",")


async def node_pid(node: int) -> int | None:
    """The pid of a running cluster node, or None when it does not run."""
    try:
        return await _node_script("pid", node, timeout=10)
    except ClusterError:
        return None


async def kill_node(node: int) -> int:
    """``kill -9`` one node by its pid and wait until the process is gone; returns the pid."""
    return await _node_script("kill", node)


async def pause_node(node: int) -> int:
    """SIGSTOP one node: its sockets stay open and nothing answers. Returns the pid."""
    return await _node_script("pause", node)


async def resume_node(node: int) -> int:
    """SIGCONT a paused node. Returns the pid."""
    return await _node_script("resume", node)


async def start_node(node: int, timeout: float = 180.0) -> int:
    """Start a stopped or killed node and wait until it has booted; returns the new pid.

    A node that was a member rejoins on its own (its data directory knows the cluster);
    ``wait_until_joined`` tells when the others see it running again.
    """
    return await _node_script("start", node, timeout)


async def stop_node(node: int) -> None:
    """Stop one node gracefully by its pid."""
    await _run([str(SCRIPTS / "cluster-node.sh"), "stop", str(node)], 90)


async def restore(timeout: float = 180.0) -> None:
    """All three nodes running and joined, whatever a test did to them: a paused node is
    resumed, a stopped or killed one started (a running node only gets a harmless SIGCONT).

    Stopped nodes start together: a node that was not the last to go down waits at boot for
    the others it knows (Mnesia's table wait), so one at a time could wait on the next."""
    down = [node for node in NODES if await node_pid(node) is None]
    for node in NODES:
        if node not in down:
            await resume_node(node)
    await asyncio.gather(*(start_node(node, timeout) for node in down))
    for node in NODES:
        await wait_until_joined(node, timeout)


async def _cli(tool: str, node: int, args: tuple[str, ...], timeout: float) -> str:
    if os.geteuid() != 0:
        raise ClusterError("the loopback cluster needs root (its nodes run as rabbitmq)")
    env = [
        "env",
        "HOME=/var/lib/rabbitmq",
        "RABBITMQ_CTL_DIST_PORT_MIN=35700",
        "RABBITMQ_CTL_DIST_PORT_MAX=35730",
    ]
    command = [
        "runuser",
        "-u",
        "rabbitmq",
        "--",
        *env,
        f"{RABBIT_BIN}/{tool}",
        "-q",
        "-n",
        node_name(node),
    ]
    return await _run([*command, *args], timeout)


async def rabbitmqctl(node: int, *args: str, timeout: float = CTL_TIMEOUT) -> str:
    """Run ``rabbitmqctl -q -n cN@localhost ARGS`` as the rabbitmq user; return its output."""
    return await _cli("rabbitmqctl", node, args, timeout)


async def running_nodes(asked: int) -> set[int]:
    """The nodes that node ``asked`` sees running in its cluster."""
    status = json.loads(await rabbitmqctl(asked, "cluster_status", "--formatter", "json"))
    return {node_of(name) for name in status["running_nodes"]}


async def wait_until_joined(node: int, timeout: float = 120.0, asked: int | None = None) -> float:
    """Wait until ``node`` runs and another node (``asked``) sees it in the cluster.

    Returns the seconds waited; raises TimeoutError after ``timeout``.
    """
    other = asked if asked is not None else next(n for n in NODES if n != node)
    started = time.monotonic()
    deadline = started + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            if node in await running_nodes(other) and node in await running_nodes(node):
                return time.monotonic() - started
        except (ClusterError, KeyError, ValueError) as exc:
            last = exc
        await asyncio.sleep(0.5)
    raise TimeoutError(
        f"{node_name(node)} not back in the cluster within {timeout}s (last: {last!r})"
    )


async def queue_replicas(queue: str, asked: int, vhost: str = "/") -> tuple[int, list[int]]:
    """The leader's node and the member nodes of a quorum queue or stream, as ``asked`` sees.

    ``list_queues`` asks every node it knows: while a node is paused (SIGSTOP) this call
    hangs until its timeout. ``queue_leader`` does not.
    """
    rows = json.loads(
        await rabbitmqctl(
            asked, "list_queues", "-p", vhost, "name", "leader", "members", "--formatter", "json"
        )
    )
    for row in rows:
        if row["name"] == queue:
            return node_of(row["leader"]), sorted(node_of(m) for m in row["members"])
    raise ClusterError(f"no queue {queue!r} in vhost {vhost!r} on {node_name(asked)}")


async def queue_leader(
    queue: str, asked: int = 1, kind: str = "quorum", vhost: str = "/", timeout: float = 10.0
) -> int:
    """The node that hosts the leader of a quorum queue (``kind="quorum"``) or the writer
    of a stream (``kind="stream"``), as the replicas report it to node ``asked``.

    The replicas answer for themselves (``rabbitmq-queues quorum_status`` /
    ``rabbitmq-streams stream_status``), so this works while another node is paused: a
    paused replica shows up as a timeout, not as a hang. Raises ClusterError when no
    replica claims the lead (an election in progress, or the majority lost).
    """
    if kind == "quorum":
        out = await _cli(
            "rabbitmq-queues",
            asked,
            ("quorum_status", "-p", vhost, queue, "--formatter", "json"),
            timeout,
        )
        leaders = [r["Node Name"] for r in json.loads(out) if r.get("Raft State") == "leader"]
    elif kind == "stream":
        out = await _cli(
            "rabbitmq-streams",
            asked,
            ("stream_status", "-p", vhost, queue, "--formatter", "json"),
            timeout,
        )
        leaders = [r["node"] for r in json.loads(out) if r.get("role") == "writer"]
    else:
        raise ValueError(f"kind is 'quorum' or 'stream', not {kind!r}")
    if len(leaders) != 1:
        raise ClusterError(f"{queue!r}: {len(leaders)} leaders reported to {node_name(asked)}")
    return node_of(leaders[0])


async def wait_for_new_leader(
    queue: str, old: int, asked: int, kind: str = "quorum", timeout: float = 60.0, vhost: str = "/"
) -> tuple[int, float]:
    """Wait until a node other than ``old`` leads ``queue``; returns (leader, seconds waited)."""
    started = time.monotonic()
    last: object = None
    while time.monotonic() - started < timeout:
        try:
            leader = await queue_leader(queue, asked, kind, vhost)
            if leader != old:
                return leader, time.monotonic() - started
            last = leader
        except (ClusterError, KeyError, ValueError) as exc:
            last = exc
        await asyncio.sleep(0.2)
    raise TimeoutError(f"{queue!r} still led by {node_name(old)} after {timeout}s (last: {last!r})")
