"""User callbacks, fired without blocking the client, and asynchronous errors."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import Any

from .stats import Counters

logger = logging.getLogger("natswire")


class Callbacks:
    """Calls user callbacks (plain or coroutine functions) and keeps their tasks alive."""

    def __init__(self, counters: Counters) -> None:
        self._counters = counters
        self._tasks: set[asyncio.Task[Any]] = set()

    def report_error(self, error: Exception, error_cb: Callable[[Exception], Any] | None) -> None:
        """Count ``error`` and hand it to ``error_cb`` (or the log when there is none)."""
        self._counters.count_error(error)
        if error_cb is None:
            logger.error("natswire: %s", error)
            return
        self.fire(error_cb, error)

    def fire(self, cb: Callable[..., Any] | None, *args: Any) -> asyncio.Task[Any] | None:
        """Call ``cb(*args)``; a coroutine it returns runs as a task, returned."""
        if cb is None:
            return None
        try:
            result = cb(*args)
        except Exception:
            logger.exception("natswire: callback %r raised", cb)
            return None
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._tasks.add(task)
            task.add_done_callback(self._done)
            return task
        return None

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("natswire: callback raised", exc_info=task.exception())
