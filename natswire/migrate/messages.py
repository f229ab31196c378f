"""Messages between aio-pika (RabbitMQ) and natswire.amqp (NATS headers), and the
stable ids that make a restarted shovel skip what it already moved.

Properties keep their values. The AMQP ``headers`` table travels as JSON (natswire.amqp's
``Amqp-Headers``): strings, numbers, booleans, nulls, lists and tables are kept as they
are; values JSON cannot carry are converted and counted: timestamps become seconds since
the epoch (as natswire.amqp writes ``x-death`` times), byte strings become text (UTF-8,
else Latin-1), decimals become numbers. ``x-delivery-count`` (added by quorum queues on
redelivery) is RabbitMQ's bookkeeping and is not moved.
"""

from __future__ import annotations

import datetime
import decimal
import hashlib
import json
from typing import Any

from ..amqp.properties import BasicProperties

#: NATS header on messages the bridge copied from RabbitMQ to NATS.
BRIDGED_NATS_HEADER = "Natswire-Bridged"
#: AMQP header on messages the bridge copied from NATS to RabbitMQ.
BRIDGED_AMQP_HEADER = "x-natswire-bridged"
#: NATS headers recording where a shovelled message came from (not AMQP properties).
ORIGIN_HEADER = "Natswire-Origin"
#: Headers RabbitMQ adds itself on redelivery: not part of the message.
BROKER_HEADERS = frozenset({"x-delivery-count"})


def _jsonable(value: Any) -> tuple[Any, bool]:
    """``(value as JSON-able, converted?)``."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value, False
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return int(value.timestamp()), True
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        try:
            return data.decode("utf-8"), True
        except UnicodeDecodeError:
            return data.decode("latin-1"), True
    if isinstance(value, decimal.Decimal):
        return (int(value) if value == value.to_integral_value() else float(value)), True
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        lossy = False
        for key, item in value.items():
            out[str(key)], changed = _jsonable(item)
            lossy = lossy or changed
        return out, lossy
    if isinstance(value, (list, tuple)):
        items = [_jsonable(item) for item in value]
        return [item for item, _ in items], any(changed for _, changed in items)
    return str(value), True


def headers_to_json(headers: Any) -> tuple[dict[str, Any] | None, bool]:
    """An AMQP headers table as JSON-able data, without RabbitMQ's own headers;
    ``(headers or None, converted?)``."""
    if not headers:
        return None, False
    table = {k: v for k, v in dict(headers).items() if k not in BROKER_HEADERS}
    if not table:
        return None, False
    return _jsonable(table)


def properties_from_incoming(message: Any) -> tuple[BasicProperties, bool]:
    """The :class:`BasicProperties` of an aio-pika ``IncomingMessage``;
    ``(properties, headers converted?)``."""
    headers, lossy = headers_to_json(message.headers)
    expiration = message.expiration  # aio-pika: seconds (float) from the ms string
    timestamp = message.timestamp
    mode = message.delivery_mode
    props = BasicProperties(
        content_type=message.content_type or None,
        content_encoding=message.content_encoding or None,
        headers=headers,
        delivery_mode=int(mode) if mode else None,
        priority=message.priority,
        correlation_id=message.correlation_id or None,
        reply_to=message.reply_to or None,
        expiration=None if expiration is None else str(round(float(expiration) * 1000)),
        message_id=message.message_id or None,
        timestamp=None if timestamp is None else _jsonable(timestamp)[0],
        type=message.type or None,
        user_id=message.user_id or None,
        app_id=message.app_id or None,
    )
    return props, lossy


def pamqp_properties(
    props: BasicProperties,
    *,
    message_id: str | None = None,
    extra_headers: dict[str, Any] | None = None,
    user: str | None = None,
) -> Any:
    """``pamqp`` Basic.Properties for publishing with aiormq: exactly these values
    (``expiration`` stays the same millisecond string). ``message_id`` fills in a missing
    id (aiormq would invent a random one); ``user_id`` is dropped unless it is the
    connection's ``user`` (RabbitMQ refuses others)."""
    from pamqp.commands import Basic

    headers = dict(props.headers) if props.headers else {}
    if extra_headers:
        headers.update(extra_headers)
    stamp = None
    if props.timestamp is not None:
        stamp = datetime.datetime.fromtimestamp(props.timestamp, tz=datetime.timezone.utc)
    user_id = props.user_id if props.user_id is not None and props.user_id == user else None
    return Basic.Properties(
        content_type=props.content_type,
        content_encoding=props.content_encoding,
        headers=headers or None,
        delivery_mode=props.delivery_mode,
        priority=props.priority,
        correlation_id=props.correlation_id,
        reply_to=props.reply_to,
        expiration=props.expiration,
        message_id=props.message_id or message_id,
        timestamp=stamp,
        message_type=props.type,
        user_id=user_id,
        app_id=props.app_id,
    )


def stable_id(
    source: str,
    target: str,
    exchange: str,
    routing_key: str,
    props: BasicProperties,
    body: bytes,
) -> str:
    """The ``Nats-Msg-Id`` of a message moved from ``source`` to ``target``: a digest of
    the route, every property (``message_id`` included) and the body. A redelivery of the
    same RabbitMQ message gives the same id, so JetStream drops the second copy inside
    its duplicate window; the same message moved to two targets gets two ids."""
    fields = {
        "content_type": props.content_type,
        "content_encoding": props.content_encoding,
        "headers": props.headers,
        "delivery_mode": props.delivery_mode,
        "priority": props.priority,
        "correlation_id": props.correlation_id,
        "reply_to": props.reply_to,
        "expiration": props.expiration,
        "message_id": props.message_id,
        "timestamp": props.timestamp,
        "type": props.type,
        "user_id": props.user_id,
        "app_id": props.app_id,
    }
    head = json.dumps(
        [source, target, exchange, routing_key, fields],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    ).encode()
    digest = hashlib.sha256()
    digest.update(len(head).to_bytes(8, "big"))
    digest.update(head)
    digest.update(body)
    return "rmq-" + digest.hexdigest()[:40]


__all__ = [
    "BRIDGED_AMQP_HEADER",
    "BRIDGED_NATS_HEADER",
    "ORIGIN_HEADER",
    "headers_to_json",
    "pamqp_properties",
    "properties_from_incoming",
    "stable_id",
]
