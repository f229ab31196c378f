"""The benchmark runner's paired measurement: round order, pair ratios, intervals, and
the rounds ``--until-spread`` adds (with a stand-in harness, no processes)."""

from __future__ import annotations

import io
import itertools
from typing import Any

import pytest

from benchmarks.paired import (
    in_round,
    median_interval,
    order_statistic_coverage,
    pair_ratios,
    round_order,
)
from benchmarks.report import overhead_ratio, render, widest_spread
from benchmarks.rounds import TrialPlan, fill_above_floor, run_workload, workload_jobs
from benchmarks.rows import rows_for


def test_coverage_of_order_statistics() -> None:
    # min-max of 3 draws holds the median unless all three fall on one side: 1 - 2/8
    assert order_statistic_coverage(3, 1) == pytest.approx(0.75)
    assert order_statistic_coverage(5, 1) == pytest.approx(1 - 2 / 32)
    # 2nd smallest to 2nd largest of 10: 1 - 2 (1 + 10) / 1024
    assert order_statistic_coverage(10, 2) == pytest.approx(1 - 22 / 1024)


def test_median_interval_takes_the_narrowest_interval_reaching_90_percent() -> None:
    values = [float(v) for v in range(1, 11)]
    interval = median_interval(values)
    assert interval is not None
    # rank 3 covers only 89 %, so rank 2: the 2nd smallest and 2nd largest
    assert (interval.median, interval.low, interval.high) == (5.5, 2.0, 9.0)
    assert interval.coverage == pytest.approx(1 - 22 / 1024)
    assert interval.spread == pytest.approx(3.5 / 5.5)


def test_median_interval_below_five_pairs_is_the_range() -> None:
    interval = median_interval([1.1, 0.9, 1.0])
    assert interval is not None
    assert (interval.median, interval.low, interval.high) == (1.0, 0.9, 1.1)
    assert interval.coverage == pytest.approx(0.75)
    assert median_interval([]) is None


def test_pair_ratios_pair_rounds_and_invert_lower_is_better() -> None:
    num = {0: 200.0, 1: 300.0, 2: 50.0, 3: 0.0}
    den = {0: 100.0, 2: 100.0, 3: 100.0, 4: 100.0}
    assert pair_ratios(num, den, True) == [2.0, 0.5]
    assert pair_ratios(num, den, False) == [0.5, 2.0]


def test_every_peer_trial_sits_next_to_natswires_and_the_first_alternates() -> None:
    jobs, pairs = workload_jobs(rows_for("pub", 16))
    order = round_order(pairs, jobs)
    assert order == [("nats-py", "pub"), ("natswire", "pub"), ("raw", "pub")]
    firsts = []
    for r in range(4):
        seq = in_round(order, r)
        for peer in ("nats-py", "raw"):
            a, b = seq.index(("natswire", "pub")), seq.index((peer, "pub"))
            assert abs(a - b) == 1
            firsts.append((peer, a < b))
    assert firsts.count(("nats-py", True)) == firsts.count(("nats-py", False)) == 2
    assert firsts.count(("raw", True)) == firsts.count(("raw", False)) == 2


@pytest.mark.parametrize(
    "workload",
    ["jspub", "blocking", "obj", "reqreply", "memory", "jspush", "kv", "service", "jsfetch"],
)
def test_rows_whose_ratios_cross_workloads_still_pair_neighbours(workload: str) -> None:
    jobs, pairs = workload_jobs(rows_for(workload, 16))
    order = round_order(pairs, jobs)
    assert sorted(order) == sorted(jobs)
    for num, den in pairs:
        if num[0] == "raw" and den[0] == "nats-py":
            continue  # a ceiling row's pair: natswire's trial sits between them, or more
        assert abs(order.index(num) - order.index(den)) == 1, (num, den, order)


@pytest.mark.parametrize("workload", ["jspush", "kv", "service", "blocking", "jsfetch", "amqp"])
def test_ceiling_rows_compare_the_raw_client_with_nats_py_on_the_same_trials(
    workload: str,
) -> None:
    rows = rows_for(workload, 16)
    ceilings = [r for r in rows if r.key.endswith("-ceiling")]
    assert ceilings
    for ceiling in ceilings:
        (measured,) = [
            r
            for r in rows
            if r.sources.get("raw") == ceiling.sources["raw"]
            and r.metric == ceiling.metric
            and r is not ceiling
            and "natswire" in r.sources
        ]
        assert ceiling.sources == {
            "nats-py": measured.sources["nats-py"],
            "raw": measured.sources["raw"],
        }
        assert ceiling.ratios[0] is not None
        assert (ceiling.ratios[0].num, ceiling.ratios[0].den) == (("", "raw"), ("", "nats-py"))
        ceiling.values = {"nats-py": {0: 100.0, 1: 120.0}, "raw": {0: 250.0, 1: 240.0}}
        table = render("t", [ceiling])
        assert "2.25x" in table and "raw/py" in table


def test_above_floor_subtracts_the_raw_figure_of_the_same_round() -> None:
    rows = rows_for("reqreply", 16)
    p50 = next(r for r in rows if r.key == "p50")
    p50.values = {
        "natswire": {0: 120.0, 1: 130.0},
        "nats-py": {0: 300.0, 1: 310.0},
        "raw": {0: 100.0, 2: 90.0},
    }
    fill_above_floor(rows)
    floor = next(r for r in rows if r.key == "p50floor")
    assert floor.values == {
        "natswire": {0: 20.0},
        "nats-py": {0: 200.0},
        "raw": {0: 0.0, 2: 0.0},
    }


class StandInHarness:
    """Answers trials with figures from a script and records their order."""

    verbose = False

    def __init__(self, figures: dict[str, Any]) -> None:
        self.figures = {client: iter(values) for client, values in figures.items()}
        self.calls: list[str] = []
        self.failures: list[str] = []

    def trial(
        self, client: str, workload: str, size: int, n: int, warmup: int, loop: str
    ) -> dict[str, Any]:
        self.calls.append(client)
        return {"metrics": {"rate": next(self.figures[client])}}


def test_until_spread_adds_rounds_until_the_interval_is_narrow() -> None:
    # natswire alternates 2.0x and 2.08x nats-py, and stays at 1.0x raw
    harness = StandInHarness(
        {
            "natswire": itertools.repeat(1000.0),
            "nats-py": itertools.cycle([500.0, 1000.0 / 2.08]),
            "raw": itertools.repeat(1000.0),
        }
    )
    plan = TrialPlan(trials=3, until_spread=0.05, max_trials=20)
    rows = run_workload(harness, "pub", 16, "asyncio", plan, io.StringIO())  # type: ignore[arg-type]
    # 5 pairs make the first interval reaching 90 %; 2.0-2.08 is within ±5 % of 2.0
    assert len(harness.calls) == 15
    assert harness.calls[:6] == ["nats-py", "natswire", "raw", "raw", "natswire", "nats-py"]
    assert widest_spread(rows) <= 0.05
    table = render("t", rows)
    assert "2.00x [2.00-2.08]" in table
    assert "1.00x [1.00-1.00]" in table


def test_until_spread_stops_at_the_cap() -> None:
    harness = StandInHarness(
        {
            "natswire": itertools.repeat(1000.0),
            "nats-py": itertools.cycle([250.0, 1000.0]),
            "raw": itertools.repeat(1000.0),
        }
    )
    plan = TrialPlan(trials=2, until_spread=0.05, max_trials=6)
    log = io.StringIO()
    rows = run_workload(harness, "pub", 16, "asyncio", plan, log)  # type: ignore[arg-type]
    assert len(harness.calls) == 18
    assert widest_spread(rows) > 0.05
    assert "not reached" in log.getvalue()


class TimeoutOnceHarness(StandInHarness):
    """As StandInHarness, but each listed client's first trial times out."""

    def __init__(self, figures: dict[str, Any], hang_once: set[str]) -> None:
        super().__init__(figures)
        self.hang_once = set(hang_once)

    def trial(
        self, client: str, workload: str, size: int, n: int, warmup: int, loop: str
    ) -> dict[str, Any]:
        if client in self.hang_once:
            self.hang_once.discard(client)
            self.calls.append(client)
            return {"error": "trial timed out after 60 s"}
        return super().trial(client, workload, size, n, warmup, loop)


def test_a_reference_client_that_hangs_gets_one_more_trial_natswire_none() -> None:
    figures = {c: itertools.repeat(1000.0) for c in ("natswire", "nats-py", "raw")}
    harness = TimeoutOnceHarness(figures, {"nats-py"})
    log = io.StringIO()
    rows = run_workload(harness, "pub", 16, "asyncio", TrialPlan(trials=1), log)  # type: ignore[arg-type]
    assert harness.calls == ["nats-py", "nats-py", "natswire", "raw"]
    assert "running it once more" in log.getvalue()
    assert not harness.failures and not any(row.errors for row in rows)

    harness = TimeoutOnceHarness(figures, {"natswire"})
    rows = run_workload(harness, "pub", 16, "asyncio", TrialPlan(trials=1), io.StringIO())  # type: ignore[arg-type]
    assert harness.calls == ["nats-py", "natswire", "raw"]
    assert len(harness.failures) == 1 and "natswire: trial timed out" in harness.failures[0]


def test_memory_overhead_ratio_is_natswire_over_nats_py() -> None:
    row = rows_for("memory", 1024)[0]
    row.values = {"natswire": {0: 100.0, 1: 90.0}, "nats-py": {0: 300.0, 1: 300.0}}
    interval = overhead_ratio(row)
    assert interval is not None
    assert interval.median == pytest.approx((100 / 300 + 90 / 300) / 2)
