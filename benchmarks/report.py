"""The tables and the JSON document: figures, paired ratios with their intervals, verdicts."""

from __future__ import annotations

import statistics
from typing import Any

from .paired import MIN_PAIRS_FOR_CONFIDENCE, Interval, median_interval, pair_ratios
from .rows import Index, Ratio, Ref, Row, index_rows, resolve


def ratio_pairs(index: Index, row: Row, ratio: Ratio) -> list[float]:
    """The per-round ratios of ``ratio.num`` over ``ratio.den`` (inverted for
    lower-is-better units: >1 means the numerator is better)."""
    num_row, den_row = resolve(index, row, ratio.num), resolve(index, row, ratio.den)
    if num_row is None or den_row is None:
        return []
    return pair_ratios(
        num_row.values.get(ratio.num[1], {}),
        den_row.values.get(ratio.den[1], {}),
        num_row.higher_is_better,
    )


def ratio_interval(index: Index, row: Row, ratio: Ratio) -> Interval | None:
    """The median of the pair ratios with its confidence interval; None without pairs."""
    return median_interval(ratio_pairs(index, row, ratio))


def widest_spread(rows: list[Row]) -> float:
    """The largest spread of the ratios of ``rows`` that gate ``--until-spread`` (inf while
    one has fewer pairs than its interval needs to reach its confidence). Ratios without
    any pair (a client failed every round) do not hold the rounds up."""
    index = index_rows(rows)
    worst = 0.0
    for row in rows:
        if not row.gates_until_spread:
            continue
        for ratio in row.ratios:
            interval = ratio_interval(index, row, ratio) if ratio is not None else None
            if interval is None:
                continue
            if interval.count < MIN_PAIRS_FOR_CONFIDENCE:
                return float("inf")
            worst = max(worst, interval.spread)
    return worst


def fmt(value: float, unit: str) -> str:
    """A figure as the table shows it."""
    if unit == "µs":
        return f"{value:.0f}"
    if unit == "B/msg":
        return f"{value:,.0f}"
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    if value >= 1e3:
        return f"{value / 1e3:.1f}k"
    return f"{value:.0f}"


def _verdict(interval: Interval | None, target: float | None) -> str:
    """PASS/FAIL on the median; ``*`` when the target lies inside the interval, so that
    more pairs could still turn the verdict."""
    if target is None:
        return "-"
    if interval is None:
        return f"≥{target:g} ?"
    verdict = "PASS" if interval.median >= target else "FAIL"
    undecided = interval.count > 1 and interval.low < target <= interval.high
    return f"≥{target:g} {verdict}{'*' if undecided else ''}"


def _cell(row: Row, client: str) -> str:
    if client not in row.sources:
        return "-"
    values = row.figures(client)
    failed = any(e.startswith(client + ":") for e in row.errors)
    if not values:
        return "FAILED" if failed else "-"
    text = fmt(statistics.median(values), row.unit)
    if len(values) > 1:
        low, high = min(values), max(values)
        dash = ".." if low < 0 else "-"
        text += f" ({fmt(low, row.unit)}{dash}{fmt(high, row.unit)})"
    if failed:
        text += " !"
    return text


def _ratio_cells(index: Index, row: Row, ratio: Ratio | None) -> list[str]:
    if ratio is None:
        return ["-", "-"]
    interval = ratio_interval(index, row, ratio)
    if interval is None:
        return ["-", _verdict(None, ratio.target)]
    text = f"{interval.median:.2f}x"
    if interval.count > 1:
        text += f" [{interval.low:.2f}-{interval.high:.2f}]"
    if ratio.note:
        text += f" ({ratio.note})"
    return [text, _verdict(interval, ratio.target)]


def render(title: str, rows: list[Row]) -> str:
    """One table: a line per row, then the memory overhead ratios and any failures."""
    head = ["workload", "unit", "natswire", "nats-py", "raw", "nw/py", "target", "nw/raw", "target"]
    index = index_rows(rows)
    lines = []
    for row in rows:
        lines.append(
            [
                row.label,
                row.unit,
                _cell(row, "natswire"),
                _cell(row, "nats-py"),
                _cell(row, "raw"),
                *_ratio_cells(index, row, row.ratios[0]),
                *_ratio_cells(index, row, row.ratios[1]),
            ]
        )
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines, strict=True)]
    out = [
        title,
        "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    out += [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    ]
    out += _overhead_lines(rows)
    failed = [(row, e) for row in rows for e in row.errors]
    for row, err in failed:
        out.append(f"!!! {row.label}: {err}")
    return "\n".join(out)


def overhead_ratio(row: Row) -> Interval | None:
    """A memory row's natswire overhead over nats-py's (<1 means natswire keeps less):
    the median of the per-round ratios."""
    return median_interval(
        pair_ratios(row.values.get("natswire", {}), row.values.get("nats-py", {}), True)
    )


def _overhead_lines(rows: list[Row]) -> list[str]:
    parts = []
    for row in rows:
        if row.workload != "memory":
            continue
        interval = overhead_ratio(row)
        if interval is None:
            continue
        how = row.label.rsplit("(", 1)[-1].rstrip(")")
        text = f"{how} {interval.median:.2f}"
        if interval.count > 1:
            text += f" [{interval.low:.2f}-{interval.high:.2f}]"
        parts.append(text)
    if not parts:
        return []
    return [
        "memory overhead per pending message, natswire/nats-py (target ≤ 0.33): " + "; ".join(parts)
    ]


def _interval_json(interval: Interval | None, pairs: list[float]) -> dict[str, Any]:
    if interval is None:
        return {"ratio": None, "pairs": pairs}
    return {
        "ratio": interval.median,
        "low": interval.low,
        "high": interval.high,
        "coverage": interval.coverage,
        # one pair has no spread to speak of, rather than none
        "spread": interval.spread if interval.count > 1 else None,
        "pairs": pairs,
    }


def _ref_json(index: Index, row: Row, ref: Ref) -> dict[str, Any]:
    target = resolve(index, row, ref)
    return {"row": target.label if target else ref[0], "client": ref[1]}


def row_json(loop: str, row: Row, index: Index) -> dict[str, Any]:
    """Everything about one row: each client's figures by round, each ratio's pairs,
    median, interval and verdict."""
    ratios = []
    for ratio in row.ratios:
        if ratio is None:
            continue
        pairs = ratio_pairs(index, row, ratio)
        interval = median_interval(pairs)
        value = interval.median if interval else None
        ratios.append(
            {
                "numerator": _ref_json(index, row, ratio.num),
                "denominator": _ref_json(index, row, ratio.den),
                **_interval_json(interval, pairs),
                "target": ratio.target,
                "pass": None if ratio.target is None or value is None else value >= ratio.target,
                "decided": None
                if ratio.target is None or interval is None or interval.count < 2
                else not interval.low < ratio.target <= interval.high,
            }
        )
    py, raw = (
        ratio_interval(index, row, Ratio(("", "natswire"), ("", other)))
        for other in ("nats-py", "raw")
    )
    doc: dict[str, Any] = {
        "loop": loop,
        "workload": row.workload,
        "size": row.size,
        "metric": row.metric,
        "n": row.n,
        "warmup": row.warmup,
        "label": row.label,
        "unit": row.unit,
        "higher_is_better": row.higher_is_better,
        "sources": row.sources,
        "clients": {
            c: {
                "median": statistics.median(v),
                "min": min(v),
                "max": max(v),
                "trials": v,
                "rounds": sorted(row.values[c]),
            }
            for c in row.values
            if (v := row.figures(c))
        },
        "natswire_vs_natspy": py.median if py else None,
        "natswire_vs_raw": raw.median if raw else None,
        "target_vs_natspy": row.target_py,
        "target_vs_raw": row.target_raw,
        "pass_vs_natspy": None
        if row.target_py is None or py is None
        else py.median >= row.target_py,
        "pass_vs_raw": None
        if row.target_raw is None or raw is None
        else raw.median >= row.target_raw,
        "ratios": ratios,
        "failed": bool(row.errors),
        "errors": row.errors,
    }
    if row.workload == "memory":
        overhead = overhead_ratio(row)
        doc["overhead_natswire_over_natspy"] = overhead.median if overhead else None
    return doc
