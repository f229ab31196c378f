""":class:`NatsCluster`: nats-server nodes routed to each other on loopback."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any, TypeVar

from ..httpjson import HTTPStatusError, get_json
from .addresses import connect_host, free_ports, host_port, split_addr
from .errors import NatsServerError
from .managed import ManagedProcesses
from .nats_server import NatsServer

_Cluster = TypeVar("_Cluster", bound="NatsCluster")

# Monitoring answers are polled while the cluster forms; a slow one is asked again.
_POLL_TIMEOUT = 2.0


class NatsCluster(ManagedProcesses):
    """``size`` nats-server nodes routed to each other on loopback.

    Every node gets its own free client port, cluster port and (with JetStream) store
    directory, the same cluster name, a unique server name (``n1``, ``n2``, ...) and routes
    to all the others. Other keyword arguments are passed to every :class:`NatsServer`; a
    ``store_dir`` becomes one subdirectory per node. Monitoring is on (``http_port=-1``)
    unless ``http_port=None`` is passed.

    :meth:`start` returns once every node has routes to all the others. Clustered JetStream
    elects a meta leader a little later: call :meth:`wait_jetstream_ready` before using it.
    """

    _RESERVED = frozenset({"port", "cluster_port", "routes", "server_name", "cluster_name"})

    def __init__(
        self,
        size: int = 3,
        *,
        cluster_name: str = "natswire",
        name_prefix: str = "n",
        route_timeout: float = 15.0,
        **common: Any,
    ) -> None:
        if size < 1:
            raise ValueError("a cluster needs at least one node")
        reserved = self._RESERVED & common.keys()
        if reserved:
            raise TypeError(f"NatsCluster sets {', '.join(sorted(reserved))} itself")
        common.setdefault("http_port", -1)
        if common["http_port"] not in (None, -1) and size > 1:
            raise ValueError("http_port must be -1 or None for a cluster")
        self.size = size
        self.cluster_name = cluster_name
        self._name_prefix = name_prefix
        self._route_timeout = route_timeout
        self._common = common
        self._host: str = common.get("host", "127.0.0.1")
        self._jetstream = bool(common.get("jetstream", False))
        self._servers: list[NatsServer] = []

    @property
    def servers(self) -> list[NatsServer]:
        """The nodes, in order (a copy of the list)."""
        return list(self._servers)

    @property
    def urls(self) -> list[str]:
        """Client URLs of all nodes."""
        return [server.url for server in self._servers]

    def __repr__(self) -> str:
        return f"<NatsCluster {self.cluster_name!r} size={self.size} urls={self.urls}>"

    def start(self: _Cluster) -> _Cluster:
        """Start every node, wait until each has routes to all the others; return the cluster.

        Cluster ports are picked free up front; if one was taken in the meantime the whole
        cluster is started again on new ports (up to three attempts).
        """
        if self._servers:
            raise RuntimeError(f"{self!r} is already started")
        for attempt in range(3):
            self._servers = self._make_servers()
            try:
                for server in self._servers:
                    server.start()
                self.wait_routes(self._route_timeout)
                return self
            except NatsServerError as exc:
                self.stop()
                in_use = any("address already in use" in line for line in exc.log_lines)
                if not in_use or attempt == 2:
                    raise
            except BaseException:
                self.stop()
                raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop all nodes: SIGTERM to all at once, then wait (SIGKILL after ``timeout``)."""
        servers, self._servers = self._servers, []
        for server in servers:
            server.begin_shutdown()
        for server in servers:
            server.stop(timeout)

    def wait_routes(self, timeout: float = 15.0) -> None:
        """Wait until every running node has a route to every other running node.

        Uses ``/routez`` when monitoring is on, else the ``connect_urls`` of each node's INFO.
        """
        deadline = time.monotonic() + timeout
        while True:
            nodes = [server for server in self._servers if server.is_running]
            if all(self._routed(node, nodes) for node in nodes):
                return
            if time.monotonic() >= deadline:
                raise NatsServerError(
                    f"cluster routes not established within {timeout:g} s", self._all_logs()
                )
            time.sleep(0.1)

    def wait_jetstream_ready(self, timeout: float = 30.0) -> None:
        """Wait until all running nodes agree on a JetStream meta leader and are healthy.

        Needs ``jetstream=True`` and monitoring (the default). Polls ``/jsz`` and
        ``/healthz`` on every node.
        """
        if not self._jetstream:
            raise RuntimeError("the cluster was not started with jetstream=True")
        if not self._servers or any(s.monitor_url is None for s in self._servers):
            raise RuntimeError("wait_jetstream_ready needs a started cluster with monitoring")
        deadline = time.monotonic() + timeout
        while True:
            if self._jetstream_ready():
                return
            if time.monotonic() >= deadline:
                raise NatsServerError(
                    f"JetStream meta leader not elected within {timeout:g} s", self._all_logs()
                )
            time.sleep(0.2)

    # ------------------------------------------------------------------ internals

    def _make_servers(self) -> list[NatsServer]:
        route_host = connect_host(self._host)
        cluster_ports = free_ports(self.size, route_host)
        servers = []
        for index, cluster_port in enumerate(cluster_ports):
            options = dict(self._common)
            name = f"{self._name_prefix}{index + 1}"
            if options.get("store_dir") is not None:
                options["store_dir"] = Path(options["store_dir"]) / name
            routes = [
                f"nats-route://{host_port(route_host, other)}"
                for other in cluster_ports
                if other != cluster_port
            ]
            servers.append(
                NatsServer(
                    **options,
                    server_name=name,
                    cluster_name=self.cluster_name,
                    cluster_port=cluster_port,
                    routes=routes,
                )
            )
        return servers

    @staticmethod
    def _routed(node: NatsServer, nodes: list[NatsServer]) -> bool:
        others = [other for other in nodes if other is not node]
        try:
            if node.monitor_url is not None:
                routez = get_json(f"{node.monitor_url}/routez", timeout=_POLL_TIMEOUT)
                names = {route.get("remote_name") for route in routez.get("routes") or ()}
                return all(other.server_name in names for other in others)
            info = read_info(node.host, node.port)
            ports = {split_addr(url)[1] for url in info.get("connect_urls") or ()}
            return all(other.port in ports for other in others)
        except (OSError, ValueError, HTTPStatusError):
            return False

    def _jetstream_ready(self) -> bool:
        leaders: set[str] = set()
        for server in self._servers:
            if not server.is_running:
                continue
            try:
                jsz = get_json(f"{server.monitor_url}/jsz", timeout=_POLL_TIMEOUT)
                health = get_json(f"{server.monitor_url}/healthz", timeout=_POLL_TIMEOUT)
            except (OSError, ValueError, HTTPStatusError):  # 503 while not healthy
                return False
            leader = (jsz.get("meta_cluster") or {}).get("leader")
            if not leader or health.get("status") != "ok":
                return False
            leaders.add(leader)
        return len(leaders) == 1

    def _all_logs(self) -> list[str]:
        lines: list[str] = []
        for server in self._servers:
            lines.append(f"=== {server.server_name} ===")
            lines += server.log_lines()[-15:]
        return lines


def read_info(host: str, port: int, timeout: float = 2.0) -> dict[str, Any]:
    """Connect to a client port and return the parsed INFO the server sends first."""
    with socket.create_connection((connect_host(host), port), timeout=timeout) as sock:
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed before INFO")
            data += chunk
    line = data.split(b"\r\n", 1)[0]
    if not line.startswith(b"INFO "):
        raise ConnectionError(f"expected INFO, got {line[:80]!r}")
    info: dict[str, Any] = json.loads(line[5:])
    return info
