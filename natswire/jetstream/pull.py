"""Pull consumers: ``fetch`` in batches and ``consume`` as an async iterator.

A pull subscription listens on ``<inbox>.*``; each pull request (to
``$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>``) gets its own reply subject
``<inbox>.<n>``. Messages arrive with their own subjects; status messages (404 no
messages, 408 request expired, 409 conflicts, 100 idle heartbeat) arrive on the
request's reply subject, so a status left over from an earlier request is recognised
and ignored, while a message delivered late for an earlier request is kept.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

from ..client.errors import TimeoutError
from ..client.message import Message
from ..client.subscription import Subscription
from .api import ConsumerInfo, Header
from .errors import (
    APIError,
    ConsumerDeletedError,
    FetchTimeoutError,
    JetStreamError,
    NoHeartbeatError,
    ServiceUnavailableError,
)
from .message import JetStreamMessage, delivered_message_factory

if TYPE_CHECKING:
    from .context import JetStreamContext

_NANOS = 1_000_000_000
#: 409 descriptions after which pulling again cannot help.
_PERMANENT_409 = (
    "exceeded maxrequestbatch",
    "exceeded maxrequestexpires",
    "exceeded maxrequestmaxbytes",
    "message size exceeds maxbytes",
    "consumer is push based",
)
_RETRY_PAUSE = 0.05
_UNANSWERED_PAUSE = 0.25


def expires_for(timeout: float) -> float:
    """The server-side expiry of a pull request, a little shorter than the client wait,
    so the 408 that ends it normally arrives before the client gives up."""
    return timeout * 0.9 if timeout < 1.0 else timeout - 0.1


def pull_request(
    batch: int,
    expires: float | None = None,
    heartbeat: float | None = None,
    no_wait: bool = False,
) -> bytes:
    """The body of a pull request (``CONSUMER.MSG.NEXT``); times in seconds."""
    body: dict[str, Any] = {"batch": batch}
    if expires:
        body["expires"] = int(expires * _NANOS)
    if heartbeat:
        body["idle_heartbeat"] = int(heartbeat * _NANOS)
    if no_wait:
        body["no_wait"] = True
    return json.dumps(body).encode()


def final_409(description: str, stream: str, consumer: str) -> JetStreamError | None:
    """The error a 409 status ends pulling from ``consumer`` of ``stream`` with, or
    ``None`` when pulling again may help."""
    lowered = description.lower()
    if "consumer deleted" in lowered:
        return ConsumerDeletedError(f"consumer {consumer!r} of stream {stream!r} was deleted")
    if lowered.startswith(_PERMANENT_409):
        return APIError(409, None, description)
    return None


def no_responders(stream: str, consumer: str) -> ServiceUnavailableError:
    """The error for a pull request nobody answered (status 503)."""
    return ServiceUnavailableError(
        503,
        None,
        f"no responders for a pull request to consumer {consumer!r} of stream {stream!r}: "
        "it does not exist, or its leader is being elected",
    )


def _description(msg: Message) -> str:
    """The text of a status message (``""`` without one)."""
    return msg.headers.description if msg.headers is not None else ""


class PullSubscription:
    """A pull consumer bound to a subscription of this client."""

    def __init__(
        self,
        js: JetStreamContext,
        sub: Subscription,
        inbox: str,
        stream: str,
        consumer: str,
    ) -> None:
        self._js = js
        self._nc = js.client
        self._sub = sub
        self._inbox = inbox
        self._stream = stream
        self._consumer = consumer
        self._next_subject = f"{js.prefix}.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._request_id = 0
        # Deliveries are JetStream messages from the start (no pull request is out yet).
        sub.message_factory = delivered_message_factory(self._nc)

    def __repr__(self) -> str:
        return f"<PullSubscription stream={self._stream!r} consumer={self._consumer!r}>"

    @property
    def stream(self) -> str:
        return self._stream

    @property
    def consumer(self) -> str:
        """The consumer's name (the durable name for a durable consumer)."""
        return self._consumer

    @property
    def pending_msgs(self) -> int:
        """Delivered messages not yet handed out by ``fetch`` or ``consume``."""
        return self._sub.pending_msgs

    @property
    def pending_bytes(self) -> int:
        """Payload bytes of the messages counted by :attr:`pending_msgs`."""
        return self._sub.pending_bytes

    @property
    def delivered(self) -> int:
        return self._sub.delivered

    async def consumer_info(self) -> ConsumerInfo:
        return await self._js.consumer_info(self._stream, self._consumer)

    async def unsubscribe(self) -> None:
        """Stop receiving; the consumer itself stays (delete it with ``delete_consumer``)."""
        await self._sub.unsubscribe()

    # ---------------------------------------------------------------- internals

    async def _pull(
        self,
        batch: int,
        expires: float | None = None,
        heartbeat: float | None = None,
        no_wait: bool = False,
    ) -> str:
        self._request_id += 1
        reply = f"{self._inbox}.{self._request_id}"
        body = pull_request(batch, expires, heartbeat, no_wait)
        await self._nc.publish(self._next_subject, body, reply)
        return reply

    def _wrap(self, msg: Message) -> JetStreamMessage:
        if isinstance(msg, JetStreamMessage):
            return msg
        return JetStreamMessage.from_message(self._nc, msg)

    async def _heartbeat(self, msg: Message) -> None:
        """An idle heartbeat or flow-control message: answer what needs an answer."""
        headers = msg.headers
        stalled = headers.get(Header.CONSUMER_STALLED.value) if headers is not None else None
        if stalled:
            await self._nc.publish(stalled, b"")
        if msg.reply:
            await self._nc.publish(msg.reply, b"")

    async def _receive(self, timeout: float) -> Message:
        if timeout <= 0:
            if self._sub.pending_msgs:
                return await self._sub.next_msg(None)
            raise TimeoutError("pull request time is up")
        return await self._sub.next_msg(timeout)

    # -------------------------------------------------------------------- fetch

    async def fetch(
        self,
        batch: int = 1,
        timeout: float | None = 5.0,
        heartbeat: float | None = None,
    ) -> list[JetStreamMessage]:
        """Up to ``batch`` messages within ``timeout`` seconds.

        Messages already available come back at once; when none are, the call waits
        for the first, then for the rest of the batch until the timeout. Raises
        :class:`natswire.errors.TimeoutError` when none came, :class:`NoHeartbeatError`
        when ``heartbeat`` was asked for and two went missing,
        :class:`ConsumerDeletedError` when the consumer went away,
        :class:`ServiceUnavailableError` (as nats-py) when no server answered the pull
        (503: the consumer does not exist, or a failover is electing its leader).
        """
        if not isinstance(batch, int) or batch < 1:
            raise ValueError(f"batch must be a positive int, got {batch!r}")
        if timeout is None:
            timeout = 5.0
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout!r}")
        expires = expires_for(timeout)
        if heartbeat is not None and (heartbeat <= 0 or heartbeat * 2 > expires):
            raise ValueError(
                f"heartbeat must be positive and at most half the timeout, got {heartbeat!r}"
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        msgs: list[JetStreamMessage] = []
        # Deliveries left over from earlier requests (their statuses are stale).
        take = self._sub.next_msg_nowait
        while len(msgs) < batch:
            left = take()
            if left is None:
                break
            if left.status is None:
                msgs.append(self._wrap(left))
        if len(msgs) >= batch:
            return msgs
        # What is there right now, without waiting.
        reply = await self._pull(batch - len(msgs), no_wait=True)
        await self._collect(reply, batch, msgs, deadline, None)
        if msgs:
            return msgs
        # Nothing: one waiting request, pulled again after a transient 409.
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0.001:
                break
            reply = await self._pull(batch, expires_for(remaining), heartbeat)
            done = await self._collect(reply, batch, msgs, deadline, heartbeat)
            if msgs or done:
                break
            await asyncio.sleep(_RETRY_PAUSE)
        if not msgs:
            raise FetchTimeoutError(
                f"no message from consumer {self._consumer!r} of stream {self._stream!r} "
                f"within {timeout} s"
            )
        return msgs

    async def _collect(
        self,
        reply: str,
        batch: int,
        msgs: list[JetStreamMessage],
        deadline: float,
        heartbeat: float | None,
    ) -> bool:
        """Take messages for the request on ``reply`` until the batch is full, the
        request ends or the deadline passes. Returns whether the request is over for good
        (no point in pulling again before the deadline)."""
        loop = asyncio.get_running_loop()
        take = self._sub.next_msg_nowait
        wrap = self._wrap
        append = msgs.append
        while len(msgs) < batch:
            # A message already here is taken with one plain call, no wait.
            msg = take()
            if msg is None:
                wait = deadline - loop.time()
                if heartbeat:
                    wait = min(wait, heartbeat * 2)
                try:
                    msg = await self._receive(wait)
                except TimeoutError:
                    if heartbeat and loop.time() < deadline - 0.001:
                        if msgs:
                            return True
                        raise NoHeartbeatError(
                            f"no idle heartbeat from consumer {self._consumer!r} "
                            f"for {heartbeat * 2} s"
                        ) from None
                    return True
            status = msg.status
            if status is None:
                append(msg if msg.__class__ is JetStreamMessage else wrap(msg))
                continue
            if status == 100:
                await self._heartbeat(msg)
                continue
            if msg.subject != reply:
                continue  # a status for an earlier request
            if status in (404, 408):
                return status == 408
            if status == 503:
                if msgs:
                    return True
                raise no_responders(self._stream, self._consumer)
            description = _description(msg)
            if status != 409:
                raise APIError(status, None, description or f"pull request failed ({status})")
            error = self._final_409(description)
            if error is None:
                return "batch completed" in description.lower()
            if msgs:
                return True
            raise error
        return True

    def _final_409(self, description: str) -> JetStreamError | None:
        return final_409(description, self._stream, self._consumer)

    # ------------------------------------------------------------------ consume

    async def consume(
        self,
        batch: int = 100,
        expires: float = 30.0,
        heartbeat: float | None = None,
        threshold: int | None = None,
        *,
        wait_for_leader: bool = True,
    ) -> AsyncGenerator[JetStreamMessage, None]:
        """Yield messages for ever, pulling ``batch`` at a time.

        A new pull goes out when fewer than ``threshold`` (half the batch) requested
        messages are still to come, so the next batch is on its way while this one is
        processed. Idle heartbeats (``heartbeat``, default a quarter of ``expires``, at
        most 5 s) detect requests lost to a reconnect: after two missed, it pulls again.
        A pull nobody answers (status 503: the consumer's leader is being elected, or
        the consumer is gone) is repeated for two heartbeat intervals, then raises
        :class:`ServiceUnavailableError` (at once with ``wait_for_leader=False``).
        Raises :class:`ConsumerDeletedError` when the consumer is deleted; ends when
        the subscription is unsubscribed.
        """
        if not isinstance(batch, int) or batch < 1:
            raise ValueError(f"batch must be a positive int, got {batch!r}")
        if expires <= 0:
            raise ValueError(f"expires must be positive, got {expires!r}")
        if heartbeat is None:
            heartbeat = min(5.0, expires / 4)
        if heartbeat <= 0 or heartbeat * 2 > expires:
            raise ValueError(
                f"heartbeat must be positive and at most half of expires, got {heartbeat!r}"
            )
        if threshold is None:
            threshold = batch // 2
        loop = asyncio.get_running_loop()
        requests: dict[str, int] = {}  # reply subject -> messages still to come
        last_activity = loop.time()
        unanswered_since: float | None = None  # first 503 of a run of them
        while True:
            if self._sub.is_closed and not self._sub.pending_msgs:
                return
            if sum(requests.values()) <= threshold:
                reply = await self._pull(batch, expires, heartbeat)
                requests[reply] = batch
            # A message already here is taken with one plain call, no wait.
            msg = self._sub.next_msg_nowait()
            if msg is None:
                wait = last_activity + heartbeat * 2 - loop.time()
                try:
                    msg = await self._receive(wait)
                except TimeoutError:
                    requests.clear()  # lost (reconnect?): pull again
                    last_activity = loop.time()
                    continue
                except Exception:
                    if self._sub.is_closed:
                        return
                    raise
            last_activity = loop.time()
            status = msg.status
            if status != 503:
                unanswered_since = None
            if status is None:
                for key in requests:  # the server serves requests in order
                    requests[key] -= 1
                    if requests[key] <= 0:
                        del requests[key]
                    break
                yield self._wrap(msg)
                continue
            if status == 100:
                await self._heartbeat(msg)
                continue
            if msg.subject not in requests:
                continue
            if status in (404, 408):
                del requests[msg.subject]
                continue
            if status == 503:
                # No leader for the consumer (a failover) or no consumer: pull again
                # until two heartbeats' time has passed without an answer.
                del requests[msg.subject]
                if not wait_for_leader:
                    raise no_responders(self._stream, self._consumer)
                if unanswered_since is None:
                    unanswered_since = last_activity
                elif last_activity - unanswered_since > heartbeat * 2:
                    raise no_responders(self._stream, self._consumer)
                await asyncio.sleep(_UNANSWERED_PAUSE)
                continue
            description = _description(msg)
            if status != 409:
                raise APIError(status, None, description or f"pull request failed ({status})")
            error = self._final_409(description)
            if error is not None:
                raise error
            del requests[msg.subject]
            await asyncio.sleep(_RETRY_PAUSE)
