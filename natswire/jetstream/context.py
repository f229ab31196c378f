"""The JetStream context: publish with acks, pull subscriptions, dead letters."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Any, TypeAlias

from ..client.client import Client
from ..client.errors import NoRespondersError, TimeoutError
from ..client.message import Message
from ..client.subscription import Subscription
from ..protocol.headers import Headers, HeadersLike, encode_headers
from ..protocol.serializer import publish_subject
from .api import ConsumerConfig, DeliverPolicy, Header, PubAck
from .binding import find_or_create, ordered_start
from .deadletter import DeadLetterSubscription
from .errors import (
    ConsumerNotFoundError,
    JetStreamError,
    NoStreamResponseError,
    TooManyStalledMsgsError,
)
from .flow import OrderedSequence
from .kv import KeyValue, bind_key_value
from .kv import create_key_value as _create_key_value
from .kv import delete_key_value as _delete_key_value
from .kv_api import KeyValueConfig, ObjectStoreConfig
from .manager import DEFAULT_PREFIX, JetStreamManager, build_config, check_name
from .object_store import ObjectStore, bind_object_store
from .object_store import create_object_store as _create_object_store
from .object_store import delete_object_store as _delete_object_store
from .ordered import OrderedPullSubscription, ordered_pull_config
from .puback import PublishRetry, parse_pub_ack, plain_pub_ack
from .pull import PullSubscription
from .push import DEFAULT_CHECK_INTERVAL, PushCallback, PushSubscription

#: nats-py's defaults for a pull subscription's pending limits.
DEFAULT_JS_SUB_PENDING_MSGS_LIMIT = 512 * 1024
DEFAULT_JS_SUB_PENDING_BYTES_LIMIT = 256 * 1024 * 1024
DEFAULT_PUBLISH_ASYNC_MAX_PENDING = 4000
DEFAULT_PUBLISH_RETRY_ATTEMPTS = 2
DEFAULT_PUBLISH_RETRY_WAIT = 0.25
#: How often overdue ``publish_async`` acks are looked for.
_ASYNC_SWEEP_INTERVAL = 0.1


def publish_headers(
    headers: HeadersLike | None,
    stream: str | None,
    msg_id: str | None,
    expected_last_seq: int | None,
    expected_last_subject_seq: int | None,
    expected_last_msg_id: str | None,
    msg_ttl: float | None,
) -> Headers | None:
    """The headers of a JetStream publish: the caller's, plus those the keyword options
    of :meth:`JetStreamContext.publish` ask for (``None`` when there are none)."""
    if (
        stream is None
        and msg_id is None
        and expected_last_seq is None
        and expected_last_subject_seq is None
        and expected_last_msg_id is None
        and msg_ttl is None
    ):
        return None if headers is None else Headers(headers)
    hdr = Headers(headers)
    if msg_id is not None:
        hdr[Header.MSG_ID.value] = msg_id
    if stream is not None:
        hdr[Header.EXPECTED_STREAM.value] = stream
    if expected_last_seq is not None:
        hdr[Header.EXPECTED_LAST_SEQUENCE.value] = str(expected_last_seq)
    if expected_last_subject_seq is not None:
        hdr[Header.EXPECTED_LAST_SUBJECT_SEQUENCE.value] = str(expected_last_subject_seq)
    if expected_last_msg_id is not None:
        hdr[Header.EXPECTED_LAST_MSG_ID.value] = expected_last_msg_id
    if msg_ttl is not None:
        # Whole seconds, as nats-py sends it; at least 1 (nats-py's "0" would mean none).
        hdr[Header.MSG_TTL.value] = str(max(1, int(msg_ttl)))
    return hdr


_AsyncEntry: TypeAlias = (
    "tuple[asyncio.Future[PubAck], float, float, Callable[[Exception], None] | None]"
)


def _fail(entry: _AsyncEntry, exc: Exception) -> None:
    """Fail a ``publish_async`` future (and tell its ``on_error``)."""
    future, _, _, on_error = entry
    future.set_exception(exc)
    if on_error is not None:
        future.exception()  # retrieved: on_error reports it
        on_error(exc)


def pull_consumer_config(
    subject: str, durable: str | None, config: ConsumerConfig | None
) -> ConsumerConfig:
    """The consumer a pull subscription on ``subject`` creates: ``config`` (explicit acks
    by default) filtered on ``subject``, durable when named, else ephemeral (a random
    name, removed after 5 idle minutes unless ``config`` says otherwise)."""
    cfg = config.evolve() if config is not None else ConsumerConfig()
    if not cfg.filter_subjects and not cfg.filter_subject:
        cfg.filter_subject = subject
    if durable is not None:
        cfg.name = durable
        cfg.durable_name = durable
    elif cfg.name is None and cfg.durable_name is None:
        cfg.name = secrets.token_hex(11)
        if cfg.inactive_threshold is None:
            cfg.inactive_threshold = 300.0
    return cfg


class JetStreamContext(JetStreamManager):
    """JetStream for one connection: ``nc.jetstream()``.

    It is also a :class:`JetStreamManager`, as in nats-py.
    """

    def __init__(
        self,
        nc: Client,
        prefix: str = DEFAULT_PREFIX,
        domain: str | None = None,
        timeout: float = 5.0,
        publish_async_max_pending: int = DEFAULT_PUBLISH_ASYNC_MAX_PENDING,
        publish_retry_attempts: int = DEFAULT_PUBLISH_RETRY_ATTEMPTS,
        publish_retry_wait: float = DEFAULT_PUBLISH_RETRY_WAIT,
    ) -> None:
        super().__init__(nc, prefix, domain, timeout)
        if publish_async_max_pending < 1:
            raise ValueError("publish_async_max_pending must be at least 1")
        if publish_retry_attempts < 0 or publish_retry_wait < 0:
            raise ValueError("publish retry attempts and wait must not be negative")
        self._max_pending = publish_async_max_pending
        self._retry_attempts = publish_retry_attempts
        self._retry_wait = publish_retry_wait
        self._async_prefix = ""
        self._async_reply_prefix = b""
        self._async_sub: Subscription | None = None
        self._async_next = 0
        # token -> (future, loop time by which its ack must come, the timeout in seconds,
        # the on_error callback or None)
        self._async_futures: dict[bytes, _AsyncEntry] = {}
        self._async_sweeper: asyncio.TimerHandle | None = None
        self._async_room: asyncio.Future[None] | None = None
        self._async_done: asyncio.Event | None = None

    def jsm(self) -> JetStreamManager:
        """The manager: this object."""
        return self

    # ---------------------------------------------------------------- publish

    async def publish(
        self,
        subject: str,
        payload: bytes = b"",
        timeout: float | None = None,
        stream: str | None = None,
        headers: HeadersLike | None = None,
        *,
        msg_id: str | None = None,
        expected_last_seq: int | None = None,
        expected_last_subject_seq: int | None = None,
        expected_last_msg_id: str | None = None,
        msg_ttl: float | None = None,
        retry_attempts: int | None = None,
        retry_wait: float | None = None,
    ) -> PubAck:
        """Publish and wait for the stream's ack.

        ``stream`` sets ``Nats-Expected-Stream``; ``msg_id`` sets ``Nats-Msg-Id`` (the
        stream drops a second message with the same id inside its duplicate window and
        answers ``duplicate=True``). When no stream answers (status 503: no stream, or a
        stream leader being elected) or the stream answers 503, the publish is retried
        ``retry_attempts`` times with a doubling pause from ``retry_wait``. A timeout is
        retried only when the message has an id, which makes the retry safe.
        """
        hdr = publish_headers(
            headers,
            stream,
            msg_id,
            expected_last_seq,
            expected_last_subject_seq,
            expected_last_msg_id,
            msg_ttl,
        )
        timeout = timeout or self._timeout
        # The first attempt, flat: the retry bookkeeping is made only when it fails.
        first: Message | Exception
        try:
            first = await self._nc.request(subject, payload, timeout=timeout, headers=hdr)
        except (NoRespondersError, TimeoutError) as exc:
            first = exc
        else:
            ack = plain_pub_ack(first.data)
            if ack is not None:
                return ack
        has_id = hdr is not None and Header.MSG_ID.value in hdr
        attempts = self._retry_attempts if retry_attempts is None else retry_attempts
        wait = self._retry_wait if retry_wait is None else retry_wait
        retry = PublishRetry(subject, attempts, wait, has_id)
        pauses = retry.pauses()
        next(pauses)  # the first attempt's, made above
        if isinstance(first, NoRespondersError):
            retry.no_responders()
        elif isinstance(first, TimeoutError):
            retry.timed_out(first)
        else:
            ack = retry.answer(first.data)
            if ack is not None:
                return ack
        for pause in pauses:
            await asyncio.sleep(pause)
            try:
                msg = await self._nc.request(subject, payload, timeout=timeout, headers=hdr)
            except NoRespondersError:
                retry.no_responders()
                continue
            except TimeoutError as exc:
                retry.timed_out(exc)
                continue
            ack = retry.answer(msg.data)
            if ack is not None:
                return ack
        raise retry.error()

    async def _start_async(self) -> None:
        self._async_prefix = f"{self._nc.new_inbox()}."
        self._async_reply_prefix = self._async_prefix.encode()
        self._async_done = asyncio.Event()
        self._async_done.set()
        self._async_sub = await self._nc.subscribe(
            self._async_prefix + "*", cb=self._on_async_reply
        )

    def _on_async_reply(self, msg: Message) -> None:
        token = msg.frame.subject[len(self._async_reply_prefix) :]
        entry = self._async_futures.pop(token, None)
        if entry is None:
            return
        future = entry[0]
        if not future.done():
            if msg.status == 503:
                _fail(entry, NoStreamResponseError(503, None, "no stream answered the publish"))
            else:
                try:
                    future.set_result(parse_pub_ack(msg.data))
                except JetStreamError as exc:
                    _fail(entry, exc)
        self._async_settled()

    def _sweep_async(self) -> None:
        """Fail the publishes whose ack is overdue; one timer for all of them, not one
        per publish (an ack may so fail up to ``_ASYNC_SWEEP_INTERVAL`` late)."""
        self._async_sweeper = None
        now = asyncio.get_running_loop().time()
        overdue = [
            token for token, (_, deadline, _, _) in self._async_futures.items() if deadline <= now
        ]
        for token in overdue:
            entry = self._async_futures.pop(token)
            if not entry[0].done():
                _fail(entry, TimeoutError(f"no ack for the publish within {entry[2]} s"))
        if overdue:
            self._async_settled()
        self._arm_sweeper()

    def _arm_sweeper(self) -> None:
        if self._async_futures and self._async_sweeper is None:
            self._async_sweeper = asyncio.get_running_loop().call_later(
                _ASYNC_SWEEP_INTERVAL, self._sweep_async
            )

    def _async_settled(self) -> None:
        room = self._async_room
        if room is not None and len(self._async_futures) < self._max_pending:
            self._async_room = None
            if not room.done():
                room.set_result(None)
        if not self._async_futures and self._async_done is not None:
            self._async_done.set()

    async def publish_async(
        self,
        subject: str,
        payload: bytes = b"",
        wait_stall: float | None = None,
        stream: str | None = None,
        headers: HeadersLike | None = None,
        *,
        msg_id: str | None = None,
        expected_last_seq: int | None = None,
        expected_last_subject_seq: int | None = None,
        expected_last_msg_id: str | None = None,
        msg_ttl: float | None = None,
        timeout: float | None = None,
    ) -> asyncio.Future[PubAck]:
        """Publish without waiting for the ack; return a future of it.

        At most ``publish_async_max_pending`` acks are outstanding: past that the call
        waits for room, up to ``wait_stall`` seconds (for ever when ``None``), then
        raises :class:`TooManyStalledMsgsError`. An ack that does not come within
        ``timeout`` (the context's timeout) fails its future with ``TimeoutError``.
        Nothing is retried: a failed future's message may or may not be stored.
        """
        hdr = publish_headers(
            headers,
            stream,
            msg_id,
            expected_last_seq,
            expected_last_subject_seq,
            expected_last_msg_id,
            msg_ttl,
        )
        subject_bytes = publish_subject(subject)
        if payload.__class__ is not bytes:
            if not isinstance(payload, (bytes, bytearray, memoryview)):
                raise TypeError(
                    f"payload must be bytes, bytearray or memoryview, not {type(payload).__name__}"
                )
            payload = bytes(payload)
        raw = None if hdr is None else encode_headers(hdr)
        return await self.publish_async_encoded(subject_bytes, payload, raw, wait_stall, timeout)

    async def publish_async_encoded(
        self,
        subject: bytes,
        payload: bytes,
        raw_headers: bytes | None = None,
        wait_stall: float | None = None,
        timeout: float | None = None,
        on_error: Callable[[Exception], None] | None = None,
    ) -> asyncio.Future[PubAck]:
        """:meth:`publish_async` for natswire's own layers: ``subject`` already validated
        (:func:`~natswire.protocol.serializer.publish_subject`) and the headers already
        encoded (:func:`~natswire.protocol.encode_headers`, or ``None``).

        ``on_error(exc)``, when given, is called at once when the future fails (its
        exception then counts as retrieved), so a caller that only reports failures
        needs no done-callback on every future."""
        if self._async_sub is None:
            await self._start_async()
        loop = asyncio.get_running_loop()
        while len(self._async_futures) >= self._max_pending:
            room = self._async_room
            if room is None or room.done():
                room = self._async_room = loop.create_future()
            try:
                await asyncio.wait_for(asyncio.shield(room), wait_stall)
            except asyncio.TimeoutError:
                raise TooManyStalledMsgsError(
                    f"{len(self._async_futures)} publish acks outstanding for {wait_stall} s"
                ) from None
        self._async_next += 1
        token = b"%x" % self._async_next
        timeout = timeout or self._timeout
        future: asyncio.Future[PubAck] = loop.create_future()
        self._async_futures[token] = (future, loop.time() + timeout, timeout, on_error)
        if self._async_sweeper is None:
            self._arm_sweeper()
        assert self._async_done is not None
        self._async_done.clear()
        try:
            # The reply is this context's own inbox: no validation needed.
            await self._nc.publish_trusted(
                subject, payload, self._async_reply_prefix + token, raw_headers
            )
        except BaseException:
            self._async_futures.pop(token, None)
            future.cancel()
            self._async_settled()
            raise
        return future

    def publish_async_pending(self) -> int:
        """Acks still outstanding."""
        return len(self._async_futures)

    async def publish_async_completed(self, timeout: float | None = None) -> None:
        """Wait until every ``publish_async`` future is settled (acked or failed)."""
        if self._async_done is None or self._async_done.is_set():
            return
        try:
            await asyncio.wait_for(self._async_done.wait(), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(
                f"{len(self._async_futures)} publish acks still outstanding after {timeout} s"
            ) from None

    # ---------------------------------------------------------- pull consumers

    async def pull_subscribe(
        self,
        subject: str,
        durable: str | None = None,
        stream: str | None = None,
        config: ConsumerConfig | None = None,
        pending_msgs_limit: int = DEFAULT_JS_SUB_PENDING_MSGS_LIMIT,
        pending_bytes_limit: int = DEFAULT_JS_SUB_PENDING_BYTES_LIMIT,
        inbox_prefix: str | None = None,
    ) -> PullSubscription:
        """Bind to (creating when needed) a pull consumer filtered on ``subject``.

        The stream is looked up by subject when not given. A durable consumer that
        exists is used as it is; otherwise one is created from ``config`` (explicit
        acks by default) with ``filter_subject=subject``.
        """
        if stream is None:
            stream = await self.find_stream_name_by_subject(subject)
        if durable is not None:
            check_name("consumer", durable)
            try:
                await self.consumer_info(stream, durable)
            except ConsumerNotFoundError:
                pass
            else:
                return await self.pull_subscribe_bind(
                    durable, stream, inbox_prefix, pending_msgs_limit, pending_bytes_limit
                )
        info = await self.add_consumer(stream, pull_consumer_config(subject, durable, config))
        return await self.pull_subscribe_bind(
            info.name, stream, inbox_prefix, pending_msgs_limit, pending_bytes_limit
        )

    async def pull_subscribe_bind(
        self,
        consumer: str | None = None,
        stream: str | None = None,
        inbox_prefix: str | None = None,
        pending_msgs_limit: int = DEFAULT_JS_SUB_PENDING_MSGS_LIMIT,
        pending_bytes_limit: int = DEFAULT_JS_SUB_PENDING_BYTES_LIMIT,
        name: str | None = None,
        durable: str | None = None,
    ) -> PullSubscription:
        """Pull from the existing consumer of ``stream`` named ``consumer`` (or, with
        nats-py's other keywords, ``name`` or ``durable``)."""
        durable = consumer or name or durable
        if stream is None:
            raise ValueError("pull_subscribe_bind needs stream")
        check_name("stream", stream)
        check_name("consumer", durable)
        assert durable is not None
        if inbox_prefix:
            inbox = f"{inbox_prefix.rstrip('.')}.{secrets.token_hex(11)}"
        else:
            inbox = self._nc.new_inbox()
        sub = await self._nc.subscribe(
            inbox + ".*",
            pending_msgs_limit=pending_msgs_limit,
            pending_bytes_limit=pending_bytes_limit,
        )
        return PullSubscription(self, sub, inbox, stream, durable)

    # ---------------------------------------------------------- push consumers

    async def subscribe(
        self,
        subject: str,
        queue: str | None = None,
        cb: PushCallback | None = None,
        durable: str | None = None,
        stream: str | None = None,
        config: ConsumerConfig | None = None,
        manual_ack: bool = False,
        ordered_consumer: bool = False,
        idle_heartbeat: float | None = None,
        flow_control: bool = False,
        pending_msgs_limit: int = DEFAULT_JS_SUB_PENDING_MSGS_LIMIT,
        pending_bytes_limit: int = DEFAULT_JS_SUB_PENDING_BYTES_LIMIT,
        deliver_policy: DeliverPolicy | None = None,
        headers_only: bool | None = None,
        inactive_threshold: float | None = None,
    ) -> PushSubscription:
        """Bind to (creating when needed) a push consumer filtered on ``subject``.

        ``queue`` makes it a queue-group consumer (deliver group); ``ordered_consumer``
        an ordered one (ADR-17: every stream message once, in order, recreated after a
        gap, missed heartbeats, a reconnect or its deletion). Without ``cb``, read it
        with ``next_msg`` or ``async for``; with ``cb`` and not ``manual_ack``, each
        message is acked after ``cb`` returns. See :class:`PushSubscription`.
        """
        if stream is None:
            stream = await self.find_stream_name_by_subject(subject)
        check_name("stream", stream)
        consumer, cfg, start = await find_or_create(
            self, subject, stream, queue, durable, config, ordered_consumer,
            idle_heartbeat, flow_control, deliver_policy, headers_only, inactive_threshold,
        )  # fmt: skip
        return await self._bind_push(
            stream, cfg, consumer, cb, manual_ack, ordered_consumer,
            (pending_msgs_limit, pending_bytes_limit), idle_heartbeat, start,
        )  # fmt: skip

    async def subscribe_bind(
        self,
        stream: str,
        config: ConsumerConfig,
        consumer: str | None = None,
        cb: PushCallback | None = None,
        manual_ack: bool = False,
        ordered_consumer: bool = False,
        pending_msgs_limit: int = DEFAULT_JS_SUB_PENDING_MSGS_LIMIT,
        pending_bytes_limit: int = DEFAULT_JS_SUB_PENDING_BYTES_LIMIT,
    ) -> PushSubscription:
        """Push-subscribe to the existing consumer ``consumer`` (its ``config`` carries
        the deliver subject and group)."""
        check_name("stream", stream)
        name = consumer or config.name or config.durable_name
        if not name:
            raise TypeError("cannot detect consumer: give consumer= or a named config")
        start = config.opt_start_seq or 0
        if ordered_consumer and not start:
            # Where it starts, known while it has delivered nothing (see ordered_start).
            info = await self.consumer_info(stream, name)
            if not (info.delivered and info.delivered.consumer_seq):
                start = ordered_start(info.config, info)
        return await self._bind_push(
            stream, config, name, cb, manual_ack, ordered_consumer,
            (pending_msgs_limit, pending_bytes_limit), None, start,
        )  # fmt: skip

    async def _bind_push(
        self,
        stream: str,
        config: ConsumerConfig,
        consumer: str,
        cb: PushCallback | None,
        manual_ack: bool,
        ordered: bool,
        pending_limits: tuple[int, int],
        check_interval: float | None,
        start_seq: int,
    ) -> PushSubscription:
        if config.deliver_subject is None:
            raise TypeError("config.deliver_subject is required")
        sequence = OrderedSequence(start_seq) if ordered else None
        sub = PushSubscription(
            self, stream, consumer, config, cb, manual_ack, sequence, pending_limits,
            check_interval or DEFAULT_CHECK_INTERVAL,
        )  # fmt: skip
        await sub.start()
        return sub

    async def ordered_pull(
        self,
        subject: str,
        stream: str | None = None,
        deliver_policy: DeliverPolicy | None = None,
        opt_start_seq: int | None = None,
        headers_only: bool | None = None,
    ) -> OrderedPullSubscription:
        """The ordered consumer (ADR-17) in pull form: every stream message on ``subject``
        once, in order, with ``fetch`` or ``async for``; see :class:`OrderedPullSubscription`.
        ``opt_start_seq`` starts at that stream sequence."""
        if stream is None:
            stream = await self.find_stream_name_by_subject(subject)
        check_name("stream", stream)
        sub = OrderedPullSubscription(
            self, stream, ordered_pull_config(subject, deliver_policy, headers_only),
            opt_start_seq or 0,
        )  # fmt: skip
        await sub.start()
        return sub

    # ------------------------------------------------------------ dead letters

    async def dead_letters(
        self,
        stream: str,
        consumer: str = "*",
        cb: Callable[[Any], Any] | None = None,
    ) -> DeadLetterSubscription:
        """Watch a consumer's (``"*"``: every consumer's) MAX_DELIVERIES and
        MSG_TERMINATED advisories. See :class:`DeadLetterSubscription`."""
        check_name("stream", stream)
        if consumer != "*":
            check_name("consumer", consumer)
        watcher = DeadLetterSubscription(self, stream, consumer, cb)
        await watcher.start()
        return watcher

    # ---------------------------------------------------------- key-value store

    async def key_value(self, bucket: str) -> KeyValue:
        """The Key-Value bucket ``bucket``; raises :class:`BucketNotFoundError`."""
        return await bind_key_value(self, bucket)

    async def create_key_value(
        self, config: KeyValueConfig | None = None, **params: Any
    ) -> KeyValue:
        """Create a Key-Value bucket (``bucket=``, ``history=``, ``ttl=``, ... or a
        :class:`KeyValueConfig`); see :class:`natswire.jetstream.kv.KeyValue`."""
        return await _create_key_value(self, build_config(KeyValueConfig, config, params))

    async def delete_key_value(self, bucket: str) -> bool:
        """Delete the Key-Value bucket ``bucket`` and everything in it."""
        return await _delete_key_value(self, bucket)

    # ------------------------------------------------------------- object store

    async def object_store(self, bucket: str) -> ObjectStore:
        """The Object Store bucket ``bucket``; raises :class:`BucketNotFoundError`."""
        return await bind_object_store(self, bucket)

    async def create_object_store(
        self, bucket: str | None = None, config: ObjectStoreConfig | None = None, **params: Any
    ) -> ObjectStore:
        """Create an Object Store bucket (``bucket``, or a :class:`ObjectStoreConfig`)."""
        if config is None:
            config = ObjectStoreConfig(bucket=bucket)
        elif bucket is not None:
            params["bucket"] = bucket
        return await _create_object_store(self, build_config(ObjectStoreConfig, config, params))

    async def delete_object_store(self, bucket: str) -> bool:
        """Delete the Object Store bucket ``bucket`` and every object in it."""
        return await _delete_object_store(self, bucket)


# nats-py names what ``subscribe`` returns ``JetStreamContext.PushSubscription``; set
# after the class so the name inside it still means the type.
JetStreamContext.PushSubscription = PushSubscription  # type: ignore[attr-defined]
