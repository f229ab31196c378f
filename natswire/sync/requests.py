"""Requests of the blocking client: one wildcard inbox subscription for every reply,
and a :class:`PendingReply` per request, settled on the reader thread."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

from ..client.errors import NoRespondersError, TimeoutError
from .message import Message


class PendingReply:
    """One request's reply, or the error it ends with. A lock taken at creation is the
    signal: settling releases it, waiting acquires it (cheaper than a future's
    condition)."""

    __slots__ = ("_done", "error", "msg")

    def __init__(self) -> None:
        self._done = threading.Lock()
        self._done.acquire()
        self.msg: Message | None = None
        self.error: Exception | None = None

    def settle(self, msg: Message | None, error: Exception | None = None) -> None:
        """Hand over the reply (or the error); called once, by whoever pops the entry."""
        self.msg = msg
        self.error = error
        self._done.release()

    def wait(self, timeout: float) -> bool:
        """Whether it was settled within ``timeout`` seconds."""
        return self._done.acquire(timeout=timeout)


class Requests:
    """Pending requests by reply subject."""

    def __init__(self) -> None:
        self._prefix = b""
        self._waiting: dict[bytes, PendingReply] = {}
        self._tokens = itertools.count(1)
        self._lock = threading.Lock()
        #: Whether the inbox subscription exists.
        self.started = False
        #: The inbox subscription's subject (``<prefix>.*``).
        self.inbox_subject = ""

    def configure(self, prefix: str) -> None:
        """Replies go to ``<prefix>.<token>``."""
        self._prefix = prefix.encode() + b"."
        self.inbox_subject = prefix + ".*"

    def start(self, subscribe: Callable[[str], None]) -> None:
        """Subscribe to the inbox once (``subscribe(subject)``)."""
        with self._lock:
            if not self.started:
                subscribe(self.inbox_subject)
                self.started = True

    def add(self) -> tuple[bytes, PendingReply]:
        """A new reply subject and what its reply settles."""
        reply = self._prefix + b"%x" % next(self._tokens)
        pending = self._waiting[reply] = PendingReply()
        return reply, pending

    def forget(self, reply: bytes) -> None:
        self._waiting.pop(reply, None)

    def on_reply(self, msg: Message) -> None:
        """A reply arrived on the inbox (on the reader thread)."""
        pending = self._waiting.pop(msg.frame.subject, None)
        if pending is not None:
            pending.settle(msg)

    def wait(self, subject: str, pending: PendingReply, timeout: float) -> Message:
        """The reply; raises :class:`NoRespondersError`, :class:`TimeoutError`, or what
        the client closed with."""
        if not pending.wait(timeout):
            raise TimeoutError(f"no reply on {subject!r} within {timeout} s")
        msg = pending.msg
        if msg is None:
            assert pending.error is not None
            raise pending.error
        if msg.status == 503 and not msg.data:
            raise NoRespondersError(f"no responders on {subject!r}")
        return msg

    def close(self, error: Exception) -> None:
        """Fail every pending request with ``error``."""
        waiting, self._waiting = self._waiting, {}
        while waiting:
            try:
                _, pending = waiting.popitem()
            except KeyError:  # the reader thread took the last one
                break
            # Each entry is settled by whoever pops it: here or on_reply.
            pending.settle(None, error)
