"""The message a subscriber receives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast, overload

from ..protocol.frames import HMsg, Msg
from ..protocol.headers import Headers, HeadersLike, header_status, parse_headers

if TYPE_CHECKING:
    from .ports import MessageClient
    from .subscription import Subscription


@dataclass(slots=True)
class BuiltFrame(Msg):
    """The frame of a message built by hand rather than received: its headers, if any,
    are the message's own (a received ``Msg`` frame carries none, an ``HMsg`` its raw
    block), so a received message answers ``headers`` and ``status`` from its frame's
    class alone."""


class MessageFields:
    """What every received message carries: ``subject``, ``reply``, ``data`` and
    ``headers``, decoded from the parsed frame only when read.

    The base of the asyncio client's :class:`Message` and of the blocking client's
    message (:mod:`natswire.sync`), which differ only in how they respond.
    """

    __slots__ = ("_frame", "_headers", "data")

    #: The payload.
    data: bytes
    _frame: Msg | HMsg
    _headers: Headers | None

    def __init__(
        self,
        subject: str | bytes,
        data: bytes = b"",
        reply: str | bytes | None = None,
        headers: Headers | None = None,
    ) -> None:
        subject_bytes = subject.encode() if isinstance(subject, str) else subject
        reply_bytes = reply.encode() if isinstance(reply, str) else (reply or None)
        self._frame = BuiltFrame(subject_bytes, b"0", reply_bytes, data)
        self.data = data
        self._headers = headers

    @property
    def subject(self) -> str:
        """The subject the message was published to."""
        return self._frame.subject.decode()

    @property
    def reply(self) -> str:
        """The reply subject, ``""`` when there is none (settable, as in nats-py)."""
        reply = self._frame.reply
        return reply.decode() if reply else ""

    @reply.setter
    def reply(self, value: str | bytes | None) -> None:
        self._frame.reply = (value.encode() if isinstance(value, str) else value) or None

    @property
    def sid(self) -> int:
        """The id of the subscription that received the message (0 when none did)."""
        return int(self._frame.sid)

    @property
    def headers(self) -> Headers | None:
        """The message headers, or ``None`` when it carried none."""
        frame = self._frame
        if frame.__class__ is Msg:
            return None  # received without headers
        try:
            return self._headers
        except AttributeError:
            # Received with headers, not parsed yet (a BuiltFrame's are always set).
            headers = parse_headers(frame.raw_headers) if isinstance(frame, HMsg) else None
            self._headers = headers
            return headers

    header = headers

    @property
    def status(self) -> int | None:
        """The inline header status (``503`` for no responders), or ``None``."""
        frame = self._frame
        if frame.__class__ is Msg:
            return None
        if isinstance(frame, HMsg):
            return header_status(frame.raw_headers)
        headers = self._headers
        return None if headers is None else headers.status

    @property
    def frame(self) -> Msg | HMsg:
        """The parsed ``MSG``/``HMSG`` frame this message wraps (its raw subject, reply,
        headers block and payload, undecoded)."""
        return self._frame

    def __repr__(self) -> str:
        data = self.data
        return (
            f"<Message subject={self.subject!r} reply={self.reply!r} "
            f"data={data[:40]!r}{'...' if len(data) > 40 else ''}>"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MessageFields):
            return NotImplemented
        return (
            self.subject == other.subject
            and self.reply == other.reply
            and self.data == other.data
            and self.headers == other.headers
        )

    __hash__ = None  # type: ignore[assignment]


class Message(MessageFields):
    """A received message: ``subject``, ``reply``, ``data`` and ``headers``.

    Built once per delivered message around the parsed frame, so the subject, reply
    and headers are decoded only when read.
    """

    __slots__ = ("_client", "_sub")

    _sub: Subscription | None
    # Set only on a message made by hand with a client (nats-py's ``Msg(nc, ...)``).
    _client: MessageClient

    @overload
    def __init__(
        self,
        subject: str | bytes,
        data: bytes = b"",
        reply: str | bytes | None = None,
        headers: Headers | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        _client: MessageClient,
        subject: str = "",
        reply: str = "",
        data: bytes = b"",
        headers: HeadersLike | None = None,
        _metadata: Any = None,
        _ackd: bool = False,
        _sid: int | None = None,
    ) -> None: ...

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """``Message(subject, data=b"", reply=None, headers=None)``; or, as nats-py's
        ``Msg(nc, subject="", reply="", data=b"", headers=None, ...)``, with the client
        first, which :meth:`respond` then publishes through."""
        nats_py = "_client" in kwargs or bool(args and not isinstance(args[0], (str, bytes)))
        names = _NATS_PY_ARGUMENTS if nats_py else _ARGUMENTS
        if len(args) > len(names):
            raise TypeError(f"Message() takes at most {len(names)} arguments")
        values = dict(zip(names, args, strict=False))
        for name, value in kwargs.items():
            if name not in names or name in values:
                raise TypeError(f"Message() got an unexpected or repeated argument {name!r}")
            values[name] = value
        if "subject" not in values and not nats_py:
            raise TypeError("Message() needs a subject")
        headers = values.get("headers")
        super().__init__(
            values.get("subject", ""),
            values.get("data", b""),
            values.get("reply") or None,
            headers if headers is None or isinstance(headers, Headers) else Headers(headers),
        )
        if values.get("_sid"):
            self._frame.sid = b"%d" % values["_sid"]
        self._sub = None
        if nats_py:
            self._client = values["_client"]

    @property
    def subscription(self) -> Subscription | None:
        """The subscription that received the message."""
        return self._sub

    async def respond(self, data: bytes = b"", headers: HeadersLike | None = None) -> None:
        """Publish ``data`` to this message's reply subject, with ``headers``, or else
        (as nats-py does) with the headers this message carried."""
        reply = self._frame.reply
        if not reply:
            raise ValueError(f"message on {self.subject!r} has no reply subject to respond to")
        sub = self._sub
        client = sub.client if sub is not None else getattr(self, "_client", None)
        if client is None:
            raise ValueError("message is not bound to a connection")
        if headers is None:
            headers = self.headers
        await client.publish(reply, data, headers=headers)

    def share_into(self, other: Message) -> None:
        """Make ``other`` (built with :data:`new_message`) carry this message: the same
        frame, payload, subscription and, when already parsed, headers. Nothing is
        copied or decoded. For natswire's wrappers (a JetStream message)."""
        # friend: writes into another Message: both are this class's own slots.
        other._frame = frame = self._frame
        other.data = self.data
        other._sub = self._sub  # friend: as above
        if frame.__class__ is not Msg:
            # Unset while not parsed: ``other`` then parses them from the frame when
            # first read.
            headers = getattr(self, "_headers", _UNPARSED)
            if headers is not _UNPARSED:
                other._headers = cast("Headers | None", headers)  # friend: as above


_UNPARSED = object()
_ARGUMENTS = ("subject", "data", "reply", "headers")
_NATS_PY_ARGUMENTS = (
    "_client",
    "subject",
    "reply",
    "data",
    "headers",
    "_metadata",
    "_ackd",
    "_sid",
)

# Builds a Message without running __init__: deliveries are the hot path.
new_message = Message.__new__
