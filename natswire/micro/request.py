"""A request to a service endpoint, and how it is answered."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Generator
from typing import Protocol, TypeAlias

from ..client.message import Message
from ..protocol.headers import Headers, HeadersLike, encode_headers

ERROR_HEADER = "Nats-Service-Error"
ERROR_CODE_HEADER = "Nats-Service-Error-Code"


class Done:
    """An awaitable that is already finished.

    What a call that did its work at once returns, so that code written for nats-py
    (where the call is a coroutine) may still ``await`` it.
    """

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        return
        yield


DONE = Done()


class ReplyPublisher(Protocol):
    """The client call a request answers through (``Client.publish_trusted_nowait``)."""

    def publish_trusted_nowait(
        self, subject: bytes, payload: bytes, reply: bytes = ..., raw_headers: bytes | None = ...
    ) -> asyncio.Future[None] | None: ...


class RequestOwner(Protocol):
    """The endpoint a request came to."""

    @property
    def client(self) -> ReplyPublisher:
        """The connection the endpoint receives on."""

    def record_error(self, error: str) -> None:
        """Count an error reply in the endpoint's statistics."""


class Request:
    """A request to an endpoint: ``subject``, ``headers``, ``data``; answer it with
    :meth:`respond` or :meth:`respond_error`.

    Both send at once and return an awaitable: a plain-function handler just calls
    them, a coroutine handler may ``await`` them as in nats-py (the await waits only
    while the connection's write side is paused and full).
    """

    __slots__ = ("_msg", "_owner")

    def __init__(self, msg: Message, owner: RequestOwner | None = None) -> None:
        self._msg = msg
        self._owner = owner

    @property
    def subject(self) -> str:
        """The subject the request was sent to."""
        return self._msg.subject

    @property
    def headers(self) -> Headers | None:
        """The request's headers, or ``None``."""
        return self._msg.headers

    @property
    def data(self) -> bytes:
        """The request's payload."""
        return self._msg.data

    @property
    def reply(self) -> str:
        """The subject the answer goes to (``""`` when the sender expects none)."""
        return self._msg.reply

    @property
    def message(self) -> Message:
        """The message the request arrived in."""
        return self._msg

    def respond(self, data: bytes = b"", headers: HeadersLike | None = None) -> Awaitable[None]:
        """Send ``data`` (and ``headers``) to the requester.

        Raises ``ValueError`` when the request has no reply subject.
        """
        reply = self._msg.frame.reply
        if not reply:
            raise ValueError("no reply subject set")
        owner = self._owner
        if owner is None:
            return self._msg.respond(data, headers)
        if data.__class__ is not bytes:
            data = bytes(data)
        raw_headers = None if headers is None else encode_headers(headers)
        writable = owner.client.publish_trusted_nowait(reply, data, b"", raw_headers)
        return DONE if writable is None else writable

    def respond_error(
        self,
        code: str,
        description: str,
        data: bytes = b"",
        headers: HeadersLike | None = None,
    ) -> Awaitable[None]:
        """Answer with an error: ``Nats-Service-Error-Code: <code>`` and
        ``Nats-Service-Error: <description>`` headers beside ``headers``, and ``data``.

        The endpoint counts it in ``num_errors`` and ``last_error`` (as nats.go does).
        """
        description = " ".join(str(description).splitlines())
        merged = Headers(headers) if headers is not None else Headers()
        merged[ERROR_HEADER] = description
        merged[ERROR_CODE_HEADER] = str(code)
        if self._owner is not None:
            self._owner.record_error(f"{code}:{description}")
        return self.respond(data, merged)

    def __repr__(self) -> str:
        return f"<Request subject={self.subject!r} data={self.data[:40]!r}>"


#: What an endpoint calls for each request: a plain function (called on the receive
#: path) or a coroutine function (awaited by the endpoint's one task, request by request).
Handler: TypeAlias = Callable[[Request], "Awaitable[None] | None"]
