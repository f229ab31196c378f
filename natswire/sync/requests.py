"""Requests of the blocking client: one wildcard inbox subscription for every reply,
and a future per request, resolved on the reader thread."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from concurrent import futures

from ..client.errors import NoRespondersError, TimeoutError
from .message import Message


class Requests:
    """Pending requests by reply subject."""

    def __init__(self) -> None:
        self._prefix = b""
        self._waiting: dict[bytes, futures.Future[Message]] = {}
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

    def add(self) -> tuple[bytes, futures.Future[Message]]:
        """A new reply subject and the future its reply resolves."""
        reply = self._prefix + b"%x" % next(self._tokens)
        future: futures.Future[Message] = futures.Future()
        self._waiting[reply] = future
        return reply, future

    def forget(self, reply: bytes) -> None:
        self._waiting.pop(reply, None)

    def on_reply(self, msg: Message) -> None:
        """A reply arrived on the inbox (on the reader thread)."""
        future = self._waiting.pop(msg.frame.subject, None)
        if future is not None and not future.done():
            future.set_result(msg)

    def wait(self, subject: str, future: futures.Future[Message], timeout: float) -> Message:
        """The reply; raises :class:`NoRespondersError` or :class:`TimeoutError`."""
        try:
            msg = future.result(timeout)
        except futures.TimeoutError:
            raise TimeoutError(f"no reply on {subject!r} within {timeout} s") from None
        if msg.status == 503 and not msg.data:
            raise NoRespondersError(f"no responders on {subject!r}")
        return msg

    def close(self, error: Exception) -> None:
        """Fail every pending request with ``error``."""
        waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(error)
