"""The one thread per blocking client that runs user callbacks: message callbacks in
arrival order, and ``error_cb``, ``disconnected_cb``, ``reconnected_cb`` ... ."""

from __future__ import annotations

import inspect
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("natswire")

_STOP = object()


class DeliveryThread:
    """Runs submitted calls one at a time, in order, on its own (daemon) thread.

    A call that raises is logged; the thread goes on with the next one.
    """

    def __init__(self, name: str) -> None:
        self._calls: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` after what was submitted before."""
        self._calls.put((fn, args))

    def is_current(self) -> bool:
        """Whether the caller runs on this thread (inside a callback)."""
        return threading.current_thread() is self._thread

    def stop(self, timeout: float) -> None:
        """Run what was submitted, then end; wait ``timeout`` seconds at most (not at all
        from a callback)."""
        self._calls.put(_STOP)
        if not self.is_current():
            self._thread.join(timeout)

    def _run(self) -> None:
        calls = self._calls
        while True:
            item = calls.get()
            if item is _STOP:
                return
            fn, args = item
            try:
                result = fn(*args)
            except Exception:
                logger.exception("natswire: callback %r raised", fn)
                continue
            if inspect.isawaitable(result):
                close = getattr(result, "close", None)
                if close is not None:
                    close()
                logger.error(
                    "natswire: the blocking client runs plain functions only; "
                    "callback %r returned an awaitable",
                    fn,
                )
