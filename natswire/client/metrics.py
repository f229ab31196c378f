"""Client metrics beyond the plain counters: a small fixed-bucket latency histogram and
the per-subscription view that :class:`~natswire.client.Stats` reads at call time.

Nothing here runs per message: the histogram is fed once per request, and pending
counts are read from the subscriptions when the metrics are read.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

#: Upper bounds (seconds) of the request latency buckets; a last bucket holds the rest.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


class LatencyHistogram:
    """Counts of observations per bucket, their sum and number (Prometheus' shape)."""

    __slots__ = ("_counts", "_sum", "bounds")

    def __init__(self, bounds: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        if list(bounds) != sorted(set(bounds)) or not bounds:
            raise ValueError("histogram bounds must be increasing and not empty")
        self.bounds = bounds
        self._counts = [0] * (len(bounds) + 1)
        self._sum = 0.0

    def observe(self, seconds: float) -> None:
        self._counts[bisect_left(self.bounds, seconds)] += 1
        self._sum += seconds

    def snapshot(self) -> HistogramSnapshot:
        return HistogramSnapshot(self.bounds, tuple(self._counts), self._sum)


@dataclass(frozen=True)
class HistogramSnapshot:
    """A histogram read at one moment. ``counts[i]`` holds the observations in bucket
    ``i`` (``bounds[i-1] < v <= bounds[i]``); the last one those above every bound."""

    bounds: tuple[float, ...]
    counts: tuple[int, ...]
    sum: float

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[float, int]]:
        """``(upper bound, observations <= it)`` pairs, ending with ``(inf, count)``."""
        out: list[tuple[float, int]] = []
        total = 0
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            total += count
            out.append((bound, total))
        return out

    def quantile(self, q: float) -> float | None:
        """An estimate of the ``q`` quantile: the upper bound of the bucket holding it
        (``None`` without observations; ``inf`` when above every bound)."""
        if not 0 <= q <= 1:
            raise ValueError("q must be between 0 and 1")
        count = self.count
        if not count:
            return None
        rank = q * count
        for bound, total in self.cumulative():
            if total >= rank and total:
                return bound
        return float("inf")

    def as_dict(self) -> dict[str, object]:
        return {
            "buckets": [["+Inf" if b == float("inf") else b, n] for b, n in self.cumulative()],
            "count": self.count,
            "sum": self.sum,
        }


@dataclass(frozen=True)
class SubscriptionPending:
    """One subscription, read when the metrics were read."""

    sid: int
    subject: str
    queue: str
    pending_msgs: int
    pending_bytes: int
    delivered: int
    dropped: int
