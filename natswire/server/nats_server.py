""":class:`NatsServer`: one nats-server, run as a process or in a container."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from . import managed
from .addresses import host_port
from .binary import find_nats_server
from .config import (
    Ports,
    ServerOptions,
    StrPath,
    backend_from_environment,
    resolved_path,
    route_urls,
)
from .container import docker_client, image_from_environment, launch_container
from .process import launch_process
from .run import CONFIG_NAME, LogBuffer, ServerRun

_Server = TypeVar("_Server", bound="NatsServer")


class NatsServer(managed.ManagedProcesses):
    """A nats-server child process on a free loopback port.

    The keyword arguments are the fields of :class:`ServerOptions`, documented there
    (paths may be strings; ``routes`` and ``extra_args`` any iterables). ``backend=None``
    reads ``NATSWIRE_SERVER`` from the environment (unset or empty: ``"process"``, the
    nats-server binary); ``docker_image=None`` reads ``NATSWIRE_DOCKER_IMAGE``, else
    :data:`DOCKER_IMAGE`. The settings are kept as one :class:`ServerOptions`
    (:attr:`options`). Options other than the addresses (``-a``, ``-p``, ``-m``) go into a
    configuration file written in a private temporary directory; a server without options
    gets none. A JetStream store the server owns lives until :meth:`stop` (it survives
    :meth:`kill` and :meth:`restart`, so acknowledged messages do too); a ``store_dir``
    given by the caller is never deleted.

    With the docker backend the API is the same (see :mod:`natswire.server.container`):
    :attr:`pid` is the host PID of the container's nats-server and :attr:`container_id`
    names the container; clustering is not supported there.
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
        websocket_port: int | None = None,
        websocket_compression: bool = False,
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
        self._options = ServerOptions(
            host=host,
            port=port,
            user=user,
            password=password,
            token=token,
            max_payload=max_payload,
            jetstream=jetstream,
            store_dir=resolved_path(store_dir),
            http_port=http_port,
            tls_cert=resolved_path(tls_cert),
            tls_key=resolved_path(tls_key),
            tls_ca=resolved_path(tls_ca),
            tls_verify=tls_verify,
            tls_handshake_first=tls_handshake_first,
            websocket_port=websocket_port,
            websocket_compression=websocket_compression,
            cluster_name=cluster_name,
            cluster_port=cluster_port,
            routes=route_urls(routes),
            server_name=server_name,
            config_extra=config_extra,
            extra_args=tuple(extra_args),
            startup_timeout=startup_timeout,
            backend=backend_from_environment(backend),
            docker_image=image_from_environment(docker_image),
        )
        self._lock = threading.RLock()
        self._log = LogBuffer()
        self._run: ServerRun | None = None
        self._docker: Any = None  # docker.DockerClient while the docker backend is in use
        self._tmpdir: Path | None = None
        # Ports actually in use, read from the log; kept by kill()/restart(), reset by stop().
        self._port: int | None = None
        self._http_port: int | None = None
        self._cluster_port: int | None = None
        self._websocket_port: int | None = None

    # ------------------------------------------------------------------ properties

    @property
    def options(self) -> ServerOptions:
        """The settings given to the constructor (paths absolute, route URLs complete)."""
        return self._options

    @property
    def host(self) -> str:
        """The address the server binds to."""
        return self._options.host

    @property
    def port(self) -> int:
        """The client port in use (known once started; kept across kill and restart)."""
        if self._port is None:
            raise RuntimeError("nats-server has not been started")
        return self._port

    @property
    def url(self) -> str:
        """``nats://host:port``, or ``tls://host:port`` when TLS is configured."""
        scheme = "tls" if self._options.tls else "nats"
        return f"{scheme}://{host_port(self.host, self.port)}"

    @property
    def backend(self) -> str:
        """``"process"`` (the nats-server binary) or ``"docker"`` (a container)."""
        return self._options.backend

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
        if run is None or run.poll() is not None:
            return None
        return run.container_id

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
        return f"http://{host_port(self.host, self._http_port)}"

    @property
    def cluster_port(self) -> int | None:
        """The route (cluster) port in use, or None when not clustered."""
        return self._cluster_port

    @property
    def websocket_port(self) -> int | None:
        """The WebSocket port in use, or None without a WebSocket listener."""
        return self._websocket_port

    @property
    def websocket_url(self) -> str:
        """``ws://host:websocket_port``, or ``wss://...`` when TLS is configured."""
        if self._websocket_port is None:
            raise RuntimeError("nats-server has no WebSocket listener (or was not started)")
        scheme = "wss" if self._options.tls else "ws"
        return f"{scheme}://{host_port(self.host, self._websocket_port)}"

    @property
    def server_name(self) -> str | None:
        """The configured server name, if any."""
        return self._options.server_name

    @property
    def store_dir(self) -> Path | None:
        """The JetStream store directory (nats-server adds ``jetstream/`` under it).

        None without JetStream, or before the first start when the directory is temporary.
        """
        if not self._options.jetstream:
            return None
        if self._options.store_dir is not None:
            return self._options.store_dir
        return None if self._tmpdir is None else self._tmpdir / "store"

    @property
    def config_file(self) -> Path | None:
        """The generated configuration file, if one was needed."""
        if self._tmpdir is None:
            return None
        path = self._tmpdir / CONFIG_NAME
        return path if path.exists() else None

    def log_lines(self) -> list[str]:
        """The last (up to 500) lines the server printed, across restarts."""
        return self._log.snapshot()

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.is_running else "stopped"
        port = self._port if self._port is not None else self._options.port
        return f"<NatsServer {host_port(self.host, port)} {state}>"

    # ------------------------------------------------------------------ lifecycle

    def start(self: _Server) -> _Server:
        """Start the server, wait until it is ready (``Server is ready`` in its log); return it.

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
                run = self._launch()
            except BaseException:
                if self._run is not None:  # e.g. KeyboardInterrupt while waiting
                    self._run.terminate(signal.SIGKILL, 5.0)
                if created_tmpdir:
                    self._remove_tmpdir()
                    managed.unregister(self)
                raise
            self._port = run.client_port
            self._http_port = run.http_port
            self._cluster_port = run.cluster_port
            self._websocket_port = run.websocket_port
            return self

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

    def begin_shutdown(self) -> None:
        """Ask the running server to shut down gracefully, without waiting for it.

        :meth:`stop` then waits (and cleans up). Stopping many servers this way, all asked
        first, takes as long as the slowest rather than the sum.
        """
        if self._run is not None:
            self._run.begin_shutdown()

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

    async def arestart(self, timeout: float = 10.0) -> None:
        """:meth:`restart` in a worker thread."""
        await asyncio.to_thread(self.restart, timeout)

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

    # ------------------------------------------------------------------ internals

    def _launch(self) -> ServerRun:
        """Start the configured backend on the ports to use now; return the ready run."""
        options = self._options
        ports = Ports.to_ask(
            options, self._port, self._http_port, self._cluster_port, self._websocket_port
        )
        launch: Callable[..., ServerRun]
        if options.backend == "docker":
            if self._docker is None:
                self._docker = docker_client()
            launch = functools.partial(launch_container, self._docker)
        else:
            launch = functools.partial(launch_process, find_nats_server())
        return launch(
            options,
            ports,
            store_dir=self._prepare_store(),
            workdir=self._workdir,
            log=self._log,
            adopt=self._adopt,
        )

    def _adopt(self, run: ServerRun) -> None:
        """Take ``run`` as this server's current process (stopped by :meth:`stop`)."""
        self._run = run
        managed.register(self)

    def _prepare_store(self) -> Path | None:
        """Create the JetStream store directory (None without JetStream)."""
        if not self._options.jetstream:
            return None
        store = self._options.store_dir or self._workdir() / "store"
        store.mkdir(parents=True, exist_ok=True)
        return store

    def _workdir(self) -> Path:
        """The private temporary directory (configuration, owned store), made when needed."""
        if self._tmpdir is None:
            self._tmpdir = Path(tempfile.mkdtemp(prefix="natswire-nats-server-"))
            managed.register(self)
        return self._tmpdir

    def _remove_tmpdir(self) -> None:
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def _cleanup_after_stop(self) -> None:
        self._remove_tmpdir()
        self._port = self._http_port = self._cluster_port = self._websocket_port = None
        if self._docker is not None:
            with contextlib.suppress(Exception):
                self._docker.close()
            self._docker = None
        managed.unregister(self)
