"""``basic.consume``: a pull loop on a queue's consumer, with AMQP prefetch.

Each consumer listens on its own inbox (``<inbox>.*``, one reply subject per pull
request) and pulls only what its prefetch allows: at any time, deliveries held by the
application (unsettled) plus messages still requested from the server never exceed
``prefetch_count``. Messages are handled one at a time, in order, by the
subscription's callback task (no task per message). Pull requests expire after
``pull_expires`` (10 minutes; 30 s for streams with one replica on a cluster) and are
renewed. Requests the server dropped earlier are renewed at once, on a fresh inbox
(:meth:`Consumer.renew`): after a reconnect, and when the server says the consumer has a
new leader or was deleted (:mod:`natswire.amqp.advisories`). Requests left on the server
under the old inbox then lapse, since the server delivers only to a reply subject someone
listens on: when the link drops, the inbox is dropped at once
(:meth:`Consumer.drop_inbox`), so the reconnect does not subscribe it again.

Single active consumer uses JetStream priority groups (``pinned_client``): the
server pins one puller and holds the others' requests. While the pinned consumer
cannot take more (its prefetch is full) it keeps its pin with pull requests that can
deliver nothing (``max_bytes: 1``). Closing the channel or cancelling unpins at once.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import math
import time
import types
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ..client.message import Message
from ..client.subscription import Subscription
from ..jetstream.message import JetStreamMessage
from ..protocol.errors import NatsWireError
from ..protocol.frames import HMsg
from .expiry import is_expired
from .names import consumer_name
from .options import LASTING_PULL_EXPIRES
from .properties import H_EXPIRATION, Delivery, route_of
from .queues import QueueSpec

if TYPE_CHECKING:
    from .channel import Channel
    from .ledger import DeliveryLedger

logger = logging.getLogger("natswire.amqp")

_NANOS = 1_000_000_000
PIN_GROUP = "amqp"
PIN_HEADER = "Nats-Pin-Id"
#: A pull request that was not answered this long after its expiry is taken as lost.
_LOST_GRACE = 2.0
_EXPIRATION = H_EXPIRATION.lower().encode()
_COROUTINE = types.CoroutineType
_wrap = JetStreamMessage.from_message
#: Tokens of the two JetStream ack subject layouts (v1: ``$JS.ACK.<stream>...``; v2 adds
#: the domain and account hash, and may grow), as :mod:`natswire.jetstream.message` reads
#: them.
ACK_V1_TOKENS = 9
ACK_V2_TOKENS = 12

OnMessage = Callable[[Delivery], "Awaitable[None] | None"]
OnCancel = Callable[[str], "Awaitable[None] | None"]


def ack_numbers(reply: bytes | None) -> tuple[int, int, int] | None:
    """``(stream sequence, deliveries, stored ns)`` from a JetStream ack subject (either
    layout, see :mod:`natswire.jetstream.message`), ``None`` when it is not one."""
    if not reply:
        return None
    tokens = reply.split(b".")
    count = len(tokens)
    if count == ACK_V1_TOKENS:
        base = 4
    elif count >= ACK_V2_TOKENS:
        base = 6
    else:
        return None
    if tokens[0] != b"$JS" or tokens[1] != b"ACK" or not tokens[base - 2] or not tokens[base - 1]:
        return None
    try:
        return int(tokens[base + 1]), int(tokens[base]), int(tokens[base + 3])
    except ValueError:
        return None


def may_expire(msg: Message) -> bool:
    """Whether the message may carry a per-message TTL (``Amqp-Expiration``): a cheap
    look at the raw header block, which is parsed only when it does."""
    frame = msg._frame  # friend: the delivery path reads the frame without a property call
    if isinstance(frame, HMsg):
        return _EXPIRATION in frame.raw_headers.lower()
    headers = msg.headers
    return headers is not None and H_EXPIRATION in headers


class Consumer:
    """One ``basic.consume`` on a channel.

    The channel's :class:`DeliveryLedger` records the deliveries it hands out; the
    consumer reads its account there to size its pull requests.
    """

    def __init__(
        self,
        channel: Channel,
        ledger: DeliveryLedger,
        spec: QueueSpec,
        consumer_tag: str,
        on_message: OnMessage,
        auto_ack: bool,
        on_cancel: OnCancel | None,
        prefetch: int,
    ) -> None:
        conn = channel.connection
        options = conn.options
        self.channel = channel
        self.queue = spec.name
        self.consumer_tag = consumer_tag
        self._on_message = on_message
        self.auto_ack = auto_ack
        self.on_cancel = on_cancel
        self.window = prefetch if (prefetch and not auto_ack) else options.unlimited_window
        self._threshold = max(1, self.window // 4)
        self._nc = conn.nc
        self._js = conn.js
        self._stream = conn.stream
        self._dead_letters = conn.dead_letters
        self._topology = conn.topology
        self._acklog = conn.acklog
        #: The queue's ack log subject (``None`` unless its state is in memory).
        self.ack_log = (
            conn.acklog.subject(spec.name) if conn.acklog is not None and spec.restorable else None
        )
        # After a restore: the stream sequences the ack log lists up to the restore
        # (they left the queue before its consumer was lost), until each is passed.
        self._settled: set[int] = set()
        # When to try recover() again after a failure; inf while one is under way.
        self._recover_at = 0.0
        self._recover_later = conn.recover
        self._report = conn.report
        self._ledger = ledger
        #: stream sequence -> delivery tag of the deliveries the application holds (the
        #: ledger's record, read here).
        self._held: Mapping[int, int] = ledger.open_account(self)
        # Deliveries being dead-lettered or expired: they count against the prefetch.
        self._settling = 0
        self._consumer = consumer_name(spec.name)
        self._next_subject = f"{conn.js.prefix}.CONSUMER.MSG.NEXT.{conn.stream}.{self._consumer}"
        expires = options.pull_expires
        self._expires = LASTING_PULL_EXPIRES if expires is None else expires
        self._sac = spec.single_active_consumer
        if self._sac:
            self._expires = min(self._expires, options.sac_timeout / 3)
        self._inbox = ""
        self._sub: Subscription | None = None
        self._requests: dict[str, list[float]] = {}  # reply -> [remaining, deadline]
        self._requested = 0
        self._next_request = 0
        self._pin_id: str | None = None
        self._last_pull = 0.0
        self._pumping = False
        self.active = False
        self.cancelled = False
        self._closing = False
        #: This queue's counters on the connection (delivered, acked, ...).
        self.counters = conn.counters(spec.name)
        self.update_spec(spec)

    @property
    def subscription(self) -> Subscription | None:
        """The subscription on this consumer's inbox (``None`` before :meth:`start`)."""
        return self._sub

    def update_spec(self, spec: QueueSpec) -> None:
        """Take the queue's description (at start, and when its bindings or arguments
        change through this connection), with what each delivery checks read out."""
        self.spec = spec
        self._floor = spec.checks_floor
        self._exact = spec.all_exact
        self._ttl = spec.message_ttl
        self._limit = spec.max_delivery
        self._restored_at = spec.restored_at

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Subscribe to this consumer's inbox and send the first pull request."""
        await self._load_settled()
        await self._listen()
        self.active = True
        if self._recover_at == math.inf:
            # A reconnect to a restarted server came while starting: its recovery
            # found this consumer not yet active and left the lookup to it.
            await self.recover()
            return
        await self.pump()

    async def _listen(self) -> None:
        self._inbox = self._nc.new_inbox()
        self._sub = await self._nc.subscribe(f"{self._inbox}.*", cb=self._handle)

    async def renew(self) -> None:
        """The outstanding pull requests are lost or stale (a reconnect, a new consumer
        leader): listen on a fresh inbox, pull again, then let the old inbox go; the
        server delivers nothing more to requests whose reply subject has no listener."""
        if not self.active:
            return
        old = self._sub
        self.reset_requests()
        await self._listen()
        await self.pump()
        if old is not None:
            try:
                await old.drain()  # what is already on its way is still handled
            except Exception as exc:  # the connection may be gone again
                logger.debug("natswire.amqp: draining %s's old inbox: %s", self.queue, exc)

    async def check_deleted(self) -> None:
        """The queue's JetStream consumer was deleted (an advisory): see
        :meth:`recover`."""
        await self.recover()

    async def recover(self) -> None:
        """The queue's JetStream consumer may be gone (deleted, or lost with a server
        restart): look the queue up, which makes a lost durable queue again from its
        record, and pull again on a fresh inbox; cancel as for a deleted queue when it
        is gone. It does not pull meanwhile. When JetStream does not answer, the upkeep
        tries again a second later."""
        if not self.active:
            return
        self._recover_at = math.inf
        try:
            found = await self._topology.find_queue(self.queue)
            if found is not None and self.active:
                self.update_spec(found[1])
                await self._load_settled()
        except Exception as exc:
            logger.debug("natswire.amqp: looking up %s: %s", self.queue, exc)
            self._recover_at = time.monotonic() + 1.0
            return
        self._recover_at = 0.0
        if not self.active:  # cancelled meanwhile
            return
        if found is None:
            await self.channel.consumer_gone(self)
        else:
            await self.renew()

    def recovery_pending(self) -> None:
        """A :meth:`recover` is about to run: pull nothing until it has (the inbox may
        be gone, as after a reconnect)."""
        self._recover_at = math.inf

    async def _load_settled(self) -> None:
        """Read what the ack log lists for a restored queue, up to its restore."""
        spec = self.spec
        if self._acklog is not None and spec.restored_at:
            # A union: what log_settled added while the log was read stays.
            self._settled |= await self._acklog.settled(
                self.queue, spec.restored_at, spec.created_seq
            )

    async def log_settled(self, seq: int) -> None:
        """Log that the message at stream sequence ``seq`` left the queue (before it is
        acked or terminated; only with queue state in memory)."""
        subject = self.ack_log
        if subject is not None and self._acklog is not None:
            if seq <= self._restored_at:
                # Held across the restore: the restored consumer takes an ack on the old
                # ack subject only once it has delivered the message again; until then
                # it must not be delivered here again.
                self._settled.add(seq)
            await self._acklog.record(subject, seq)

    async def stop(self) -> None:
        """Stop pulling; messages already on their way are handed back (nak)."""
        if not self.active:
            return
        self.active = False
        self._closing = True
        sub = self._sub
        if sub is not None:
            try:
                if self._nc.is_connected:
                    await asyncio.wait_for(sub.drain(), 5.0)
                else:
                    await sub.unsubscribe()
            except Exception as exc:  # the connection may be gone
                logger.debug("natswire.amqp: draining consumer %s: %s", self.consumer_tag, exc)
        self._requests.clear()
        self._requested = 0

    def cancel_by_server(self) -> bool:
        """The queue was deleted under this consumer: it stops and counts as cancelled.
        ``False`` when it was already."""
        if self.cancelled:
            return False
        self.cancelled = True
        self.active = False
        return True

    async def release_pin(self) -> None:
        """After a settlement: once this consumer was cancelled and holds nothing, a
        single-active pin goes to the next consumer."""
        if not self.active and not self._held:
            await self.unpin()

    async def unpin(self) -> None:
        """Give up a single-active pin (another consumer takes over at once)."""
        if self._sac and self._pin_id is not None:
            self._pin_id = None
            body = json.dumps({"group": PIN_GROUP}).encode()
            try:
                await self._nc.request(
                    f"{self._js.prefix}.CONSUMER.UNPIN.{self._stream}.{self._consumer}",
                    body,
                    timeout=2.0,
                )
            except Exception as exc:
                logger.debug("natswire.amqp: unpin %s: %s", self.queue, exc)

    async def drop_inbox(self) -> None:
        """The link dropped: forget the inbox, so that the reconnect does not subscribe
        it again and the pull requests the server kept for it lapse (nothing is sent:
        the client is not connected). Messages already received are still handled."""
        self.reset_requests()
        if self._sub is not None:
            await self._sub.unsubscribe()

    def reset_requests(self) -> None:
        """Forget the outstanding pull requests (they are gone)."""
        self._requests.clear()
        self._requested = 0

    # ------------------------------------------------------------------ pulling

    def wants_pull(self) -> bool:
        """Whether :meth:`pump` would pull now (a cheap test before awaiting it)."""
        if not self.active or self._pumping or self._recover_at:
            return False
        room = self.window - len(self._held) - self._settling - self._requested
        return room > 0 and not (self._requested and room < self._threshold)

    async def pump(self) -> None:
        """Pull as much as the prefetch allows (in batches of at least a quarter)."""
        if not self.wants_pull():
            return
        room = self.window - len(self._held) - self._settling - self._requested
        self._pumping = True
        try:
            await self._pull(room)
        finally:
            self._pumping = False

    async def _pull(self, batch: int, ping: bool = False) -> None:
        self._next_request += 1
        reply = f"{self._inbox}.{self._next_request}"
        body: dict[str, Any] = {"batch": batch, "expires": int(self._expires * _NANOS)}
        if ping:
            body["max_bytes"] = 1
        if self._sac:
            body["group"] = PIN_GROUP
            if self._pin_id:
                body["id"] = self._pin_id
        now = time.monotonic()
        self._last_pull = now
        if not ping:
            self._requests[reply] = [batch, now + self._expires + _LOST_GRACE]
            self._requested += batch
        try:
            await self._nc.publish(self._next_subject, json.dumps(body).encode(), reply)
        except Exception:
            self._drop_request(reply)
            raise

    def _drop_request(self, reply: str) -> None:
        entry = self._requests.pop(reply, None)
        if entry is not None:
            self._requested -= int(entry[0])

    def due(self, now: float) -> bool:
        """Whether :meth:`tick` has anything to do at ``now``: a cheap test, since the
        upkeep asks every consumer several times a second."""
        if not self.active:
            return False
        if self._recover_at:
            return now >= self._recover_at
        requests = self._requests
        # Deadlines grow with insertion order (the same expiry each time): the first is
        # the earliest.
        if requests and next(iter(requests.values()))[1] < now:
            return True
        if self._sac and self._pin_id and now - self._last_pull > self._expires:
            return True
        return self.wants_pull()

    async def tick(self, now: float) -> None:
        """Periodic upkeep: forget lost requests, keep a pin, pull."""
        if not self.active:
            return
        if self._recover_at:
            if now >= self._recover_at:
                self._recover_at = math.inf  # until the recovery starts
                self._recover_later(self)
            return
        for reply, (_, deadline) in list(self._requests.items()):
            if deadline < now:
                self._drop_request(reply)
        if self._sac and self._pin_id and now - self._last_pull > self._expires:
            room = self.window - len(self._held) - self._settling - self._requested
            if room <= 0 and not self._requests:
                await self._pull(1, ping=True)
        await self.pump()

    # ----------------------------------------------------------------- delivery

    async def _handle(self, msg: Message) -> None:
        reply = msg._frame.reply  # friend: as in may_expire, on every delivery
        if reply is None or not reply.startswith(b"$JS.ACK."):
            # Deliveries carry an ack subject; status messages (408, 409, ...) none.
            status = msg.status
            if status is not None:
                await self._status(msg, status)
                return
        # The server serves pull requests in order.
        for request, entry in self._requests.items():
            entry[0] -= 1
            self._requested -= 1
            if entry[0] <= 0:
                del self._requests[request]
            break
        jm = _wrap(self._nc, msg)
        if self._sac:
            headers = msg.headers
            if headers is not None:
                pin = headers.get(PIN_HEADER)
                if pin:
                    self._pin_id = pin
        if self._closing or not self.active:
            numbers = ack_numbers(reply) if self._settled else None
            if numbers is not None and numbers[0] in self._settled:
                await jm.ack()  # left the queue before it was restored
            else:
                await self._nak_quietly(jm)
            return
        # Only the numbers needed, read straight from the ack subject (the full
        # metadata is parsed only if asked for).
        numbers = ack_numbers(reply)
        if numbers is None:
            await self._nak_quietly(jm)
            return
        seq, delivered, stored_ns = numbers
        if self._settled and seq in self._settled:
            # Left the queue before it was restored: acked (for the restored consumer),
            # not delivered.
            self._settled.discard(seq)
            await jm.ack()
            await self.pump()
            return
        held_tag = self._held.get(seq)
        # Redelivered while the application still holds it (ack wait passed during a
        # long disconnect): the newer delivery carries the live ack subject.
        if held_tag is not None and self._ledger.redelivered(held_tag, jm, delivered):
            return
        if not (self._exact and seq > self._floor):
            exchange, routing_key = route_of(jm.headers)
            if not self.spec.routes(exchange, routing_key, seq):
                await jm.ack()  # not this queue's message (see QueueSpec.routes)
                await self.pump()
                return
        if self._limit is not None and delivered > self._limit:
            await self._settle_here(jm, "delivery_limit")
            return
        ttl = self._ttl
        if (ttl is not None or may_expire(msg)) and is_expired(jm, stored_ns, ttl):
            await self._settle_here(jm, "expired")
            return
        if seq <= self._restored_at:
            delivered += 1  # it may have been delivered before the queue was restored
        delivery = self._ledger.deliver(jm, self, seq, delivered)
        counters = self.counters
        counters.delivered += 1
        if self.auto_ack:
            if self.ack_log is not None:
                await self.log_settled(seq)
            await jm.ack()
            counters.acked += 1
        try:
            result = self._on_message(delivery)
            if result is not None and (
                result.__class__ is _COROUTINE or inspect.isawaitable(result)
            ):
                await result
        except Exception as exc:
            logger.exception("natswire.amqp: consumer %s callback raised", self.consumer_tag)
            self._report(self.channel, exc)
        if self.auto_ack:
            await self.pump()

    async def _settle_here(self, jm: JetStreamMessage, reason: str) -> None:
        """Dead-letter (``reason``) or expire a message instead of delivering it; it
        counts against the prefetch meanwhile. A refusal goes to the hook, and the
        message comes back after the ack wait (not at once: the server would refuse
        again)."""
        self._settling += 1
        try:
            if reason == "expired":
                await self._dead_letters.expire(self.spec, jm)
            else:
                await self._dead_letters.dead_letter(self.spec, jm, reason)
        except NatsWireError as exc:
            self._report(self.channel, exc)
        finally:
            self._settling -= 1
        await self.pump()

    async def _nak_quietly(self, jm: JetStreamMessage) -> None:
        try:
            await jm.nak()
        except Exception as exc:
            logger.debug("natswire.amqp: nak on close: %s", exc)

    async def _status(self, msg: Message, status: int) -> None:
        reply = msg.subject
        if status == 100:
            return
        description = msg.headers.description.lower() if msg.headers is not None else ""
        if reply not in self._requests and status not in (409, 503, 423):
            return
        self._drop_request(reply)
        if status == 423:  # someone else holds the pin
            self._pin_id = None
        elif (status == 409 and "consumer deleted" in description) or status == 503:
            # Deleted, or no responders: the consumer (or JetStream) is gone, or
            # restarting.
            if status == 503:
                await asyncio.sleep(0.2)
            # In the background: recover() drains this inbox, whose callback this is.
            self._recover_later(self)
            return
        elif status == 409 and "message size exceeds maxbytes" not in description:
            await asyncio.sleep(0.05)  # e.g. max waiting exceeded: pull again soon
        await self.pump()


class ConsumerSet:
    """The started consumers of one connection, by queue (for the upkeep, the topology
    and the metrics)."""

    __slots__ = ("_by_queue", "_count", "_queue_of")

    def __init__(self) -> None:
        self._by_queue: dict[str, list[Consumer]] = {}
        self._count = 0
        self._queue_of: dict[str, str] = {}  # JetStream consumer name -> queue

    def add(self, consumer: Consumer) -> None:
        """``consumer`` started."""
        consumers = self._by_queue.setdefault(consumer.queue, [])
        if consumer not in consumers:
            consumers.append(consumer)
            self._count += 1
            self._queue_of[consumer_name(consumer.queue)] = consumer.queue

    def discard(self, consumer: Consumer) -> None:
        """``consumer`` stopped or was cancelled."""
        consumers = self._by_queue.get(consumer.queue)
        if consumers is None or consumer not in consumers:
            return
        consumers.remove(consumer)
        self._count -= 1
        if not consumers:
            del self._by_queue[consumer.queue]
            self._queue_of.pop(consumer_name(consumer.queue), None)

    def of_queue(self, queue: str) -> list[Consumer]:
        """The consumers of ``queue``."""
        return list(self._by_queue.get(queue, ()))

    def of_consumer(self, name: str) -> list[Consumer]:
        """The consumers of the queue whose JetStream consumer is ``name``."""
        queue = self._queue_of.get(name)
        return [] if queue is None else self.of_queue(queue)

    def consumes(self, queue: str) -> bool:
        """Whether ``queue`` is consumed here."""
        return queue in self._by_queue

    def __iter__(self) -> Iterator[Consumer]:
        return iter([c for consumers in self._by_queue.values() for c in consumers])

    def __len__(self) -> int:
        return self._count

    def __contains__(self, consumer: object) -> bool:
        queue = getattr(consumer, "queue", None)
        return isinstance(queue, str) and consumer in self._by_queue.get(queue, ())
