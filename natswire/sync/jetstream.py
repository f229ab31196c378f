"""JetStream for the blocking client: publish with acks, pull subscriptions with
``fetch``, the ack protocol, and the stream and consumer calls they need.

The API's dataclasses, request bodies, answers and errors are the asyncio JetStream's
(:mod:`natswire.jetstream`); only the waiting is blocking here.
"""

from __future__ import annotations

import json
import time
from time import monotonic
from typing import TYPE_CHECKING, Any

from ..client.errors import NoRespondersError, TimeoutError
from ..jetstream.api import ConsumerConfig, ConsumerInfo, Header, PubAck, StreamConfig, StreamInfo
from ..jetstream.context import (
    DEFAULT_PUBLISH_RETRY_ATTEMPTS,
    DEFAULT_PUBLISH_RETRY_WAIT,
    publish_headers,
    pull_consumer_config,
)
from ..jetstream.errors import (
    APIError,
    ConsumerNotFoundError,
    NoHeartbeatError,
    ServiceUnavailableError,
    StreamNotFoundError,
    decode_response,
)
from ..jetstream.manager import (
    DEFAULT_PREFIX,
    api_prefix,
    build_config,
    check_name,
    consumer_create,
)
from ..jetstream.puback import PublishRetry
from ..jetstream.pull import expires_for, final_409, no_responders, pull_request
from ..protocol.headers import HeadersLike
from .jsmessage import JetStreamMessage
from .message import Message
from .subscription import Subscription

if TYPE_CHECKING:
    from .client import Client

_RETRY_PAUSE = 0.05

__all__ = ["JetStreamContext", "JetStreamMessage", "PullSubscription"]


class JetStreamContext:
    """JetStream over a blocking client: ``nc.jetstream()``."""

    def __init__(
        self,
        nc: Client,
        prefix: str = DEFAULT_PREFIX,
        domain: str | None = None,
        timeout: float = 5.0,
        publish_retry_attempts: int = DEFAULT_PUBLISH_RETRY_ATTEMPTS,
        publish_retry_wait: float = DEFAULT_PUBLISH_RETRY_WAIT,
    ) -> None:
        if not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ValueError(f"timeout must be a positive number, got {timeout!r}")
        self._nc = nc
        self.prefix = api_prefix(prefix, domain)
        self.timeout = float(timeout)
        self._retry_attempts = publish_retry_attempts
        self._retry_wait = publish_retry_wait

    @property
    def client(self) -> Client:
        return self._nc

    def _api(
        self, api: str, body: dict[str, Any] | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        subject = f"{self.prefix}.{api}"
        data = b"" if body is None else json.dumps(body).encode()
        try:
            msg = self._nc.request(subject, data, timeout=timeout or self.timeout)
        except NoRespondersError:
            raise ServiceUnavailableError(
                503,
                None,
                f"no responders on {subject!r}: JetStream is not enabled or has no leader",
            ) from None
        return decode_response(msg.data, f"JetStream API {subject!r}")

    # ---------------------------------------------------------- streams, consumers

    def add_stream(self, config: StreamConfig | None = None, **params: Any) -> StreamInfo:
        """Create a stream (``add_stream(name="s", subjects=["s.>"])`` or a config)."""
        cfg = build_config(StreamConfig, config, params)
        name = check_name("stream", cfg.name)
        return StreamInfo.from_response(self._api(f"STREAM.CREATE.{name}", cfg.as_request()))

    def stream_info(self, name: str) -> StreamInfo:
        check_name("stream", name)
        return StreamInfo.from_response(self._api(f"STREAM.INFO.{name}"))

    def delete_stream(self, name: str) -> bool:
        check_name("stream", name)
        return bool(self._api(f"STREAM.DELETE.{name}").get("success"))

    def find_stream_name_by_subject(self, subject: str) -> str:
        """The stream that stores ``subject``; :class:`StreamNotFoundError` if none."""
        names = self._api("STREAM.NAMES", {"subject": subject}).get("streams") or []
        if not names:
            raise StreamNotFoundError(404, 10059, f"no stream matches subject {subject!r}")
        return str(names[0])

    def add_consumer(
        self, stream: str, config: ConsumerConfig | None = None, **params: Any
    ) -> ConsumerInfo:
        """Create (or update to the same configuration) a consumer on ``stream``."""
        api, body = consumer_create(stream, config, params)
        return ConsumerInfo.from_response(self._api(api, body))

    def consumer_info(self, stream: str, consumer: str) -> ConsumerInfo:
        check_name("stream", stream)
        check_name("consumer", consumer)
        return ConsumerInfo.from_response(self._api(f"CONSUMER.INFO.{stream}.{consumer}"))

    def delete_consumer(self, stream: str, consumer: str) -> bool:
        check_name("stream", stream)
        check_name("consumer", consumer)
        return bool(self._api(f"CONSUMER.DELETE.{stream}.{consumer}").get("success"))

    # ------------------------------------------------------------------ publish

    def publish(
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
        """Publish and wait for the stream's ack (as
        :meth:`natswire.jetstream.JetStreamContext.publish`: retried when no stream
        answers, and after a timeout only when the message has an id)."""
        hdr = publish_headers(
            headers,
            stream,
            msg_id,
            expected_last_seq,
            expected_last_subject_seq,
            expected_last_msg_id,
            msg_ttl,
        )
        has_id = hdr is not None and Header.MSG_ID.value in hdr
        timeout = timeout or self.timeout
        attempts = self._retry_attempts if retry_attempts is None else retry_attempts
        wait = self._retry_wait if retry_wait is None else retry_wait
        retry = PublishRetry(subject, attempts, wait, has_id)
        for pause in retry.pauses():
            if pause:
                time.sleep(pause)
            try:
                msg = self._nc.request(subject, payload, timeout=timeout, headers=hdr)
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

    # ---------------------------------------------------------- pull consumers

    def pull_subscribe(
        self,
        subject: str,
        durable: str | None = None,
        stream: str | None = None,
        config: ConsumerConfig | None = None,
    ) -> PullSubscription:
        """Bind to (creating when needed) a pull consumer filtered on ``subject``."""
        if stream is None:
            stream = self.find_stream_name_by_subject(subject)
        if durable is not None:
            check_name("consumer", durable)
            try:
                self.consumer_info(stream, durable)
            except ConsumerNotFoundError:
                pass
            else:
                return self.pull_subscribe_bind(durable, stream)
        info = self.add_consumer(stream, pull_consumer_config(subject, durable, config))
        return self.pull_subscribe_bind(info.name, stream)

    def pull_subscribe_bind(self, durable: str, stream: str) -> PullSubscription:
        """Pull from an existing consumer ``durable`` (any consumer name) of ``stream``."""
        check_name("stream", stream)
        check_name("consumer", durable)
        inbox = self._nc.new_inbox()
        sub = self._nc.subscribe(inbox + ".*")
        return PullSubscription(self, sub, inbox, stream, durable)


class PullSubscription:
    """A pull consumer bound to a subscription of the blocking client."""

    def __init__(
        self, js: JetStreamContext, sub: Subscription, inbox: str, stream: str, consumer: str
    ) -> None:
        self._js = js
        self._nc = js.client
        self._sub = sub
        self._inbox = inbox
        self.stream = stream
        self.consumer = consumer
        self._next_subject = f"{js.prefix}.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._request_id = 0

    def __repr__(self) -> str:
        return f"<PullSubscription stream={self.stream!r} consumer={self.consumer!r}>"

    def consumer_info(self) -> ConsumerInfo:
        return self._js.consumer_info(self.stream, self.consumer)

    def unsubscribe(self) -> None:
        """Stop receiving; the consumer itself stays."""
        self._sub.unsubscribe()

    def _pull(
        self, batch: int, expires: float | None = None, heartbeat: float | None = None
    ) -> str:
        self._request_id += 1
        reply = f"{self._inbox}.{self._request_id}"
        body = pull_request(batch, expires, heartbeat, no_wait=expires is None)
        self._nc.publish(self._next_subject, body, reply)
        return reply

    def fetch(
        self, batch: int = 1, timeout: float | None = 5.0, heartbeat: float | None = None
    ) -> list[JetStreamMessage]:
        """Up to ``batch`` messages within ``timeout`` seconds (as the asyncio
        ``fetch``): what is there at once, else the first to come and what follows it
        until the timeout. Raises :class:`natswire.errors.TimeoutError` when none came."""
        if not isinstance(batch, int) or batch < 1:
            raise ValueError(f"batch must be a positive int, got {batch!r}")
        timeout = 5.0 if timeout is None else timeout
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout!r}")
        if heartbeat is not None and (heartbeat <= 0 or heartbeat * 2 > expires_for(timeout)):
            raise ValueError(
                f"heartbeat must be positive and at most half the timeout, got {heartbeat!r}"
            )
        deadline = monotonic() + timeout
        msgs: list[JetStreamMessage] = []
        while self._sub.pending_msgs and len(msgs) < batch:
            msg = self._sub.next_msg(0)
            if msg.status is None:
                msgs.append(self._wrap(msg))
        if len(msgs) >= batch:
            return msgs
        self._collect(self._pull(batch - len(msgs)), batch, msgs, deadline, None)
        while not msgs:
            remaining = deadline - monotonic()
            if remaining <= 0.001:
                break
            reply = self._pull(batch, expires_for(remaining), heartbeat)
            if self._collect(reply, batch, msgs, deadline, heartbeat) or msgs:
                break
            time.sleep(_RETRY_PAUSE)
        if not msgs:
            raise TimeoutError(
                f"no message from consumer {self.consumer!r} of stream {self.stream!r} "
                f"within {timeout} s"
            )
        return msgs

    def _wrap(self, msg: Message) -> JetStreamMessage:
        return JetStreamMessage.received_by(msg.frame, self._nc)

    def _collect(
        self,
        reply: str,
        batch: int,
        msgs: list[JetStreamMessage],
        deadline: float,
        heartbeat: float | None,
    ) -> bool:
        """Take messages for the request on ``reply`` until the batch is full, the
        request ends or the deadline passes; whether it is over for good."""
        while len(msgs) < batch:
            wait = deadline - monotonic()
            if heartbeat:
                wait = min(wait, heartbeat * 2)
            try:
                msg = self._sub.next_msg(max(wait, 0.0))
            except TimeoutError:
                if heartbeat and monotonic() < deadline - 0.001 and not msgs:
                    raise NoHeartbeatError(
                        f"no idle heartbeat from consumer {self.consumer!r} for {heartbeat * 2} s"
                    ) from None
                return True
            status = msg.status
            if status is None:
                msgs.append(self._wrap(msg))
                continue
            if status == 100:
                self._heartbeat(msg)
                continue
            if msg.subject != reply:
                continue  # a status for an earlier request
            if status in (404, 408):
                return status == 408
            if status == 503:
                if msgs:
                    return True
                raise no_responders(self.stream, self.consumer)
            headers = msg.headers
            description = headers.description if headers is not None else ""
            if status != 409:
                raise APIError(status, None, description or f"pull request failed ({status})")
            error = final_409(description, self.stream, self.consumer)
            if error is None:
                return "batch completed" in description.lower()
            if msgs:
                return True
            raise error
        return True

    def _heartbeat(self, msg: Message) -> None:
        headers = msg.headers
        stalled = headers.get(Header.CONSUMER_STALLED.value) if headers is not None else None
        if stalled:
            self._nc.publish(stalled, b"")
        if msg.reply:
            self._nc.publish(msg.reply, b"")
