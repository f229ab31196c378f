"""A message from a JetStream consumer, for the blocking client: the ack protocol and
the metadata, with the subjects, bodies and parsing of :mod:`natswire.jetstream.message`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..jetstream.message import (
    ACK,
    WPI,
    MsgMetadata,
    nak_body,
    parse_metadata,
    settle_subject,
    term_body,
)
from ..protocol.frames import HMsg, Msg
from .message import Message

if TYPE_CHECKING:
    from .client import Client


class JetStreamMessage(Message):
    """A :class:`natswire.sync.Message` with ``ack``, ``nak``, ``term``, ``in_progress``
    and ``metadata``. A second settlement raises :class:`MsgAlreadyAckedError`."""

    __slots__ = ("_acked", "_js_client", "_meta")

    _js_client: Client

    @classmethod
    def received_by(cls, frame: Msg | HMsg, client: Client) -> JetStreamMessage:
        """The JetStream message for a frame ``client`` received."""
        msg = cls.received(frame, client)
        assert isinstance(msg, JetStreamMessage)
        msg._bind(client)  # friend: finishes a message of this class built without __init__
        return msg

    def _bind(self, client: Client) -> None:
        self._js_client = client
        self._acked = None
        self._meta = None

    _acked: bytes | None
    _meta: MsgMetadata | None

    @property
    def metadata(self) -> MsgMetadata:
        """Stream and consumer sequences, deliveries, pending count, time, names."""
        meta = self._meta
        if meta is None:
            meta = self._meta = parse_metadata(self.reply)
        return meta

    @property
    def is_acked(self) -> bool:
        """Whether the message was settled (ack, nak or term) by this client."""
        return self._acked is not None

    def _check(self, what: str) -> str:
        return settle_subject(what, self.subject, self.reply, self._acked)

    def _settle(self, what: str, body: bytes) -> None:
        reply = self._check(what)
        self._acked = body.split(b" ", 1)[0]
        try:
            self._js_client.publish(reply, body)
        except BaseException:
            self._acked = None
            raise

    def ack(self) -> None:
        """Acknowledge: the message will not be delivered again."""
        self._settle("ack", ACK)

    def ack_sync(self, timeout: float = 1.0) -> Message:
        """Acknowledge and wait until the server confirms it recorded the ack."""
        reply = self._check("ack")
        self._acked = ACK
        try:
            return self._js_client.request(reply, ACK, timeout=timeout)
        except BaseException:
            self._acked = None
            raise

    def nak(self, delay: float | None = None) -> None:
        """Negative ack: redeliver, at once or after ``delay`` seconds."""
        self._settle("nak", nak_body(delay))

    def in_progress(self) -> None:
        """Tell the server work is ongoing: restart the ack wait timer."""
        self._js_client.publish(self._check("send in_progress for"), WPI)

    def term(self, reason: str | None = None) -> None:
        """Terminate: never redeliver."""
        self._settle("term", term_body(reason))

    def __repr__(self) -> str:
        data = self.data
        return (
            f"<JetStreamMessage subject={self.subject!r} reply={self.reply!r} "
            f"data={data[:40]!r}{'...' if len(data) > 40 else ''}>"
        )
