"""The deadlines of pending requests, expired by one timer."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Mapping
from time import monotonic

NEVER = float("inf")
# A queue may hold this many entries of ended requests beyond twice the live ones
# before it is compacted.
_COMPACT_SLACK = 1024


class RequestDeadlines:
    """Fails each pending request when its timeout has passed, with one timer.

    Requests made with the same timeout reach their deadlines in the order they were
    made, so each timeout value keeps a FIFO of ``(deadline, key)``: adding is O(1),
    and a run of the timer touches only the entries it removes. The entries of
    requests that ended are not searched for; they are dropped when they reach the
    head of their queue, or when a queue grows to over twice the live requests.
    """

    __slots__ = ("_armed_for", "_expire", "_live", "_queues", "_timer")

    def __init__(self, live: Mapping[bytes, object], expire: Callable[[bytes], None]) -> None:
        """``live`` tells which keys still wait for a reply; ``expire(key)`` fails one."""
        self._live = live
        self._expire = expire
        self._queues: dict[float, deque[tuple[float, bytes]]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._armed_for = NEVER

    def add(self, key: bytes, timeout: float, deadline: float, now: float) -> None:
        """Expire ``key`` at ``deadline`` (on the monotonic clock, ``now + timeout``)
        unless it has left ``live`` by then."""
        queue = self._queues.get(timeout)
        if queue is None:
            queue = self._queues[timeout] = deque()
        elif len(queue) > 2 * len(self._live) + _COMPACT_SLACK:
            live = self._live
            queue = self._queues[timeout] = deque(item for item in queue if item[1] in live)
        queue.append((deadline, key))
        if deadline < self._armed_for:
            self._arm(deadline, now)

    def clear(self) -> None:
        """Forget every deadline and stop the timer."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._armed_for = NEVER
        self._queues.clear()

    def entries(self) -> int:
        """How many deadlines are kept, those of ended requests included."""
        return sum(len(queue) for queue in self._queues.values())

    def _arm(self, deadline: float, now: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._armed_for = deadline
        self._timer = asyncio.get_running_loop().call_later(deadline - now, self._run)

    def _run(self) -> None:
        now = monotonic()
        # The loop may run the timer a little early (clock resolution): the deadline
        # it was armed for counts as reached, as it would for a timer per request.
        due = max(now, self._armed_for)
        self._timer = None
        self._armed_for = NEVER
        live = self._live
        earliest = NEVER
        for timeout, queue in list(self._queues.items()):
            while queue:
                deadline, key = queue[0]
                if key in live:
                    if deadline > due:
                        earliest = min(earliest, deadline)
                        break
                    self._expire(key)
                queue.popleft()
            else:
                del self._queues[timeout]
        if earliest < NEVER:
            self._arm(earliest, now)
