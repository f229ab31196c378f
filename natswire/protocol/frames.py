"""Frame types: one class per NATS protocol operation.

``Msg`` and ``HMsg`` are built once per delivered message, so they are slotted,
mutable dataclasses (a frozen dataclass costs several times more to construct).
Treat them as read-only. ``PING``, ``PONG`` and ``OK`` are singletons: test them
with ``frame is PING``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, TypeAlias


@dataclass(slots=True)
class Msg:
    """A message delivered by the server (``MSG``)."""

    subject: bytes
    sid: bytes
    reply: bytes | None
    payload: bytes


@dataclass(slots=True)
class HMsg:
    """A message with headers delivered by the server (``HMSG``).

    ``raw_headers`` is the whole ``NATS/1.0`` block, including the blank line that
    ends it; ``payload`` excludes it. Parse the headers with
    :func:`natswire.protocol.parse_headers` when needed.
    """

    subject: bytes
    sid: bytes
    reply: bytes | None
    raw_headers: bytes
    payload: bytes


@dataclass(slots=True)
class Pub:
    """A message published by a client (``PUB``)."""

    subject: bytes
    reply: bytes | None
    payload: bytes


@dataclass(slots=True)
class HPub:
    """A message with headers published by a client (``HPUB``)."""

    subject: bytes
    reply: bytes | None
    raw_headers: bytes
    payload: bytes


@dataclass(slots=True)
class Sub:
    """A subscription request (``SUB``); ``queue`` is ``None`` outside a queue group."""

    subject: bytes
    queue: bytes | None
    sid: bytes


@dataclass(slots=True)
class Unsub:
    """An unsubscribe request (``UNSUB``); ``max_msgs`` is ``None`` for an immediate one."""

    sid: bytes
    max_msgs: int | None


@dataclass(frozen=True, slots=True)
class Info:
    """The server's ``INFO`` document (unknown fields are kept)."""

    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Connect:
    """The client's ``CONNECT`` document."""

    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Err:
    """A server ``-ERR``; ``message`` has its quotes removed."""

    message: str


class Ping:
    """``PING``: use the :data:`PING` singleton."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "PING"


class Pong:
    """``PONG``: use the :data:`PONG` singleton."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "PONG"


class Ok:
    """``+OK``: use the :data:`OK` singleton."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "OK"


PING: Final = Ping()
PONG: Final = Pong()
OK: Final = Ok()

Frame: TypeAlias = "Msg | HMsg | Pub | HPub | Sub | Unsub | Info | Connect | Err | Ping | Pong | Ok"
