"""Opening the adapter: :func:`connect`, the NATS connection and the adapter's streams."""

from __future__ import annotations

import inspect
import os
import random
import ssl
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..client.options import ConnectOptions
from ..jetstream.api import RetentionPolicy, StorageType
from ..jetstream.context import JetStreamContext
from ..jetstream.errors import APIError, StreamNotFoundError
from .connection import Connection
from .errors import server_refusal
from .names import client_name, meta_stream_name, stream_name
from .options import AmqpOptions, Hook

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


async def ensure_streams(js: JetStreamContext, options: AmqpOptions) -> None:
    """Create the namespace's message stream and metadata stream, or add the subjects
    an existing one lacks. A refusal raises an :class:`AmqpAdapterError` subclass."""
    subjects = options.subject_map
    try:
        await _ensure_stream(
            js,
            options.storage,
            stream_name(options.namespace),
            subjects.stream_subjects(),
            retention=RetentionPolicy.INTEREST,
            max_age=options.stream_max_age,
        )
        await _ensure_stream(
            js,
            options.storage,
            meta_stream_name(options.namespace),
            [subjects.meta_subject(">")],
            max_msgs_per_subject=1,
        )
    except APIError as exc:
        raise server_refusal(exc) from exc


async def _ensure_stream(
    js: JetStreamContext, storage: StorageType, name: str, subjects: list[str], **config: Any
) -> None:
    try:
        info = await js.stream_info(name)
    except StreamNotFoundError:
        await js.add_stream(
            name=name,
            subjects=subjects,
            storage=storage,
            **{k: v for k, v in config.items() if v is not None},
        )
        return
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
        for key, own in (
            ("disconnected_cb", Connection.handle_disconnected),
            ("reconnected_cb", Connection.handle_reconnected),
        ):
            nats_keywords[key] = _chained(holder, own, nats_keywords.pop(key, None))
        nc = await nats_connect(options=conn_options, **nats_keywords)
        owns = True
    else:
        nc = client
        owns = False
    try:
        conn = Connection(nc, amqp_options, owns_client=owns)
        holder["conn"] = conn
        await ensure_streams(conn.js, amqp_options)
        conn.start()
    except BaseException:
        if owns:
            await nc.close()
        raise
    return conn


__all__ = ["connect", "ensure_streams", "tls_from_config"]
