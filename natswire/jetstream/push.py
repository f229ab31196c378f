"""Push consumers: ``js.subscribe`` and ``js.subscribe_bind``, plain, queue-group and
ordered (ADR-17), and how they recover.

The server pushes a consumer's messages to its deliver subject; a core subscription of
this client receives them. Status-100 control messages (idle heartbeats, flow-control
requests) are taken in delivery order like data messages, answered as
:mod:`.flow` decides, and never handed to the application. A plain-function ``cb`` runs
inline as for core subscriptions; a coroutine ``cb`` is awaited by the core
subscription's one task; without ``cb``, ``next_msg`` and ``async for`` take them.

Recovery: after each reconnect, and when nothing arrived for two heartbeat intervals,
the subscription checks its consumer. A push consumer that is gone is created again on
the same deliver subject, starting after the last stream sequence handed out; an
ordered consumer is replaced (new deliver subject, the old consumer deleted) also after
a gap in its consumer sequence. :mod:`.recovery` decides when; :mod:`.binding` makes
the ordered consumer's config.
"""

from __future__ import annotations

import asyncio
import inspect
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress
from typing import TYPE_CHECKING, Any, cast

from ..client.errors import ConnectionClosedError, TimeoutError
from ..client.message import Message
from ..client.subscription import Subscription
from ..protocol.frames import HMsg
from ..protocol.headers import header_status
from .api import AckPolicy, ConsumerConfig, ConsumerInfo, DeliverPolicy
from .errors import (
    ConsumerExistsError,
    ConsumerNotFoundError,
    ConsumerSequenceMismatchError,
)
from .flow import (
    CONSUMER_STALLED,
    LAST_CONSUMER,
    OrderedSequence,
    ack_sequences,
    answer_control,
)
from .message import (
    ACK,
    ACK_TAIL,
    JetStreamMessage,
    delivered_message_factory,
    parse_metadata,
)
from .recovery import RecoveryWatch

if TYPE_CHECKING:
    from .context import JetStreamContext


#: A push callback: a plain function or a coroutine function of the message.
PushCallback = Callable[[JetStreamMessage], "Awaitable[None] | None"]
#: How often a push subscription without heartbeats looks for its consumer when idle.
DEFAULT_CHECK_INTERVAL = 5.0
_ACK_SIZE = len(ACK)


class PushSubscription:
    """A subscription to a push consumer (nats-py's ``JetStreamContext.PushSubscription``)."""

    def __init__(
        self,
        js: JetStreamContext,
        stream: str,
        consumer: str,
        config: ConsumerConfig,
        cb: PushCallback | None,
        manual_ack: bool,
        ordered: OrderedSequence | None,
        pending_limits: tuple[int, int],
        check_interval: float | None,
    ) -> None:
        self._js = js
        self._nc = js.client
        self._stream = stream
        self._consumer = consumer
        self._config = config
        self._cb = cb
        self._auto_ack = (
            cb is not None and not manual_ack and config.ack_policy not in (AckPolicy.NONE, "none")
        )
        self._ordered = ordered
        self._pending_limits = pending_limits
        self._core: Subscription | None = None
        # The core subscription whose messages are accepted (None while recovering).
        self._live: Subscription | None = None
        self._last_reply = b""
        self._closed = False
        interval = config.idle_heartbeat or check_interval
        self._recovery = RecoveryWatch(js.client, self, interval, bool(config.idle_heartbeat))
        #: Recoveries done (consumers recreated or replaced).
        self.recoveries = 0
        # Ordered consumers are named <base>_<serial>, so that one whose creation went
        # unanswered (a lost link) can still be deleted once a replacement is in place.
        self._name_base = secrets.token_hex(8)
        self._serial = 0
        self._uncertain: set[str] = set()

    def __repr__(self) -> str:
        return f"<PushSubscription stream={self._stream!r} consumer={self._consumer!r}>"

    # --------------------------------------------------------------- public

    @property
    def stream(self) -> str:
        return self._stream

    @property
    def consumer(self) -> str:
        """The current consumer's name (it changes when an ordered consumer is replaced)."""
        return self._consumer

    @property
    def subscription(self) -> Subscription:
        """The core subscription on the deliver subject."""
        assert self._core is not None
        return self._core

    @property
    def subject(self) -> str:
        """The deliver subject."""
        return self.subscription.subject

    @property
    def queue(self) -> str:
        """The deliver group (``""`` for none)."""
        return self.subscription.queue

    @property
    def pending_msgs(self) -> int:
        return self.subscription.pending_msgs

    @property
    def pending_bytes(self) -> int:
        return self.subscription.pending_bytes

    @property
    def delivered(self) -> int:
        """Messages (data and control) received on the deliver subject."""
        return self.subscription.delivered

    async def consumer_info(self) -> ConsumerInfo:
        return await self._js.consumer_info(self._stream, self._consumer)

    async def next_msg(self, timeout: float | None = 1.0) -> JetStreamMessage:
        """The next message; raises :class:`natswire.errors.TimeoutError` after ``timeout``
        seconds (``None`` or 0 waits for ever)."""
        if self._cb is not None:
            raise ValueError("next_msg() cannot be used on a subscription with a callback")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout if timeout else None
        while True:
            core = self.subscription
            wait = None if deadline is None else deadline - loop.time()
            if wait is not None and wait <= 0:
                raise TimeoutError(f"no message from consumer {self._consumer!r} in {timeout} s")
            try:
                msg = await core.next_msg(wait)
            except TimeoutError:
                raise TimeoutError(
                    f"no message from consumer {self._consumer!r} in {timeout} s"
                ) from None
            except ConnectionClosedError:
                if core is self._core and (self._closed or not self._recovery.running):
                    raise
                await asyncio.sleep(0.01)  # replaced by a recovery: take from the new one
                continue
            jm = self._take(msg)
            if jm is not None:
                return jm

    def __aiter__(self) -> AsyncIterator[JetStreamMessage]:
        return self._iterate()

    @property
    def messages(self) -> AsyncIterator[JetStreamMessage]:
        """An async iterator over the messages; it ends when the subscription does."""
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[JetStreamMessage]:
        while True:
            try:
                yield await self.next_msg(None)
            except ConnectionClosedError:
                return

    async def unsubscribe(self, limit: int = 0) -> None:
        """Stop receiving. An ordered or ephemeral consumer is deleted (best effort); a
        durable one stays (delete it with ``delete_consumer``). ``limit`` (nats-py's
        call) stops after that many messages in all instead, as core subscriptions do."""
        if limit:
            await self.subscription.unsubscribe(limit)
            return
        self._stop()
        if self._core is not None:
            await self._core.unsubscribe()
        if self._ordered is not None or not self._config.durable_name:
            await self._delete_consumer(self._consumer)

    async def drain(self) -> None:
        """Let the pending messages be taken, then stop as :meth:`unsubscribe`."""
        self._stop()
        if self._core is not None:
            await self._core.drain()
        if self._ordered is not None or not self._config.durable_name:
            await self._delete_consumer(self._consumer)

    # ---------------------------------------------------------------- start

    async def start(self) -> None:
        """Subscribe to the deliver subject; watch heartbeats and reconnects."""
        assert self._config.deliver_subject is not None
        self._core = self._live = await self._subscribe(self._config.deliver_subject)
        self._recovery.start()

    async def _subscribe(self, subject: str) -> Subscription:
        cb: Callable[[Message], Any] | None = None
        if self._cb is not None:
            if inspect.iscoroutinefunction(self._cb):
                cb = self._on_msg_async
            else:
                cb = self._plain_delivery(self._cb)
        msgs_limit, bytes_limit = self._pending_limits
        core = await self._nc.subscribe(
            subject,
            queue=self._config.deliver_group or "",
            cb=cb,
            pending_msgs_limit=msgs_limit,
            pending_bytes_limit=bytes_limit,
        )
        # Set before the SUB is written (subscribe only buffers it): every delivery is
        # a JetStream message from the start.
        core.message_factory = delivered_message_factory(self._nc)
        return core

    def _stop(self) -> None:
        self._closed = True
        self._recovery.stop()

    # ------------------------------------------------------------- delivery

    def _take(self, msg: Message) -> JetStreamMessage | None:
        """A message in delivery order: the one to hand out, or ``None`` for a control
        message or one from a consumer being replaced."""
        if msg.subscription is not self._live:
            return None
        frame = msg.frame
        # A status (control) message is an HMSG; checked without parsing the headers.
        if frame.__class__ is HMsg and header_status(frame.raw_headers) is not None:
            self._control(msg)
            return None
        reply = frame.reply or b""
        if self._ordered is not None:
            if not self._ordered.accept_reply(reply):
                self._out_of_order(reply)
                return None
        else:
            self._last_reply = reply
        if isinstance(msg, JetStreamMessage):
            return msg
        return JetStreamMessage.from_message(self._nc, msg)

    def _out_of_order(self, reply: bytes) -> None:
        """An ordered consumer's message that is not the next one: recover."""
        ordered = self._ordered
        assert ordered is not None
        self._recovery.trigger("a gap in the consumer sequence")
        self._recovery.report(
            ConsumerSequenceMismatchError(
                ordered.next_stream_seq, ordered.consumer_seq, ack_sequences(reply)[0]
            )
        )

    def _control(self, msg: Message) -> None:
        headers = msg.headers
        if headers is None:
            return
        answer = answer_control(
            headers.description,
            msg.reply,
            headers.get(CONSUMER_STALLED),
            headers.get(LAST_CONSUMER),
            None if self._recovery.running else self._ordered,
        )
        for subject in answer.replies:
            self._nc.publish_trusted_nowait(subject.encode(), b"")
        if answer.reset:
            self._recovery.trigger("a heartbeat reporting missed messages")

    def _plain_delivery(self, cb: PushCallback) -> Callable[[Message], None]:
        """The core callback for a plain-function ``cb``, called inline for every
        delivery: :meth:`_take` and the ack after ``cb`` made one flat function, chosen
        once for an ordered consumer or not, with what it needs bound to locals. The
        delivery hot path: no method call but ``cb`` and, when asked, the ack.

        The core subscription's ``message_factory`` makes every delivery a
        :class:`JetStreamMessage` (see :meth:`_subscribe`), so none is wrapped here.
        """
        control = self._control
        ordered = self._ordered
        if ordered is not None:
            out_of_order = self._out_of_order

            def deliver_ordered(msg: JetStreamMessage) -> None:
                # friend: the slots the connection filled, read as Message's properties do
                if msg._sub is not self._live:
                    return
                frame = msg._frame  # friend: as above
                # A status (control) message is an HMSG; checked without parsing headers.
                if frame.__class__ is HMsg and header_status(frame.raw_headers) is not None:
                    control(msg)
                    return
                reply = frame.reply or b""
                # OrderedSequence.accept_reply, inlined.
                tokens = reply.split(b".")
                count = len(tokens)
                if count == 9:
                    consumer_seq = int(tokens[6])
                elif count >= 11:
                    consumer_seq = int(tokens[8])
                else:
                    consumer_seq = 0
                if consumer_seq != ordered.consumer_seq + 1:
                    out_of_order(reply)
                    return
                ordered.consumer_seq = consumer_seq
                ordered.last_reply = reply
                cb(msg)

            return cast("Callable[[Message], None]", deliver_ordered)

        auto_ack = self._auto_ack
        publish_ack = self._nc.publish_prebuilt_nowait

        def deliver(msg: JetStreamMessage) -> None:
            if msg._sub is not self._live:  # friend: as in deliver_ordered
                return
            frame = msg._frame  # friend: as above
            if frame.__class__ is HMsg and header_status(frame.raw_headers) is not None:
                control(msg)
                return
            reply = frame.reply or b""
            self._last_reply = reply
            cb(msg)
            # friend: _acked is what is_acked reads
            if auto_ack and reply and msg._acked is None:
                # The server's own ack subject, framed once, as JetStreamMessage.ack
                # sends it.
                publish_ack(reply, ACK_TAIL, _ACK_SIZE)

        return cast("Callable[[Message], None]", deliver)

    async def _on_msg_async(self, msg: Message) -> None:
        jm = self._take(msg)
        if jm is None:
            return
        await self._cb(jm)  # type: ignore[misc]
        if self._auto_ack and not jm.is_acked:
            await jm.ack()

    # ------------------------------------------------------------- recovery

    def arrivals(self) -> int:
        """For :class:`RecoveryWatch`: messages received on the deliver subject."""
        return self._core.delivered if self._core is not None else 0

    def describe(self) -> str:
        """For :class:`RecoveryWatch`."""
        return f"consumer {self._consumer!r} of stream {self._stream!r}"

    def recovery_starting(self) -> None:
        """For :class:`RecoveryWatch`: an ordered consumer's messages are stale from now."""
        if self._ordered is not None:
            self._live = None

    async def recover_once(self) -> None:
        """For :class:`RecoveryWatch`: recreate or replace the consumer."""
        if self._ordered is not None:
            await self._replace_ordered(self._ordered)
        else:
            await self._ensure_consumer()

    async def _ensure_consumer(self) -> None:
        """Create the push consumer again when it is gone, on the same deliver subject."""
        try:
            await self._js.consumer_info(self._stream, self._consumer)
            return
        except ConsumerNotFoundError:
            pass
        cfg = self._config.evolve()
        if self._last_reply:
            start = parse_metadata(self._last_reply.decode()).sequence.stream + 1
            cfg.deliver_policy = DeliverPolicy.BY_START_SEQUENCE
            cfg.opt_start_seq = start
            cfg.opt_start_time = None
        if not cfg.durable_name:
            cfg.name = None
        try:
            info = await self._js.add_consumer(self._stream, cfg)
        except ConsumerExistsError:
            # A peer of the queue group created it first.
            info = await self._js.consumer_info(self._stream, self._consumer)
        self._consumer = info.name
        self.recoveries += 1

    async def _replace_ordered(self, ordered: OrderedSequence) -> None:
        """A new ordered consumer on a new deliver subject, after the last message."""
        old_core, old_consumer = self._core, self._consumer
        deliver = self._nc.new_inbox()
        core = await self._subscribe(deliver)
        cfg = ordered.replacement(
            self._config, deliver_subject=deliver, name=f"{self._name_base}_{self._serial}"
        )
        self._serial += 1
        self._uncertain.add(cfg.name or "")
        # The new consumer delivers as soon as it exists, before its creation is answered.
        self._live = core
        try:
            info = await self._js.add_consumer(self._stream, cfg)
        except BaseException:
            self._live = None
            await core.unsubscribe()
            raise
        self._uncertain.discard(info.name)
        self._config = cfg
        self._consumer = info.name
        self._core = self._live = core
        self.recoveries += 1
        if old_core is not None:
            await old_core.unsubscribe()
        for name in (old_consumer, *self._uncertain):
            await self._delete_consumer(name)
        self._uncertain.clear()

    async def _delete_consumer(self, name: str) -> None:
        with suppress(Exception):
            await self._js.delete_consumer(self._stream, name)
