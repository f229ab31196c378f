"""Connection options: one typed object, built from keywords, a config block or both."""

from __future__ import annotations

import os
import random
import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, TypeAlias

from ..protocol.limits import DEFAULT_CLIENT_MAX_CONTROL_LINE
from .credentials import Credentials, JwtCallback, SignatureCallback

#: A callback may be a plain function or a coroutine function.
ErrorCallback: TypeAlias = Callable[[Exception], "Awaitable[None] | None"]
EventCallback: TypeAlias = Callable[[], "Awaitable[None] | None"]
#: Given the servers that may be tried and the last INFO: ``(server or None, delay)``.
ReconnectHandler: TypeAlias = Callable[[list[Any], dict[str, Any]], tuple[Any, float]]

DEFAULT_PENDING_SIZE = 8 * 1024 * 1024
DEFAULT_SUB_PENDING_MSGS_LIMIT = 512 * 1024
DEFAULT_SUB_PENDING_BYTES_LIMIT = 128 * 1024 * 1024


@dataclass
class ConnectOptions:
    """Everything :func:`natswire.connect` accepts, with nats-py's names and defaults.

    Build one directly, from keywords with ``ConnectOptions(**kwargs)``, or from the
    migration plan's configuration block with :meth:`from_config`.
    """

    servers: Sequence[str] = ("nats://127.0.0.1:4222",)
    name: str | None = None
    user: str | None = None
    password: str | None = None
    #: The token, or a function returning it (called at each connect).
    token: str | Callable[[], str] | None = None
    verbose: bool = False
    pedantic: bool = False
    no_echo: bool = False
    connect_timeout: float = 2.0
    ping_interval: float = 120.0
    max_outstanding_pings: int = 2
    allow_reconnect: bool = True
    max_reconnect_attempts: int = 60
    reconnect_time_wait: float = 2.0
    #: Above ``reconnect_time_wait``: the wait doubles per failed attempt up to this.
    #: ``None`` (the default, as nats-py): always ``reconnect_time_wait``.
    reconnect_time_wait_max: float | None = None
    reconnect_jitter: float = 0.1
    dont_randomize: bool = False
    #: The random source for shuffling servers and jittering reconnects (tests inject one).
    rng: random.Random | None = None
    retry_on_failed_connect: bool = False
    #: Text; bytes (nats-py's default type) are decoded.
    inbox_prefix: str = "_INBOX"
    pending_size: int = DEFAULT_PENDING_SIZE
    flush_timeout: float | None = None
    drain_timeout: float = 30.0
    max_control_line: int = DEFAULT_CLIENT_MAX_CONTROL_LINE
    tls: ssl.SSLContext | bool | None = None
    tls_hostname: str | None = None
    tls_handshake_first: bool = False
    #: Headers sent with the HTTP upgrade to a ``ws://``/``wss://`` server: a name maps
    #: to a value or a list of values.
    ws_connection_headers: Mapping[str, str | Sequence[str]] | None = None
    #: Offer permessage-deflate to a ``ws://``/``wss://`` server (natswire's; nats.go's
    #: ``Compression``): used when the server's websocket block has ``compression: true``.
    ws_compression: bool = False
    #: An nkey seed (``SU...``) or the path of a file holding one.
    nkeys_seed: str | None = None
    #: A ``.creds`` file: its path, its text as :class:`RawCredentials`, or a
    #: ``(jwt, seed)`` pair of files or values.
    user_credentials: Credentials | None = None
    #: An nkey seed as text (nats-py's name; ``nkeys_seed`` takes text or a path).
    nkeys_seed_str: str | None = None
    #: ``signature_cb(nonce)`` signs the server's nonce (base64) when the key is held
    #: elsewhere (KMS, HSM); ``user_jwt_cb()`` returns the user JWT to send with it.
    signature_cb: SignatureCallback | None = None
    user_jwt_cb: JwtCallback | None = None
    namespace: str = ""
    error_cb: ErrorCallback | None = None
    disconnected_cb: EventCallback | None = None
    reconnected_cb: EventCallback | None = None
    closed_cb: EventCallback | None = None
    discovered_server_cb: EventCallback | None = None
    #: ``reconnect_delay_cb(attempt)`` returns the seconds to wait before a reconnect
    #: attempt, instead of the exponential backoff.
    reconnect_delay_cb: Callable[[int], float] | None = None
    lame_duck_mode_cb: EventCallback | None = None
    #: ``reconnect_to_server_handler(servers, server_info)`` picks the server to
    #: reconnect to: it returns ``(server or None, delay in seconds)``.
    reconnect_to_server_handler: ReconnectHandler | None = None
    #: Accepted for nats-py's sake: natswire writes once per event-loop pass and
    #: has no flusher queue to size.
    flusher_queue_size: int = 1024
    #: Accepted for nats-py's sake: natswire checks subjects always (the check is
    #: cached per subject, so it costs nothing on the hot path).
    skip_subject_validation: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.servers, str):
            self.servers = [self.servers]
        else:
            self.servers = list(self.servers)
        if not self.servers:
            raise ValueError("servers must name at least one server")
        for name in ("connect_timeout", "reconnect_time_wait", "drain_timeout", "ping_interval"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        prefix: object = self.inbox_prefix
        if isinstance(prefix, (bytes, bytearray)):
            # nats-py's own default is bytes; a subject is text.
            self.inbox_prefix = bytes(prefix).decode()
        if self.flush_timeout is not None and self.flush_timeout <= 0:
            raise ValueError(f"flush_timeout must be positive, got {self.flush_timeout!r}")
        if self.max_outstanding_pings < 1:
            raise ValueError("max_outstanding_pings must be at least 1")
        if self.pending_size < 0:
            raise ValueError("pending_size must not be negative")

    @classmethod
    def from_config(
        cls,
        config: Mapping[str, Any],
        environ: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> ConnectOptions:
        """Options from a ``nats: {host, port, namespace}`` configuration block.

        Credentials come from ``NATS_USERNAME`` and ``NATS_PASSWORD`` when set.
        ``config`` may be the block itself or a mapping holding it under ``"nats"``.
        """
        block = config.get("nats", config)
        environ = os.environ if environ is None else environ
        host = block.get("host", "127.0.0.1")
        port = int(block.get("port", 4222))
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        values: dict[str, Any] = {
            "servers": [f"nats://{host}:{port}"],
            "namespace": block.get("namespace") or "",
        }
        if environ.get("NATS_USERNAME"):
            values["user"] = environ["NATS_USERNAME"]
        if environ.get("NATS_PASSWORD") is not None and "user" in values:
            values["password"] = environ["NATS_PASSWORD"]
        values.update(overrides)
        return cls(**values)

    def with_changes(self, **changes: Any) -> ConnectOptions:
        """A copy with some options changed."""
        return replace(self, **changes)


OPTION_NAMES = frozenset(f.name for f in fields(ConnectOptions))


def options_for_connect(
    servers: str | list[str] | None, options: ConnectOptions | None, keywords: dict[str, Any]
) -> ConnectOptions:
    """The options of a ``connect(servers, options=..., **keywords)`` call: keywords
    (nats-py's names) override ``options``; an unknown keyword raises ``TypeError``."""
    unknown = set(keywords) - OPTION_NAMES
    if unknown:
        raise TypeError(f"unknown connect option(s): {', '.join(sorted(unknown))}")
    if servers:
        keywords = {**keywords, "servers": servers}
    return ConnectOptions(**keywords) if options is None else options.with_changes(**keywords)
