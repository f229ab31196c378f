"""What a nats-server is asked to be: :class:`ServerOptions`, and its configuration text.

:func:`config_text` is a pure function (options in, the text of a nats-server
configuration file out); the runners write the file and name it with ``-c``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from .addresses import bind_addr

StrPath: TypeAlias = "str | os.PathLike[str]"

BACKENDS = ("process", "docker")


@dataclass(frozen=True)
class ServerOptions:
    """The settings of one :class:`~natswire.server.NatsServer` (its keyword arguments).

    Paths are absolute and route URLs have a scheme (see :func:`resolved_path` and
    :func:`route_urls`); the combinations are checked when the object is made, raising
    ``ValueError``.

    Attributes:
        host: address to bind (``-a``).
        port: client port; ``-1`` lets the server pick a free one. The port actually used is
            kept across restarts.
        user, password: require these credentials (``authorization { user, password }``).
        token: require this token (``authorization { token }``).
        max_payload: maximum message payload in bytes.
        jetstream: enable JetStream. Its store is ``store_dir``, or a private temporary
            directory of the server.
        store_dir: JetStream store directory chosen by the caller; never deleted.
        http_port: monitoring port: ``None`` for none, ``-1`` for a free one.
        tls_cert, tls_key: server certificate and key; enable TLS (``tls://`` URL).
        tls_ca: CA file used to verify client certificates.
        tls_verify: require client certificates (mutual TLS).
        tls_handshake_first: expect the TLS handshake before INFO (``handshake_first``).
        websocket_port: listen for WebSocket clients on this port: ``None`` for no
            listener, ``-1`` for a free one. With ``tls_cert`` the listener uses the same
            certificate (``wss://``), else none (``ws://``, ``no_tls``). Not with the
            docker backend.
        websocket_compression: let WebSocket clients compress (``compression: true``).
        cluster_name, cluster_port, routes: cluster settings; ``cluster_port=None`` with a
            cluster name or routes means a free port. Route URLs without a scheme get
            ``nats-route://``.
        server_name: the server's name (needed for clustered JetStream).
        config_extra: text appended verbatim to the generated configuration file.
        extra_args: extra command-line arguments, placed last.
        startup_timeout: seconds to wait for ``Server is ready`` in the log.
        backend: ``"process"`` runs the nats-server binary; ``"docker"`` runs the official
            image in a container through the Docker engine (needs the ``docker`` Python
            package).
        docker_image: image for the docker backend (pinned to the binary's version by
            default, see :data:`~natswire.server.DOCKER_IMAGE`).
    """

    host: str = "127.0.0.1"
    port: int = -1
    user: str | None = None
    password: str | None = None
    token: str | None = None
    max_payload: int | None = None
    jetstream: bool = False
    store_dir: Path | None = None
    http_port: int | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None
    tls_verify: bool = False
    tls_handshake_first: bool = False
    websocket_port: int | None = None
    websocket_compression: bool = False
    cluster_name: str | None = None
    cluster_port: int | None = None
    routes: tuple[str, ...] = ()
    server_name: str | None = None
    config_extra: str = ""
    extra_args: tuple[str, ...] = ()
    startup_timeout: float = 10.0
    backend: str = "process"
    docker_image: str = ""

    def __post_init__(self) -> None:
        if (self.user is None) != (self.password is None):
            raise ValueError("user and password must be given together")
        if self.token is not None and self.user is not None:
            raise ValueError("use either user/password or token, not both")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key must be given together")
        if self.tls_cert is None and (
            self.tls_ca is not None or self.tls_verify or self.tls_handshake_first
        ):
            raise ValueError("tls_ca, tls_verify and tls_handshake_first need tls_cert and tls_key")
        if self.store_dir is not None and not self.jetstream:
            raise ValueError("store_dir needs jetstream=True")
        if self.startup_timeout <= 0:
            raise ValueError("startup_timeout must be positive")
        if self.backend not in BACKENDS:
            raise ValueError(
                f"unknown nats-server backend {self.backend!r} "
                "(NATSWIRE_SERVER must be 'process', 'docker' or unset)"
            )
        if self.websocket_compression and self.websocket_port is None:
            raise ValueError("websocket_compression needs websocket_port")
        if self.backend == "docker" and self.websocket_port is not None:
            raise ValueError(
                "websocket_port is not supported with the docker backend (NATSWIRE_SERVER=docker)"
            )
        if self.backend == "docker" and self.clustered:
            raise ValueError(
                "clustering (cluster_name, cluster_port, routes) is not supported with the "
                "docker backend (NATSWIRE_SERVER=docker); docker/docker-compose.yml runs a "
                "three-node cluster in containers"
            )

    @property
    def clustered(self) -> bool:
        """Whether the server listens for routes (a cluster name, port or routes given)."""
        return self.cluster_name is not None or self.cluster_port is not None or bool(self.routes)

    @property
    def tls(self) -> bool:
        """Whether clients must use TLS (``tls://`` URLs)."""
        return self.tls_cert is not None


@dataclass(frozen=True)
class Ports:
    """Ports asked of a server: ``-1`` for a free one; ``None`` for no monitoring, routes
    or WebSocket listener."""

    client: int
    http: int | None
    cluster: int | None
    websocket: int | None = None

    @classmethod
    def to_ask(
        cls,
        options: ServerOptions,
        client: int | None,
        http: int | None,
        cluster: int | None,
        websocket: int | None = None,
    ) -> Ports:
        """The ports in use (kept from an earlier start; None if not known), else those in
        ``options``; a clustered server without a cluster port asks for a free one."""
        if options.websocket_port is None:
            websocket = None
        elif websocket is None:
            websocket = options.websocket_port
        if not options.clustered:
            cluster = None
        elif cluster is None:
            cluster = options.cluster_port if options.cluster_port is not None else -1
        return cls(
            client=client if client is not None else options.port,
            http=http if http is not None else options.http_port,
            cluster=cluster,
            websocket=websocket,
        )


def resolved_path(path: StrPath | None) -> Path | None:
    """``path`` made absolute, or None."""
    return Path(path).resolve() if path is not None else None


def route_urls(routes: Iterable[str]) -> tuple[str, ...]:
    """Route URLs, ``nats-route://`` added where no scheme is given."""
    return tuple(r if "://" in r else f"nats-route://{r}" for r in routes)


def backend_from_environment(backend: str | None) -> str:
    """``backend``, or ``NATSWIRE_SERVER`` from the environment when None (default process)."""
    if backend is not None:
        return backend
    return os.environ.get("NATSWIRE_SERVER", "").strip().lower() or "process"


def config_text(
    options: ServerOptions,
    *,
    store_dir: Path | None = None,
    cluster_port: int | None = None,
    websocket_port: int | None = None,
    path_of: Callable[[Path], str] = str,
) -> str | None:
    """The configuration file for ``options``, or None when nothing needs one.

    The addresses (``-a``, ``-p``, ``-m``) are command-line arguments, not part of it.
    ``store_dir`` is the JetStream store (needed with ``jetstream``); ``cluster_port`` the
    route port to listen on (None: not clustered); ``websocket_port`` the WebSocket port
    (None: no listener); ``path_of`` maps host paths to the ones
    the server sees (inside a container).
    """
    lines: list[str] = []
    if options.server_name is not None:
        lines.append(f"server_name: {quote(options.server_name)}")
    if options.user is not None and options.password is not None:
        lines += [
            "authorization {",
            f"  user: {quote(options.user)}",
            f"  password: {quote(options.password)}",
            "}",
        ]
    elif options.token is not None:
        lines += ["authorization {", f"  token: {quote(options.token)}", "}"]
    if options.max_payload is not None:
        lines.append(f"max_payload: {int(options.max_payload)}")
    if options.jetstream:
        if store_dir is None:
            raise ValueError("a JetStream configuration needs its store_dir")
        lines += ["jetstream {", f"  store_dir: {quote(path_of(store_dir))}", "}"]
    if options.tls_cert is not None and options.tls_key is not None:
        lines += [
            "tls {",
            f"  cert_file: {quote(path_of(options.tls_cert))}",
            f"  key_file: {quote(path_of(options.tls_key))}",
        ]
        if options.tls_ca is not None:
            lines.append(f"  ca_file: {quote(path_of(options.tls_ca))}")
        lines += [f"  verify: {'true' if options.tls_verify else 'false'}", "  timeout: 2"]
        if options.tls_handshake_first:
            lines.append("  handshake_first: true")
        lines.append("}")
    if websocket_port is not None:
        lines += websocket_block(options, websocket_port, path_of)
    if cluster_port is not None:
        lines.append("cluster {")
        if options.cluster_name is not None:
            lines.append(f"  name: {quote(options.cluster_name)}")
        lines.append(f"  listen: {quote(bind_addr(options.host, cluster_port))}")
        if options.routes:
            lines.append("  routes: [")
            lines += [f"    {quote(route)}" for route in options.routes]
            lines.append("  ]")
        lines.append("}")
    if options.config_extra:
        lines.append(options.config_extra)
    return "\n".join(lines) + "\n" if lines else None


def websocket_block(
    options: ServerOptions, port: int, path_of: Callable[[Path], str] = str
) -> list[str]:
    """The ``websocket {}`` block: a listener on ``port``, with the server's TLS
    certificate when it has one, else without TLS."""
    lines = ["websocket {", f"  listen: {quote(bind_addr(options.host, port))}"]
    if options.tls_cert is not None and options.tls_key is not None:
        lines += [
            "  tls {",
            f"    cert_file: {quote(path_of(options.tls_cert))}",
            f"    key_file: {quote(path_of(options.tls_key))}",
            "  }",
        ]
    else:
        lines.append("  no_tls: true")
    if options.websocket_compression:
        lines.append("  compression: true")
    lines.append("}")
    return lines


def quote(value: str) -> str:
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
