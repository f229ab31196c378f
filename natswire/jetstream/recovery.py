"""When a push consumer recovers: after each reconnect, and when nothing arrived on its
deliver subject for two heartbeat intervals (or, without heartbeats, two check
intervals). One recovery runs at a time, retried until it succeeds or the consumer or
the client is closed; what a recovery does is the consumer's (:mod:`.push`).
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from typing import Protocol

from ..client.client import Client
from .errors import NoHeartbeatError, StreamNotFoundError
from .flow import HeartbeatWatch

logger = logging.getLogger("natswire")

_RETRY_PAUSE = 0.25


class Recoverable(Protocol):
    """What :class:`RecoveryWatch` works on (a push subscription offers it)."""

    def arrivals(self) -> int:
        """A count that grows with every message received (data or control)."""

    def describe(self) -> str:
        """The consumer, for messages."""

    def recovery_starting(self) -> None:
        """A recovery was decided: stop accepting what may be stale."""

    async def recover_once(self) -> None:
        """Check the consumer and create or replace it; raise when that failed."""


class RecoveryWatch:
    """Watches one push consumer and runs its recoveries."""

    def __init__(
        self, nc: Client, target: Recoverable, interval: float | None, heartbeats: bool
    ) -> None:
        self._nc = nc
        self._target = target
        self._heartbeats = heartbeats
        loop = asyncio.get_running_loop()
        self._watch = HeartbeatWatch(interval, loop.time()) if interval else None
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    @property
    def running(self) -> bool:
        """Whether a recovery is under way."""
        return self._task is not None

    def start(self) -> None:
        self._nc.reconnect_listeners.append(self._on_reconnect)
        if self._watch is not None:
            self._arm_timer()

    def stop(self) -> None:
        self._stopped = True
        with suppress(ValueError):
            self._nc.reconnect_listeners.remove(self._on_reconnect)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is not None:
            self._task.cancel()

    def report(self, error: Exception) -> None:
        self._nc.report_error(error)

    def trigger(self, reason: str) -> None:
        """Recover now, unless a recovery is already under way."""
        if self._stopped or self._task is not None:
            return
        self._target.recovery_starting()
        logger.debug("natswire: %s recovers after %s", self._target.describe(), reason)
        self._task = asyncio.get_running_loop().create_task(self._run())

    def _on_reconnect(self) -> None:
        self.trigger("a reconnect")

    def _arm_timer(self) -> None:
        assert self._watch is not None
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._watch.interval / 2, self._check_silence)

    def _check_silence(self) -> None:
        self._timer = None
        watch = self._watch
        if self._stopped or watch is None:
            return
        if self._nc.is_closed:
            self.stop()
            return
        now = asyncio.get_running_loop().time()
        arrivals = self._target.arrivals()
        if not self._nc.is_connected:
            watch.restart(arrivals, now)  # the reconnect listener starts the recovery
        elif watch.check(arrivals, now) and self._task is None:
            if self._heartbeats:
                self.report(
                    NoHeartbeatError(
                        f"no heartbeat from {self._target.describe()} for {2 * watch.interval} s"
                    )
                )
            self.trigger("missed heartbeats" if self._heartbeats else "an idle check")
        self._arm_timer()

    async def _run(self) -> None:
        try:
            while not self._stopped and not self._nc.is_closed:
                try:
                    await self._target.recover_once()
                    break
                except asyncio.CancelledError:
                    raise
                except StreamNotFoundError as exc:
                    self.report(exc)  # nothing to recreate the consumer on (for now)
                    break
                except Exception as exc:
                    logger.debug("natswire: consumer recovery failed: %s", exc)
                    await asyncio.sleep(_RETRY_PAUSE)
        finally:
            self._task = None
            if self._watch is not None:
                now = asyncio.get_running_loop().time()
                self._watch.restart(self._target.arrivals(), now)
