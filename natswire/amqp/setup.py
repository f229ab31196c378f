"""Opening the adapter: :func:`connect`, the NATS connection and the adapter's streams."""

from __future__ import annotations

import asyncio
import inspect
import os
import random
import ssl
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..client.errors import NoRespondersError, TimeoutError
from ..client.options import ConnectOptions
from ..jetstream.api import RetentionPolicy
from ..jetstream.context import JetStreamContext
from ..jetstream.errors import (
    APIError,
    ServiceUnavailableError,
    StreamNameInUseError,
    StreamNotFoundError,
)
from .acklog import acklog_subjects
from .connection import Connection
from .errors import PreconditionFailedError, server_refusal
from .errors import ServerUnavailableError as AdapterUnavailableError
from .names import acklog_stream_name, client_name, meta_stream_name, stream_name
from .options import AmqpOptions, Hook, pull_expires_for

if TYPE_CHECKING:
    from .._client import Client


def tls_from_config(block: Mapping[str, Any]) -> ssl.SSLContext | None:
    """The TLS context of Wire's RabbitMQ-style settings (``tls: {enableTls, caCert,
    insecureSkipVerifyTls}`` or those keys beside ``host``), ``None`` without TLS."""
    tls = block.get("tls")
    opts: Mapping[str, Any] = tls if isinstance(tls, Mapping) else block
    if not opts.get("enableTls", isinstance(tls, Mapping) and bool(tls)):
        return None
    context = ssl.create_default_context(cafile=opts.get("caCert") or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if opts.get("insecureSkipVerifyTls"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def default_replicas(server_info: Mapping[str, Any]) -> int:
    """``min(3, cluster size)`` when the server reports a cluster (its ``connect_urls``
    name every member), 1 on a single server."""
    if not server_info.get("cluster"):
        return 1
    urls = server_info.get("connect_urls") or []
    return max(1, min(3, len(set(urls))))


#: The first nats-server with batched Direct Get, which reads the ack log back.
MEMORY_STATE_SINCE = (2, 11)


def default_queue_state(server_info: Mapping[str, Any], version: tuple[int, int]) -> str:
    """``"memory"`` on a single server that can read the ack log back (2.11 or later),
    else ``"file"`` (on a cluster a restart of every node would reset memory state)."""
    if server_info.get("cluster") or version < MEMORY_STATE_SINCE:
        return "file"
    return "memory"


#: How long opening the adapter waits for JetStream to answer (a leader election).
SETUP_PATIENCE = 10.0
#: How long each of those attempts waits for an answer.
SETUP_REQUEST_TIMEOUT = 1.5


async def ensure_streams(js: JetStreamContext, options: AmqpOptions, replicas: int) -> None:
    """Create the namespace's message stream and metadata stream (and, with
    ``queue_state="memory"``, its ack log) with ``replicas``, or
    check an existing one (same replication factor) and add the subjects it lacks.
    JetStream without a leader is waited for up to :data:`SETUP_PATIENCE`; a refusal
    raises an :class:`AmqpAdapterError` subclass."""
    subjects = options.subject_map
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETUP_PATIENCE
    while True:
        try:
            await _ensure_stream(
                js,
                options,
                replicas,
                stream_name(options.namespace),
                subjects.stream_subjects(),
                retention=RetentionPolicy.LIMITS,
                max_age=options.stream_max_age,
                max_consumers=options.max_queues,
            )
            await _ensure_stream(
                js,
                options,
                replicas,
                meta_stream_name(options.namespace),
                [subjects.meta_subject(">")],
                max_msgs_per_subject=1,
            )
            if options.queue_state == "memory":
                await _ensure_stream(
                    js,
                    options,
                    replicas,
                    acklog_stream_name(options.namespace),
                    acklog_subjects(subjects),
                    max_age=options.stream_max_age,
                    allow_direct=True,
                )
            return
        except (ServiceUnavailableError, TimeoutError, NoRespondersError) as exc:
            if loop.time() < deadline:
                await asyncio.sleep(0.25)
                continue
            if isinstance(exc, APIError):
                raise server_refusal(exc) from exc
            raise AdapterUnavailableError(
                f"SERVICE_UNAVAILABLE - JetStream did not answer within {SETUP_PATIENCE} s: {exc}",
                503,
                None,
            ) from exc
        except APIError as exc:
            raise server_refusal(exc) from exc


async def _ensure_stream(
    js: JetStreamContext,
    options: AmqpOptions,
    replicas: int,
    name: str,
    subjects: list[str],
    **config: Any,
) -> None:
    try:
        info = await js.stream_info(name)
    except StreamNotFoundError:
        try:
            await js.add_stream(
                name=name,
                subjects=subjects,
                storage=options.storage,
                num_replicas=replicas,
                **{k: v for k, v in config.items() if v is not None},
            )
            return
        except StreamNameInUseError:
            info = await js.stream_info(name)  # made meanwhile by another connection
    have_replicas = info.config.num_replicas or 1
    if options.replicas is not None and have_replicas != options.replicas:
        raise PreconditionFailedError(
            f"PRECONDITION_FAILED - stream {name!r} has {have_replicas} replicas but "
            f"replicas={options.replicas} was asked for; change the option or the stream"
        )
    have = info.config.subjects or []
    missing = [s for s in subjects if s not in have]
    if missing:
        await js.update_stream(info.config.evolve(subjects=[*have, *missing]))


def _wire_reconnect_policy(options: dict[str, Any], namespace: str) -> None:
    """Reconnect for ever with Wire's full-jitter backoff (1 ms doubling, capped at 5 s),
    unless the caller chose otherwise."""
    rng = random.Random()
    options.setdefault("max_reconnect_attempts", -1)
    options.setdefault(
        "reconnect_delay_cb", lambda attempt: rng.uniform(0, min(5.0, 0.001 * 2**attempt))
    )
    options.setdefault("name", client_name(namespace, "natswire-amqp"))


def _chained(
    holder: dict[str, Connection], own: Callable[[Connection], None], user: Hook | None
) -> Callable[[], Awaitable[None]]:
    """A NATS callback telling the adapter connection (once made), then the caller's
    own callback."""

    async def callback() -> None:
        if "conn" in holder:
            own(holder["conn"])
        if user is not None:
            result = user()
            if inspect.isawaitable(result):
                await result

    return callback


async def connect(
    config: Mapping[str, Any] | None = None,
    *,
    options: AmqpOptions | None = None,
    client: Client | None = None,
    servers: str | list[str] | None = None,
    environ: Mapping[str, str] | None = None,
    **keywords: Any,
) -> Connection:
    """Connect the adapter.

    ``config`` is the migration plan's block ``{"host", "port", "namespace"}`` (or a
    mapping holding it under ``"nats"``), optionally with TLS as in Wire's RabbitMQ
    configuration (``"tls": {"enableTls", "caCert", "insecureSkipVerifyTls"}`` or those
    keys beside ``host``); credentials come from ``NATS_USERNAME``/``NATS_PASSWORD``.
    The adapter's own settings are an :class:`AmqpOptions`: ``options``, or built from
    the block's keys named as its fields (``namespace``, ...); its field names given as
    keywords (``namespace=``, ``max_channels=``, hooks, ...) win over both. ``servers``
    overrides host and port; ``client`` uses an existing natswire client (left open by
    :meth:`Connection.close`). Other keywords are :class:`natswire.ConnectOptions`
    fields. The NATS connection reconnects for ever with Wire's policy (full-jitter
    backoff from 1 ms, capped at 5 s).
    """
    block: Mapping[str, Any] = {}
    if config is not None:
        nested = config.get("nats")
        block = nested if isinstance(nested, Mapping) else config
    changes, nats_keywords = AmqpOptions.split(keywords)
    if options is None:
        amqp_options = AmqpOptions.from_config(block, **changes)
    else:
        amqp_options = options.with_changes(**changes)
    holder: dict[str, Connection] = {}
    if client is None:
        from .. import connect as nats_connect

        conn_options = ConnectOptions.from_config(
            block, environ=os.environ if environ is None else environ
        )
        if servers is not None:
            nats_keywords["servers"] = [servers] if isinstance(servers, str) else servers
        tls = tls_from_config(block)
        if tls is not None:
            nats_keywords.setdefault("tls", tls)
        _wire_reconnect_policy(nats_keywords, amqp_options.namespace)
        nats_keywords["disconnected_cb"] = _chained(
            holder, Connection.handle_disconnected, nats_keywords.pop("disconnected_cb", None)
        )
        nc = await nats_connect(options=conn_options, **nats_keywords)
        owns = True
    else:
        nc = client
        owns = False
    try:
        replicas = amqp_options.replicas or default_replicas(nc.server_info)
        clustered = bool(nc.server_info.get("cluster"))
        if amqp_options.pull_expires is None:
            amqp_options = amqp_options.with_changes(
                pull_expires=pull_expires_for(clustered, replicas)
            )
        server = nc.connected_server_version
        version = (server.major, server.minor)
        if amqp_options.queue_state is None:
            amqp_options = amqp_options.with_changes(
                queue_state=default_queue_state(nc.server_info, version)
            )
        elif amqp_options.queue_state == "memory" and version < MEMORY_STATE_SINCE:
            raise PreconditionFailedError(
                f"PRECONDITION_FAILED - queue_state='memory' needs nats-server 2.11 or "
                f"later (to read the ack log back); this server is {server}"
            )
        conn = Connection(nc, amqp_options, owns_client=owns)
        holder["conn"] = conn
        setup_js = JetStreamContext(nc, timeout=SETUP_REQUEST_TIMEOUT)
        await ensure_streams(setup_js, amqp_options, replicas)
        await conn.start()
    except BaseException:
        if owns:
            await nc.close()
        raise
    return conn


__all__ = [
    "connect",
    "default_queue_state",
    "default_replicas",
    "ensure_streams",
    "tls_from_config",
]
