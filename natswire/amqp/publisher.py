"""Publishing to exchanges: subjects, properties as headers, publisher confirms.

With a confirm the publish waits for JetStream's ack; without one it is pipelined, and
a failure is reported to ``on_channel_exception`` of the channel that published. A
pipelined publish of a shape seen before (exchange and routing key, or every header)
reuses the checked subject and encoded header block remembered for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..jetstream.context import JetStreamContext
from ..jetstream.errors import APIError
from ..protocol.headers import encode_headers
from ..protocol.serializer import publish_subject
from .errors import server_refusal
from .names import SubjectMap
from .properties import H_EXCHANGE, H_ROUTING_KEY, BasicProperties

if TYPE_CHECKING:
    from .channel import Channel

#: Publish shapes (exchange, routing key) whose encoded headers are remembered.
ENCODED_CACHE_ENTRIES = 4096

#: Reports an error of a channel (or of none) to ``on_channel_exception``.
Report = Callable[["Channel | None", BaseException], None]


class Publisher:
    """Publishes for the channels of one connection."""

    def __init__(self, js: JetStreamContext, subjects: SubjectMap, report: Report) -> None:
        self._js = js
        self._subjects = subjects
        self._report = report
        # (exchange, routing key), or the headers' items when there are properties ->
        # (checked subject, encoded header block)
        self._encoded: dict[tuple[Any, ...], tuple[bytes, bytes]] = {}
        self._confirm_failed: dict[Channel | None, Callable[[Exception], None]] = {}

    @property
    def encoded_routes(self) -> Mapping[tuple[Any, ...], tuple[bytes, bytes]]:
        """``(exchange, routing key)`` -> (checked subject, encoded header block) of the
        routes published before (a live view; for :class:`Channel`'s publish fast path)."""
        return self._encoded

    async def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        properties: BasicProperties | None = None,
        *,
        confirm: bool = True,
        msg_id: str | None = None,
        channel: Channel | None = None,
    ) -> None:
        """Publish ``body`` as sent to ``exchange`` with ``routing_key``: with
        ``confirm``, return once JetStream stored it (a refusal raises a
        :class:`ServerRefusedError`); without, pipelined (a failure is reported for
        ``channel``). ``msg_id`` makes JetStream drop a duplicate."""
        if confirm or msg_id is not None:
            subject = self._subjects.publish_subject(exchange, routing_key)
            if properties is None:
                headers = {H_EXCHANGE: exchange, H_ROUTING_KEY: routing_key}
            else:
                headers = properties.to_headers(exchange, routing_key)
            if confirm:
                try:
                    await self._js.publish(subject, body, headers=headers, msg_id=msg_id)
                except APIError as exc:
                    raise server_refusal(exc) from exc
                return
            future = await self._js.publish_async(subject, body, headers=headers, msg_id=msg_id)
            future.add_done_callback(self._confirm_callback(channel))
            return
        # Publishers repeat their subjects and properties: the subject is checked and
        # the header block encoded once per shape.
        if properties is None:
            cached = self._encoded.get((exchange, routing_key))
            if cached is None:
                cached = self._encode((exchange, routing_key), None)
        else:
            headers = properties.to_headers(exchange, routing_key)
            shape = tuple(headers.items())
            cached = self._encoded.get(shape)
            if cached is None:
                cached = self._encode(shape, headers)
        await self._js.publish_async_encoded(
            cached[0], body, cached[1], on_error=self.confirm_failure_reporter(channel)
        )

    def _encode(self, key: tuple[Any, ...], headers: dict[str, str] | None) -> tuple[bytes, bytes]:
        """The checked subject and the encoded header block of a publish, remembered
        under ``key``: the route, or (with properties) every header."""
        if headers is None:
            headers = {H_EXCHANGE: key[0], H_ROUTING_KEY: key[1]}
        subject = self._subjects.publish_subject(headers[H_EXCHANGE], headers[H_ROUTING_KEY])
        encoded = (publish_subject(subject), encode_headers(headers))
        cache = self._encoded
        if len(cache) >= ENCODED_CACHE_ENTRIES:
            cache.clear()
        cache[key] = encoded
        return encoded

    def _confirm_callback(self, channel: Channel | None) -> Callable[[asyncio.Future[Any]], None]:
        def callback(fut: asyncio.Future[Any]) -> None:
            if not fut.cancelled():
                exc = fut.exception()
                if exc is not None:
                    self._report(channel, as_refusal(exc))

        return callback

    def confirm_failure_reporter(self, channel: Channel | None) -> Callable[[Exception], None]:
        """What reports a failed ``confirm=False`` publish of ``channel`` to the hook,
        from the event loop (one callable per channel, called only on failure)."""
        found = self._confirm_failed.get(channel)
        if found is not None:
            return found

        def failed(exc: Exception) -> None:
            asyncio.get_running_loop().call_soon(self._report, channel, as_refusal(exc))

        self._confirm_failed[channel] = failed
        return failed

    def forget_channel(self, channel: Channel) -> None:
        """``channel`` closed: drop its failure reporter."""
        self._confirm_failed.pop(channel, None)


def as_refusal(exc: BaseException) -> BaseException:
    """A JetStream refusal as the adapter's error (its cause kept), anything else as is."""
    if isinstance(exc, APIError):
        refusal = server_refusal(exc)
        refusal.__cause__ = exc
        return refusal
    return exc
