"""Both ends of a migration: RabbitMQ through aio-pika (imported here, lazily) and NATS
through natswire.amqp, each opened with errors an operator can act on."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from .. import amqp
from ..amqp.errors import QueueNotFoundError
from ..protocol.errors import NatsWireError
from .errors import MissingDependencyError, NatsSideError, RabbitSideError


def aio_pika() -> Any:
    """The aio_pika module, or a clear error when the extra is not installed."""
    try:
        import aio_pika as module
    except ImportError:
        raise MissingDependencyError(
            "the migration tools need aio-pika: pip install 'natswire[migrate]'"
        ) from None
    return module


def redact(url: str) -> str:
    """A URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return parts._replace(netloc=f"{parts.username}:***@{host}").geturl()


def amqp_user(url: str) -> str:
    parts = urlsplit(url)
    return unquote(parts.username) if parts.username else "guest"


def is_amqp_url(url: str) -> bool:
    return urlsplit(url).scheme in ("amqp", "amqps")


def is_nats_url(url: str) -> bool:
    return urlsplit(url).scheme in ("nats", "tls", "ws", "wss")


async def connect_rabbitmq(url: str, timeout: float = 10.0) -> Any:
    """An aio-pika connection; :class:`RabbitSideError` saying why when it fails
    (unreachable, wrong credentials, no such vhost)."""
    pika = aio_pika()
    from aiormq import exceptions as amqp_errors

    where = redact(url)
    try:
        return await pika.connect(url, timeout=timeout)
    except (amqp_errors.ProbableAuthenticationError, amqp_errors.AuthenticationError) as exc:
        raise RabbitSideError(
            f"RabbitMQ at {where} refused the credentials of user {amqp_user(url)!r} ({exc})"
        ) from None
    except amqp_errors.AMQPConnectionError as exc:
        text = str(exc)
        if "ACCESS_REFUSED" in text or "authentication" in text.lower():
            raise RabbitSideError(
                f"RabbitMQ at {where} refused the credentials of user {amqp_user(url)!r}"
            ) from None
        if "vhost" in text.lower():
            raise RabbitSideError(f"RabbitMQ at {where}: {text}") from None
        raise RabbitSideError(f"cannot connect to RabbitMQ at {where}: {text}") from None
    except (OSError, TimeoutError) as exc:
        raise RabbitSideError(
            f"cannot connect to RabbitMQ at {where}: {exc or type(exc).__name__}"
        ) from None
    except amqp_errors.AMQPError as exc:
        # e.g. the broker closes the connection at Connection.Open: no such vhost.
        texts = [str(getattr(arg, "reply_text", "")) for arg in exc.args]
        reason = next((t for t in texts if t), str(exc))
        raise RabbitSideError(f"RabbitMQ at {where} refused the connection: {reason}") from None


def rabbit_failures() -> tuple[type[BaseException], ...]:
    """The exceptions aio-pika raises when RabbitMQ goes away mid-way (a lost connection,
    a closed channel)."""
    from aiormq import exceptions as amqp_errors

    return (amqp_errors.AMQPError, amqp_errors.ChannelInvalidStateError)


async def rabbit_queue_count(channel: Any, queue: str, vhost: str = "/") -> int:
    """Ready messages in a RabbitMQ queue (passive declare): :class:`RabbitSideError`
    when it does not exist (the channel is closed by the broker then)."""
    from aiormq import exceptions as amqp_errors

    try:
        declared = await channel.declare_queue(queue, passive=True)
    except amqp_errors.ChannelNotFoundEntity:
        raise RabbitSideError(f"RabbitMQ has no queue {queue!r} in vhost {vhost!r}") from None
    return int(declared.declaration_result.message_count or 0)


async def connect_nats(url: str, namespace: str, timeout: float = 5.0) -> amqp.Connection:
    """A natswire.amqp connection; :class:`NatsSideError` when NATS (or JetStream)
    cannot be reached. Once connected it reconnects for ever (Wire's policy)."""
    try:
        conn = await amqp.connect(
            servers=url,
            namespace=namespace,
            connect_timeout=timeout,
            name="natswire-migrate",
            # Errors are raised to the tools, which report them: no log lines too.
            on_channel_exception=lambda channel, exc: None,
        )
    except (NatsWireError, OSError) as exc:
        raise NatsSideError(
            f"cannot connect to NATS at {redact(url)}: {type(exc).__name__}: {exc}"
        ) from None
    try:
        await conn.wait_ready(timeout)
    except NatsWireError as exc:
        await conn.close()
        raise NatsSideError(f"JetStream at {redact(url)} is not available: {exc}") from None
    return conn


async def nats_queue_count(conn: amqp.Connection, queue: str) -> int:
    """Messages ready in a natswire.amqp queue; :class:`NatsSideError` when there is
    no such queue."""
    channel = await conn.channel()
    try:
        ok = await channel.queue_declare(queue, passive=True)
    except QueueNotFoundError:
        ns = conn.namespace or "(none)"
        raise NatsSideError(
            f"NATS namespace {ns!r} has no queue {queue!r} "
            "(create it first: natswire migrate apply)"
        ) from None
    finally:
        if channel.is_open:
            await channel.close()
    return ok.message_count


__all__ = [
    "aio_pika",
    "amqp_user",
    "connect_nats",
    "connect_rabbitmq",
    "is_amqp_url",
    "is_nats_url",
    "nats_queue_count",
    "rabbit_failures",
    "rabbit_queue_count",
    "redact",
]
