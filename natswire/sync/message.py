"""The message the blocking client delivers: the asyncio client's fields, a blocking
``respond``."""

from __future__ import annotations

from typing import Protocol

from ..client.message import MessageFields
from ..protocol.frames import HMsg, Msg
from ..protocol.headers import Headers, HeadersLike


class Responder(Protocol):
    """What a message publishes its response through: the blocking client."""

    def publish(
        self,
        subject: str | bytes,
        payload: bytes | bytearray | memoryview = ...,
        reply: str | bytes = ...,
        headers: HeadersLike | None = ...,
    ) -> None: ...


class Message(MessageFields):
    """A received message: ``subject``, ``reply``, ``data`` and ``headers`` (decoded only
    when read), and :meth:`respond`, which blocks until the response is buffered."""

    __slots__ = ("_client",)

    _client: Responder | None

    def __init__(
        self,
        subject: str | bytes,
        data: bytes = b"",
        reply: str | bytes | None = None,
        headers: HeadersLike | None = None,
    ) -> None:
        super().__init__(subject, data, reply, None if headers is None else Headers(headers))
        self._client = None

    @classmethod
    def received(cls, frame: Msg | HMsg, client: Responder) -> Message:
        """The message for a ``MSG``/``HMSG`` frame ``client`` received: built without
        ``__init__``, so headers stay undecoded until read."""
        msg = cls.__new__(cls)
        msg.data = frame.payload
        # friend: a message of this class, built here without __init__ (the hot path).
        msg._frame, msg._client = frame, client
        return msg

    def respond(self, data: bytes = b"", headers: HeadersLike | None = None) -> None:
        """Publish ``data`` to this message's reply subject."""
        reply = self._frame.reply
        if not reply:
            raise ValueError(f"message on {self.subject!r} has no reply subject to respond to")
        if self._client is None:
            raise ValueError("message is not bound to a connection")
        self._client.publish(reply, data, headers=headers)
