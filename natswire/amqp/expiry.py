"""Dead-lettering and expiry: ``x-dead-letter-exchange`` and message TTLs.

A message is dead-lettered when it is rejected without requeue, expires, or goes over
the queue's delivery limit: republished to the queue's dead-letter exchange with
RabbitMQ's ``x-death`` headers, then terminated (dropped when the queue has none).
Expiry is checked when a message is about to be delivered; queues with a dead-letter
exchange that nobody consumes are swept for expired messages at their head
(:mod:`natswire.amqp.sweep`).
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..jetstream.context import JetStreamContext
from ..jetstream.message import JetStreamMessage
from .names import encode_name
from .properties import TRANSIENT, decode_headers
from .stats import QueueCounters

if TYPE_CHECKING:
    from .._client import Client
    from .acklog import AckLog
    from .publisher import Publisher
    from .queues import QueueSpec

#: ``expiration: "0"`` means "only if a consumer takes it at once": this long.
ZERO_TTL_GRACE = 0.5


def expires_at_ns(msg: JetStreamMessage, stored_ns: int, queue_ttl: int | None) -> int | None:
    """When ``msg`` (stored at ``stored_ns``) expires by its ``expiration`` or the
    queue's ``x-message-ttl`` (ms; the smaller counts), in ns since the epoch; ``None``
    when it never does."""
    headers = msg.headers
    expiration = headers.get("Amqp-Expiration") if headers is not None else None
    ttl = queue_ttl
    if expiration is not None:
        try:
            value = int(expiration)
        except ValueError:
            value = None
        if value is not None and (ttl is None or value < ttl):
            ttl = value
    if ttl is None:
        return None
    limit_ns = ttl * 1_000_000 if ttl else int(ZERO_TTL_GRACE * 1e9)
    return stored_ns + limit_ns


def is_expired(msg: JetStreamMessage, stored_ns: int, queue_ttl: int | None) -> bool:
    """Whether ``msg`` (stored at ``stored_ns``) outlived its ``expiration`` or the
    queue's ``x-message-ttl``."""
    deadline = expires_at_ns(msg, stored_ns, queue_ttl)
    return deadline is not None and time.time_ns() >= deadline


def death_headers(
    headers: dict[str, Any],
    queue: str,
    reason: str,
    exchange: str,
    routing_key: str,
    expiration: str | None,
) -> dict[str, Any]:
    """``headers`` with RabbitMQ's ``x-death`` record of this death added (a repeated
    death in the same queue for the same reason counts up) and the ``x-first-death-*``
    and ``x-last-death-*`` headers."""
    headers = dict(headers)
    deaths = headers.get("x-death")
    deaths = [dict(d) for d in deaths if isinstance(d, dict)] if isinstance(deaths, list) else []
    now = int(time.time())
    found = None
    for death in deaths:
        if death.get("queue") == queue and death.get("reason") == reason:
            found = death
            break
    if found is not None:
        deaths.remove(found)
        found["count"] = int(found.get("count", 1)) + 1
        found["time"] = now
    else:
        found = {
            "count": 1,
            "reason": reason,
            "queue": queue,
            "time": now,
            "exchange": exchange,
            "routing-keys": [routing_key],
        }
        if expiration is not None:
            found["original-expiration"] = expiration
    deaths.insert(0, found)
    headers["x-death"] = deaths
    headers.setdefault("x-first-death-queue", queue)
    headers.setdefault("x-first-death-reason", reason)
    headers.setdefault("x-first-death-exchange", exchange)
    headers["x-last-death-queue"] = queue
    headers["x-last-death-reason"] = reason
    headers["x-last-death-exchange"] = exchange
    return headers


class DeadLetters:
    """Dead-lettering and expiry for the queues of one connection."""

    def __init__(
        self,
        nc: Client,
        js: JetStreamContext,
        stream: str,
        publisher: Publisher,
        counters: Callable[[str], QueueCounters],
        acklog: AckLog | None = None,
    ) -> None:
        self._nc = nc
        self._acklog = acklog
        self._js = js
        self._stream = stream
        self._publisher = publisher
        self._counters = counters

    # ------------------------------------------------------------ per message

    async def expire(self, spec: QueueSpec, msg: JetStreamMessage) -> None:
        """An expired message: dead-lettered (reason ``expired``) unless transient."""
        headers = msg.headers
        mode = headers.get("Amqp-Delivery-Mode") if headers is not None else None
        if mode == str(TRANSIENT):
            await self._log(spec, msg)
            await msg.term("expired")
            self._counters(spec.name).dropped += 1
            return
        await self.dead_letter(spec, msg, "expired")

    async def dead_letter(self, spec: QueueSpec, msg: JetStreamMessage, reason: str) -> None:
        """Republish to the queue's dead-letter exchange with ``x-death`` headers (if it
        has one), then terminate the original. Without a DLX the message is dropped."""
        dlx = spec.dead_letter_exchange
        if dlx is None:
            await self._log(spec, msg)
            await msg.term(reason)
            self._counters(spec.name).dropped += 1
            return
        exchange, routing_key, props = decode_headers(msg.headers)
        meta = msg.metadata
        headers = death_headers(
            props.headers or {}, spec.name, reason, exchange, routing_key, props.expiration
        )
        key = spec.dead_letter_routing_key
        await self._publisher.publish(
            dlx,
            routing_key if key is None else key,
            msg.data,
            props.copy(headers=headers, expiration=None),
            msg_id=f"dlx:{encode_name(spec.name)}:{meta.sequence.stream}:{meta.num_delivered}",
        )
        await self._log(spec, msg)
        await msg.term(reason)
        self._counters(spec.name).dead_lettered += 1

    async def _log(self, spec: QueueSpec, msg: JetStreamMessage) -> None:
        """Log that ``msg`` left the queue (it is about to be terminated)."""
        log = self._acklog
        if log is not None and spec.restorable:
            await log.record(log.subject(spec.name), msg.metadata.sequence.stream)


def parse_time_ns(value: datetime.datetime | str | None) -> int:
    """A stored message's time (a ``datetime``, or RFC 3339 with nanoseconds,
    ``2026-01-02T03:04:05.123456789Z``) to ns."""
    if not value:
        return time.time_ns()
    if isinstance(value, datetime.datetime):
        epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
        return (value - epoch) // datetime.timedelta(microseconds=1) * 1000
    text = value.rstrip("Z")
    main, _, frac = text.partition(".")
    stamp = datetime.datetime.fromisoformat(main).replace(tzinfo=datetime.timezone.utc)
    nanos = int((frac + "000000000")[:9]) if frac else 0
    return int(stamp.timestamp()) * 1_000_000_000 + nanos
