"""Paired trials: the order in which one round runs its trials, and what the pairs say.

A round runs every trial of a workload once. Two trials whose figures a ratio compares
(natswire and nats-py, natswire and raw) run side by side where the round's order allows
it, and every other round runs in reverse, so which of the two runs first alternates. The
ratio of a row is the median of its per-round (per-pair) ratios; its spread is a
distribution-free confidence interval of that median, from order statistics.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TypeVar

#: The coverage the interval of a median aims at; with fewer pairs than it takes to reach
#: it (5 at 90 %), the interval is the whole range of the pair ratios.
CONFIDENCE = 0.90
#: The fewest pairs whose min-max interval reaches CONFIDENCE: ``--until-spread`` never
#: stops a row below it.
MIN_PAIRS_FOR_CONFIDENCE = 5

J = TypeVar("J", bound=Hashable)


@dataclass(frozen=True)
class Interval:
    """The median of ``count`` pair ratios and the interval ``[low, high]`` that holds the
    true median with probability ``coverage`` (the sign-test interval: two order
    statistics, symmetric about the middle, assuming only independent pairs)."""

    median: float
    low: float
    high: float
    coverage: float
    count: int

    @property
    def spread(self) -> float:
        """How far the interval reaches from the median, relative to it: 0.05 means the
        interval lies within ±5 % of the median."""
        if self.median <= 0:
            return math.inf
        return max(self.median - self.low, self.high - self.median) / self.median


def order_statistic_coverage(count: int, rank: int) -> float:
    """The probability that the ``rank``-th smallest and ``rank``-th largest of ``count``
    independent draws enclose the distribution's median: ``1 - 2 P(Bin(count, 1/2) <
    rank)``."""
    below = sum(math.comb(count, i) for i in range(rank))
    return max(0.0, 1.0 - 2.0 * below / (1 << count))


def median_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval | None:
    """The median of ``values`` with the narrowest order-statistic interval whose coverage
    is at least ``confidence``, or the min-max interval when none reaches it."""
    ordered = sorted(values)
    count = len(ordered)
    if not count:
        return None
    rank = 1
    while 2 * (rank + 1) <= count and order_statistic_coverage(count, rank + 1) >= confidence:
        rank += 1
    return Interval(
        median=statistics.median(ordered),
        low=ordered[rank - 1],
        high=ordered[count - rank],
        coverage=order_statistic_coverage(count, rank),
        count=count,
    )


def pair_ratios(
    numerator: dict[int, float], denominator: dict[int, float], higher_is_better: bool
) -> list[float]:
    """One ratio per round both figures have, turned so that >1 means the numerator is
    better; rounds where either figure is not positive give no ratio."""
    out = []
    for round_index in sorted(numerator.keys() & denominator.keys()):
        num, den = numerator[round_index], denominator[round_index]
        if num > 0 and den > 0:
            out.append(num / den if higher_is_better else den / num)
    return out


def round_order(pairs: Sequence[tuple[J, J]], jobs: Sequence[J]) -> list[J]:
    """An order of ``jobs`` for one round in which the two jobs of each pair sit next to
    each other where that does not separate a pair placed earlier.

    Pairs are placed in turn: a pair with neither job placed is appended (denominator
    first); a pair with one job placed puts the other at that job's free side (the
    front or the back), or at the end when it has no free side (that pair is then not
    side by side: the earlier pairs come first). Jobs in no pair come last, in their
    given order.
    """
    order: list[J] = []
    for num, den in pairs:
        placed_num, placed_den = num in order, den in order
        if placed_num and placed_den:
            continue
        if not placed_num and not placed_den:
            order += [den, num]
            continue
        anchor, new = (num, den) if placed_num else (den, num)
        at = order.index(anchor)
        if at == 0:
            order.insert(0, new)
        else:
            order.append(new)
    order += [job for job in jobs if job not in order]
    return order


def in_round(order: Sequence[J], round_index: int) -> list[J]:
    """The order of round ``round_index``: as given in even rounds, reversed in odd ones,
    so that each adjacent pair alternates which of its two runs first."""
    return list(order) if round_index % 2 == 0 else list(reversed(order))
