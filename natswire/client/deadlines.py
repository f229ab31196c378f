"""The deadlines of pending requests: which are due at a given time.

Pure: the caller passes ``now`` and arms its own timer for :meth:`RequestDeadlines.due`'s
answer (the request multiplexer arms one event-loop timer for all requests).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

NEVER = float("inf")
# A queue may hold this many entries of ended requests beyond twice the live ones
# before it is compacted.
_COMPACT_SLACK = 1024


class RequestDeadlines:
    """The deadline of each pending request, answering which are due.

    Requests made with the same timeout reach their deadlines in the order they were
    made, so each timeout value keeps a FIFO of ``(deadline, key)``: adding is O(1),
    and :meth:`due` touches only the entries it removes. The entries of requests that
    ended are not searched for; they are dropped when they reach the head of their
    queue, or when a queue grows to over twice the live requests.
    """

    __slots__ = ("_live", "_queues")

    def __init__(self, live: Mapping[bytes, object]) -> None:
        """``live`` tells which keys still wait for a reply."""
        self._live = live
        self._queues: dict[float, deque[tuple[float, bytes]]] = {}

    def add(self, key: bytes, timeout: float, deadline: float) -> None:
        """``key`` is due at ``deadline`` (``now + timeout``) unless it has left
        ``live`` by then."""
        queue = self._queues.get(timeout)
        if queue is None:
            queue = self._queues[timeout] = deque()
        elif len(queue) > 2 * len(self._live) + _COMPACT_SLACK:
            live = self._live
            queue = self._queues[timeout] = deque(item for item in queue if item[1] in live)
        queue.append((deadline, key))

    def due(self, now: float) -> tuple[list[bytes], float]:
        """Remove and return the live keys whose deadline is ``now`` or earlier, and the
        earliest deadline still kept (:data:`NEVER` when none is)."""
        live = self._live
        keys: list[bytes] = []
        earliest = NEVER
        for timeout, queue in list(self._queues.items()):
            while queue:
                deadline, key = queue[0]
                if key in live:
                    if deadline > now:
                        earliest = min(earliest, deadline)
                        break
                    keys.append(key)
                queue.popleft()
            else:
                del self._queues[timeout]
        return keys, earliest

    def clear(self) -> None:
        """Forget every deadline."""
        self._queues.clear()

    def entries(self) -> int:
        """How many deadlines are kept, those of ended requests included."""
        return sum(len(queue) for queue in self._queues.values())
