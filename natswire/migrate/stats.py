"""Counting and pacing a shovel: its counters and summary, progress lines, a rate limit."""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

from .backlog import Backlog


@dataclass
class ShovelStats:
    """Counters of one shovel (or one direction of the bridge)."""

    source: str
    target: str
    moved: int = 0
    #: Already on NATS (a redelivery after a restart): acked, not stored again.
    duplicates: int = 0
    #: Header values JSON cannot carry (timestamps, byte strings), converted.
    converted: int = 0
    #: Bridge only: messages the bridge itself put on this side (loops prevented).
    skipped: int = 0
    #: What the source still holds (None: not counted, as for the bridge).
    backlog: Backlog | None = None
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def elapsed(self) -> float:
        end = self.finished if self.finished is not None else time.monotonic()
        return max(end - self.started, 1e-9)

    @property
    def remaining(self) -> int | None:
        """Messages of the source not yet moved (ready, delivered unacked, redelivered)."""
        return None if self.backlog is None else self.backlog.total

    @property
    def rate(self) -> float:
        return self.moved / self.elapsed

    def line(self) -> str:
        """One progress line."""
        parts = [f"moved {self.moved}", f"{self.rate:.0f} msg/s"]
        if self.backlog is not None:
            parts.append(f"remaining {self.backlog.describe()}")
        if self.duplicates:
            parts.append(f"{self.duplicates} duplicates skipped")
        if self.skipped:
            parts.append(f"{self.skipped} bridged copies skipped")
        return f"{self.source} -> {self.target}: " + ", ".join(parts)

    def summary(self) -> str:
        text = (
            f"{self.source} -> {self.target}: moved {self.moved} messages in "
            f"{self.elapsed:.1f} s ({self.rate:.0f} msg/s)"
        )
        if self.duplicates:
            text += f"; {self.duplicates} were already on NATS (duplicates, not stored again)"
        if self.converted:
            text += f"; {self.converted} had header values converted for JSON"
        if self.skipped:
            text += f"; {self.skipped} bridged copies skipped (no loops)"
        if self.backlog is not None:
            text += f"; {self.backlog.describe()} left in the source queue"
        return text


class Progress:
    """Prints :meth:`ShovelStats.line` to ``out`` (stderr) every ``interval`` seconds."""

    def __init__(self, out: TextIO | None = None, interval: float = 1.0) -> None:
        self.out = out if out is not None else sys.stderr
        self.interval = interval

    def show(self, text: str) -> None:
        print(text, file=self.out, flush=True)


class RateLimiter:
    """At most ``rate`` messages per second (None: no limit)."""

    def __init__(self, rate: float | None) -> None:
        if rate is not None and rate <= 0:
            raise ValueError(f"rate must be positive, got {rate!r}")
        self.rate = rate
        self._next = 0.0

    async def wait(self) -> None:
        if self.rate is None:
            return
        now = time.monotonic()
        at = max(self._next, now)
        self._next = at + 1.0 / self.rate
        if at > now:
            await asyncio.sleep(at - now)


__all__ = ["Progress", "RateLimiter", "ShovelStats"]
