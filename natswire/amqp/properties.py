"""Message properties (AMQP ``basic`` class) and deliveries, carried in NATS headers.

Each property set on a message becomes one NATS header, readable by plain NATS
consumers too::

    content_type      Content-Type           correlation_id  Amqp-Correlation-Id
    content_encoding  Content-Encoding       reply_to        Amqp-Reply-To
    type              Amqp-Type              expiration      Amqp-Expiration (ms)
    message_id        Amqp-Message-Id        timestamp       Amqp-Timestamp (s)
    delivery_mode     Amqp-Delivery-Mode     priority        Amqp-Priority
    user_id, app_id   Amqp-User-Id, Amqp-App-Id
    headers           Amqp-Headers (one JSON object: str, int, float, bool, None,
                      lists and objects)

plus ``Amqp-Exchange`` and ``Amqp-Routing-Key``, the route the message was published with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from ..protocol.headers import Headers

if TYPE_CHECKING:
    from ..jetstream.message import JetStreamMessage
    from .channel import Channel

H_EXCHANGE = "Amqp-Exchange"
H_ROUTING_KEY = "Amqp-Routing-Key"
H_HEADERS = "Amqp-Headers"
H_EXPIRATION = "Amqp-Expiration"

#: delivery_mode values.
TRANSIENT = 1
PERSISTENT = 2

_STR_HEADERS = {
    "content_type": "Content-Type",
    "content_encoding": "Content-Encoding",
    "type": "Amqp-Type",
    "message_id": "Amqp-Message-Id",
    "correlation_id": "Amqp-Correlation-Id",
    "reply_to": "Amqp-Reply-To",
    "expiration": "Amqp-Expiration",
    "user_id": "Amqp-User-Id",
    "app_id": "Amqp-App-Id",
}
_INT_HEADERS = {
    "delivery_mode": "Amqp-Delivery-Mode",
    "priority": "Amqp-Priority",
    "timestamp": "Amqp-Timestamp",
}
_BY_HEADER: dict[str, tuple[str, bool]] = {
    **{h.lower(): (name, False) for name, h in _STR_HEADERS.items()},
    **{h.lower(): (name, True) for name, h in _INT_HEADERS.items()},
}


@dataclass
class BasicProperties:
    """AMQP message properties (the names pika and aio-pika use).

    ``expiration`` is a string of milliseconds, as in AMQP (``"60000"``; ``"0"``: only
    a consumer ready at once gets it). ``delivery_mode`` 1 is transient, 2 persistent
    (both are stored by JetStream; a transient message that expires is dropped quietly
    instead of being dead-lettered).
    """

    content_type: str | None = None
    content_encoding: str | None = None
    headers: dict[str, Any] | None = None
    delivery_mode: int | None = None
    priority: int | None = None
    correlation_id: str | None = None
    reply_to: str | None = None
    expiration: str | None = None
    message_id: str | None = None
    timestamp: int | None = None
    type: str | None = None
    user_id: str | None = None
    app_id: str | None = None

    def __post_init__(self) -> None:
        if self.expiration is not None:
            self.expiration = str(self.expiration)
            if not self.expiration.isdigit():
                raise ValueError(
                    f"expiration must be a non-negative number of milliseconds, "
                    f"got {self.expiration!r}"
                )
        if self.delivery_mode is not None and self.delivery_mode not in (1, 2):
            raise ValueError(f"delivery_mode must be 1 or 2, got {self.delivery_mode!r}")

    @property
    def expiration_ms(self) -> int | None:
        """``expiration`` as an int of milliseconds (``None`` when unset)."""
        return None if self.expiration is None else int(self.expiration)

    def to_headers(self, exchange: str, routing_key: str) -> dict[str, str]:
        """The NATS headers of a message with these properties."""
        out = {H_EXCHANGE: exchange, H_ROUTING_KEY: routing_key}
        for name, header in _STR_HEADERS.items():
            value = getattr(self, name)
            if value is not None:
                out[header] = value
        for name, header in _INT_HEADERS.items():
            value = getattr(self, name)
            if value is not None:
                out[header] = str(int(value))
        if self.headers:
            out[H_HEADERS] = json.dumps(self.headers, separators=(",", ":"), default=str)
        return out

    def copy(self, **changes: Any) -> BasicProperties:
        """A copy with ``changes`` applied."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        if values["headers"] is not None:
            values["headers"] = dict(values["headers"])
        values.update(changes)
        return BasicProperties(**values)


def decode_headers(headers: Headers | None) -> tuple[str, str, BasicProperties]:
    """``(exchange, routing_key, properties)`` from a message's NATS headers."""
    props = BasicProperties()
    exchange = routing_key = ""
    if headers is None:
        return exchange, routing_key, props
    for key, value in headers.multi_items():
        folded = key.lower()
        if folded == "amqp-exchange":
            exchange = value
        elif folded == "amqp-routing-key":
            routing_key = value
        elif folded == "amqp-headers":
            try:
                decoded = json.loads(value)
            except ValueError:
                decoded = None
            props.headers = decoded if isinstance(decoded, dict) else {"Amqp-Headers": value}
        else:
            known = _BY_HEADER.get(folded)
            if known is None:
                continue
            name, is_int = known
            if is_int:
                try:
                    setattr(props, name, int(value))
                except ValueError:
                    continue
            else:
                setattr(props, name, value)
    return exchange, routing_key, props


def route_of(headers: Headers | None) -> tuple[str, str]:
    """``(exchange, routing key)`` a stored message was published with."""
    if headers is None:
        return "", ""
    return headers.get(H_EXCHANGE, ""), headers.get(H_ROUTING_KEY, "")


class Delivery:
    """One message handed to a consumer (``basic.deliver``).

    ``delivery_tag`` is per channel, from 1, increasing; acknowledge with
    ``channel.basic_ack(delivery.delivery_tag)`` (or :meth:`ack`, :meth:`nack`,
    :meth:`reject`). ``redelivered`` is true when the message was delivered before
    (to any consumer of the queue). ``stream_sequence`` is the message's sequence in the
    adapter's stream (stable across redeliveries); ``message`` is the JetStream message
    underneath (metadata, headers): settle through the channel, not through it.
    """

    __slots__ = (
        "_channel",
        "_decoded",
        "_delivered",
        "_route",
        "consumer_tag",
        "delivery_tag",
        "message",
        "queue",
        "stream_sequence",
    )

    def __init__(
        self,
        channel: Channel,
        msg: JetStreamMessage,
        delivery_tag: int,
        consumer_tag: str,
        queue: str,
        delivered: int | None = None,
        stream_sequence: int = 0,
    ) -> None:
        self._channel = channel
        self.message = msg
        self.delivery_tag = delivery_tag
        self.consumer_tag = consumer_tag
        self.queue = queue
        self.stream_sequence = stream_sequence
        self._decoded: tuple[str, str, BasicProperties] | None = None
        # Deliveries of the message (from its ack subject), when the consumer read them.
        self._delivered = delivered

    def redelivered_as(self, msg: JetStreamMessage, delivered: int) -> None:
        """For the channel holding this delivery: the message came again (its ack wait
        passed, e.g. during a long disconnect); the newer copy carries the live ack
        subject and the new delivery count."""
        self.message = msg
        self._delivered = delivered

    def _decode(self) -> tuple[str, str, BasicProperties]:
        decoded = self._decoded
        if decoded is None:
            decoded = self._decoded = decode_headers(self.message.headers)
        return decoded

    @property
    def body(self) -> bytes:
        """The message body."""
        return self.message.data

    @property
    def exchange(self) -> str:
        """The exchange the message was published to."""
        return self._decode()[0]

    @property
    def routing_key(self) -> str:
        """The routing key the message was published with."""
        return self._decode()[1]

    @property
    def properties(self) -> BasicProperties:
        """The message's :class:`BasicProperties`."""
        return self._decode()[2]

    @property
    def redelivered(self) -> bool:
        """Whether the message was delivered before (to any consumer of the queue)."""
        return self.delivery_count > 1

    @property
    def delivery_count(self) -> int:
        """How many times the message was delivered from this queue, this time included."""
        delivered = self._delivered
        if delivered is None:
            delivered = self._delivered = self.message.metadata.num_delivered
        return delivered

    @property
    def channel(self) -> Channel:
        """The channel the delivery came on (settle through it)."""
        return self._channel

    async def ack(self, multiple: bool = False) -> None:
        """``basic_ack`` of this delivery on its channel."""
        await self._channel.basic_ack(self.delivery_tag, multiple)

    async def nack(self, multiple: bool = False, requeue: bool = True) -> None:
        """``basic_nack`` of this delivery on its channel."""
        await self._channel.basic_nack(self.delivery_tag, multiple, requeue)

    async def reject(self, requeue: bool = True) -> None:
        """``basic_reject`` of this delivery on its channel."""
        await self._channel.basic_reject(self.delivery_tag, requeue)

    def __repr__(self) -> str:
        body = self.body
        return (
            f"<Delivery tag={self.delivery_tag} queue={self.queue!r} "
            f"routing_key={self.routing_key!r} body={body[:40]!r}"
            f"{'...' if len(body) > 40 else ''}>"
        )
