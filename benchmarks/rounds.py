"""Runs one workload's trials in paired rounds and files each figure under its round.

A round runs every trial the workload's rows need once (each in a fresh worker process,
see harness.py), in the order ``paired.round_order`` gives: the trials a ratio compares
side by side, the order reversed every other round. With ``--until-spread`` rounds are
added until the widest interval of the rows' ratios is within the bound, or a cap is hit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from .common import CLIENTS
from .harness import Harness
from .paired import MIN_PAIRS_FOR_CONFIDENCE, in_round, round_order
from .report import fmt, widest_spread
from .rows import Row, index_rows, n_for, resolve, rows_for, warmup_for

#: One trial: (client, worker workload).
Job = tuple[str, str]


@dataclass(frozen=True)
class TrialPlan:
    """How many rounds a workload gets: ``trials``, then, with ``until_spread``, more until
    every gating ratio's interval lies within ±until_spread of its median (and has at
    least MIN_PAIRS_FOR_CONFIDENCE pairs), at most ``max_trials`` rounds and no new round
    after ``max_seconds``."""

    trials: int
    quick: bool = False
    until_spread: float | None = None
    max_trials: int = 15
    max_seconds: float = 900.0


def workload_jobs(rows: list[Row]) -> tuple[list[Job], list[tuple[Job, Job]]]:
    """The trials the rows need, in row and column order, and the (numerator,
    denominator) trial pairs their ratios compare."""
    jobs: list[Job] = []
    for row in rows:
        for client in CLIENTS:
            kind = row.sources.get(client)
            if kind is not None and (client, kind) not in jobs:
                jobs.append((client, kind))
    index = index_rows(rows)
    pairs: list[tuple[Job, Job]] = []
    for row in rows:
        for ratio in row.ratios:
            if ratio is None:
                continue
            num_row, den_row = resolve(index, row, ratio.num), resolve(index, row, ratio.den)
            if num_row is None or den_row is None:
                continue
            num_kind = num_row.sources.get(ratio.num[1])
            den_kind = den_row.sources.get(ratio.den[1])
            if num_kind is not None and den_kind is not None:
                pairs.append(((ratio.num[1], num_kind), (ratio.den[1], den_kind)))
    return jobs, pairs


def fill_above_floor(rows: list[Row]) -> None:
    """Each above-floor row's figures: its latency row's figure of each client minus the
    raw client's figure of the same round."""
    index = index_rows(rows)
    for row in rows:
        if row.above_floor is None:
            continue
        source = index[(row.workload, row.size, row.above_floor)]
        floor = source.values.get("raw", {})
        row.values = {
            client: {r: v - floor[r] for r, v in rounds.items() if r in floor}
            for client, rounds in source.values.items()
            if client in row.sources
        }


def run_workload(
    h: Harness, workload: str, size: int, loop: str, plan: TrialPlan, log: Any
) -> list[Row]:
    """The workload's rows at ``size`` on ``loop``, filled round by round."""
    rows = rows_for(workload, size)
    jobs, pairs = workload_jobs(rows)
    order = round_order(pairs, jobs)
    sizes_n = {kind: n_for(kind, size, plan.quick) for _, kind in jobs}
    for row in rows:
        # A ceiling row has no natswire column: its n is the raw client's trial's.
        sources = row.sources
        kind = sources.get("natswire") or sources.get("raw") or next(iter(sources.values()))
        row.n = sizes_n[kind]
        row.warmup = warmup_for(kind, row.n)
        if workload == "memory":
            row.label = f"memory {row.n // 1000}k x {size} B pending, " + row.label.split(", ")[-1]
        if workload == "obj":
            row.label = f"{row.label} of a {row.n} MiB object"
    started = time.monotonic()
    where = f"[{loop}] {workload} {size} B"
    round_index = 0
    while True:
        _run_round(h, rows, in_round(order, round_index), round_index, sizes_n, size, loop, log)
        round_index += 1
        if round_index < plan.trials:
            continue
        if not _wants_another_round(rows, plan, round_index, started, where, log):
            break
    fill_above_floor(rows)
    return rows


def _wants_another_round(
    rows: list[Row], plan: TrialPlan, done: int, started: float, where: str, log: Any
) -> bool:
    """Whether ``--until-spread`` asks for another round after ``done`` rounds; logs why
    it stops when it does."""
    if plan.until_spread is None:
        return False
    fill_above_floor(rows)
    spread = widest_spread(rows)
    where = f"{where} after {done} rounds"
    if spread <= plan.until_spread:
        print(f"{where}: widest spread ±{spread:.1%} ≤ ±{plan.until_spread:.1%}", file=log)
        return False
    if done < plan.max_trials and time.monotonic() - started <= plan.max_seconds:
        return True
    shown = (
        f"±{spread:.1%}"
        if spread != float("inf")
        else f"not known (fewer than {MIN_PAIRS_FOR_CONFIDENCE} pairs)"
    )
    print(
        f"{where}: widest spread {shown}, bound ±{plan.until_spread:.1%} not reached "
        f"(cap: {plan.max_trials} rounds, {plan.max_seconds:.0f} s)",
        file=log,
        flush=True,
    )
    return False


def _run_round(
    h: Harness,
    rows: list[Row],
    order: list[Job],
    round_index: int,
    sizes_n: dict[str, int],
    size: int,
    loop: str,
    log: Any,
) -> None:
    for client, kind in order:
        n = sizes_n[kind]
        fed = [r for r in rows if r.sources.get(client) == kind and r.above_floor is None]
        tag = f"[{loop}] {kind} {size} B n={n} round {round_index + 1} {client}"
        started = time.monotonic()
        res = h.trial(client, kind, size, n, warmup_for(kind, n), loop)
        if client != "natswire" and "timed out" in str(res.get("error", "")):
            # A reference client that hangs once (nats-py has, here, once in many runs)
            # is not what is measured: it gets one more trial, said so in the log.
            # natswire gets none: a hang of the client under test fails the row.
            print(f"!!! {tag}: {res['error']}; running it once more", file=log, flush=True)
            started = time.monotonic()
            res = h.trial(client, kind, size, n, warmup_for(kind, n), loop)
        took = time.monotonic() - started
        if "error" in res:
            msg = f"{tag}: {res['error']}"
            print(f"!!! FAILED {msg}", file=log, flush=True)
            if res.get("stderr") and h.verbose:
                print(res["stderr"], file=log, flush=True)
            h.failures.append(msg)
            for row in fed:
                row.errors.append(f"{client}: {res['error']}")
            continue
        metrics = res["metrics"]
        for row in fed:
            row.values.setdefault(client, {})[round_index] = metrics[row.metric]
        shown = ", ".join(
            dict.fromkeys(f"{r.metric}={fmt(metrics[r.metric], r.unit)}" for r in fed[:3])
        )
        print(f"{tag}: {shown} ({took:.1f} s)", file=log, flush=True)
