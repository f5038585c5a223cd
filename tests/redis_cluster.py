"""A real Redis Cluster on loopback: 3 primaries and 3 replicas, started and ended by PID."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis


@dataclass
class Node:
    """One redis-server of the cluster."""

    port: int
    folder: Path
    process: subprocess.Popen[bytes] | None = None

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--cluster-enabled", "yes", "--cluster-config-file", str(self.folder / "nodes.conf"),
                "--cluster-node-timeout", "1000", "--appendonly", "yes",
                "--repl-diskless-sync-delay", "0", "--dir", str(self.folder),
                "--logfile", str(self.folder / "redis.log"), "--save", "",
            ],
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_until(lambda: self._pings(), 10, f"node {self.port} did not start")

    def _pings(self) -> bool:
        with contextlib.suppress(redis.RedisError):
            client = self.client()
            try:
                return bool(client.ping())
            finally:
                client.close()
        return False

    def kill(self) -> None:
        """Ends the node abruptly (SIGKILL to the PID this fixture started)."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@contextlib.contextmanager
def local_cluster() -> Iterator[LocalRedisCluster]:
    """A started 6-node cluster on free ports, stopped (by PID) afterwards.

    A port found free can still be taken before the node binds it (another test's
    connection): then the cluster is started again on other ports, up to three times."""
    for attempt in range(3):
        cluster = LocalRedisCluster(cluster_ports(6))
        try:
            cluster.start()
        except (RuntimeError, subprocess.CalledProcessError):
            cluster.stop()
            if attempt == 2:
                raise
            continue
        try:
            yield cluster
        finally:
            cluster.stop()
        return


def _command(client: redis.Redis, *args: str) -> Any:
    return client.execute_command(*args)  # type: ignore[no-untyped-call]


def cluster_ports(count: int) -> list[int]:
    """Free loopback ports whose cluster-bus twins (port + 10000) are free as well.

    Both stay below Linux's ephemeral range (from 32768), so outgoing connections of the
    rest of the suite cannot take them between this check and the nodes' bind."""
    ports: list[int] = []
    candidate = secrets.randbelow(12000) + 10000
    while len(ports) < count:
        candidate += 1
        if all(_free(p) for p in (candidate, candidate + 10000)):
            ports.append(candidate)
    return ports


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_until(check: object, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError(message)
        time.sleep(0.05)


class LocalRedisCluster:
    """Six nodes on the given ports; ``create`` assigns slots and replicas."""

    def __init__(self, ports: list[int]) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="session-cluster-"))
        self.nodes = [Node(p, self.folder / str(p)) for p in ports]

    @property
    def url(self) -> str:
        """Seed URLs as SESSION_REDIS_URL takes them in cluster mode."""
        return ",".join(f"redis://127.0.0.1:{n.port}" for n in self.nodes[:3])

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        addresses = [f"127.0.0.1:{n.port}" for n in self.nodes]
        subprocess.run(
            ["redis-cli", "--cluster", "create", *addresses, "--cluster-replicas", "1", "--cluster-yes"],
            check=True,
            capture_output=True,
        )
        self.wait_healthy()

    def wait_healthy(self, timeout: float = 30) -> None:
        """Until every live node says cluster_state:ok and every replica's link is up."""

        def healthy() -> bool:
            for node in self.live_nodes():
                with contextlib.suppress(redis.RedisError):
                    client = node.client()
                    try:
                        if b"cluster_state:ok" not in _command(client, "CLUSTER", "INFO"):
                            return False
                        info = client.info("replication")
                        if info["role"] == "slave" and info.get("master_link_status") != "up":
                            return False
                        continue
                    finally:
                        client.close()
                return False
            return True

        _wait_until(healthy, timeout, "cluster did not become healthy")

    def live_nodes(self) -> list[Node]:
        return [n for n in self.nodes if n.process is not None and n.process.poll() is None]

    def primaries(self) -> list[Node]:
        """Live nodes that are primaries right now."""
        out = []
        for node in self.live_nodes():
            client = node.client()
            try:
                if client.info("replication")["role"] == "master":
                    out.append(node)
            finally:
                client.close()
        return out

    def node_id(self, node: Node) -> str:
        client = node.client()
        try:
            return str(_command(client, "CLUSTER", "MYID").decode())
        finally:
            client.close()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def shard_of(cluster: LocalRedisCluster, key: str) -> tuple[Node, list[Node]]:
    """The primary that owns ``key``'s slot right now, and its replicas."""
    client = cluster.live_nodes()[0].client()
    try:
        slot = int(_command(client, "CLUSTER", "KEYSLOT", key))
        shards = _command(client, "CLUSTER", "SLOTS")
    finally:
        client.close()
    by_port = {n.port: n for n in cluster.nodes}
    for start, end, primary, *_ in shards:
        if int(start) <= slot <= int(end):
            owner = by_port[int(primary[1])]
            # The primary's own view of its replicas (CLUSTER SLOTS of another node may lag).
            client = owner.client()
            try:
                info = client.info("replication")
            finally:
                client.close()
            ports = [int(v["port"]) for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)]
            return owner, [by_port[p] for p in ports]
    raise LookupError(f"no node serves slot {slot}")


def set_config(cluster: LocalRedisCluster, name: str, value: str) -> None:
    """CONFIG SET on every live node."""
    for node in cluster.live_nodes():
        client = node.client()
        try:
            client.config_set(name, value)
        finally:
            client.close()


@contextlib.contextmanager
def frozen(*nodes: Node) -> Iterator[None]:
    """Freezes the nodes (SIGSTOP to their PIDs) without losing data; SIGCONT after."""
    for node in nodes:
        assert node.process is not None
        os.kill(node.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for node in nodes:
            assert node.process is not None
            os.kill(node.process.pid, signal.SIGCONT)
