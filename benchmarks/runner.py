"""``python -m benchmarks``: natswire vs nats-py vs raw, side by side, against one nats-server.

One embedded nats-server (with monitoring) serves every trial. Each trial runs in a fresh
process (``python -m benchmarks.worker``); the clients alternate trial by trial (the order
rotates, so none is always first after a pause); each row reports the median of the trials
with the spread (min-max). The server's ``/varz`` ``in_msgs``/``out_msgs`` deltas around
every trial are checked against what the trial says it sent and received (JetStream
trials check the stream's and the consumer's state as the server reports it): a
mismatch, a client error or a timeout marks the row FAILED and the run exits non-zero.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from natswire.httpjson import get_json
from natswire.server import NatsServer

from .common import CLIENTS, MEM_SUBJECT, RECV_SUBJECT

WORKLOADS = (
    "pub",
    "pubsub",
    "recv",
    "reqreply",
    "inflight",
    "service",
    "fanout",
    "queue",
    "parse",
    "memory",
    "jspub",
    "jsfetch",
    "jspush",
    "kv",
    "obj",
    "amqp",
    "ws",
    "blocking",
)
#: Workloads that start their own brokers and run alone (not in the default list).
STANDALONE = ("amqp-scale",)
#: Workloads measured once, not per event loop (the parser runs no loop; RSS per pending
#: message does not depend on it).
LOOP_INDEPENDENT = ("parse", "memory", "blocking")
#: Workloads run at every --sizes size; the others use 16 B (memory: 1 KiB, per the issue).
SIZED = ("pub", "pubsub", "recv")
#: The SIZED rows' nw/py targets (16 B only; nw/raw: 0.7).
SIZED_TARGET_PY = {"pub": 2.5, "pubsub": 3.0, "recv": 3.5}

#: messages per trial in full mode, by worker workload and size (other sizes: interpolated)
FULL_N: dict[str, dict[int, int]] = {
    "pub": {16: 1_000_000, 128: 500_000, 1024: 200_000},
    "pubsub": {16: 300_000, 128: 200_000, 1024: 100_000},
    "recv": {16: 500_000, 128: 300_000, 1024: 150_000},
    "reqreply": {16: 5_000},
    "inflight": {16: 20_000},
    "service": {16: 20_000},
    "fanout": {16: 100_000},
    "queue": {16: 300_000},
    "parse": {16: 100_000},
    "memory": {1024: 100_000},
    "jspub": {16: 20_000},
    "jspubasync": {16: 100_000},
    "jsfetch": {16: 100_000},
    "jsflow": {16: 30_000},
    "jspush": {16: 100_000},
    "jsordered": {16: 100_000},
    "kvput": {16: 20_000},
    "kvget": {16: 20_000},
    "kvwatch": {16: 100_000},
    "objput": {16: 64},
    "objget": {16: 64},
    "amqp": {16: 30_000},
    "wspub": {16: 300_000},
    "wspubsub": {16: 100_000},
    "syncpub": {16: 300_000},
    "syncreq": {16: 5_000},
    "pyrunpub": {16: 300},
    "pyrunreq": {16: 300},
}
QUICK_N: dict[str, int] = {
    "pub": 20_000,
    "pubsub": 5_000,
    "recv": 10_000,
    "reqreply": 200,
    "inflight": 1_000,
    "service": 1_000,
    "fanout": 2_000,
    "queue": 5_000,
    "parse": 10_000,
    "memory": 20_000,
    "jspub": 300,
    "jspubasync": 2_000,
    "jsfetch": 2_000,
    "jsflow": 1_000,
    "jspush": 2_000,
    "jsordered": 2_000,
    "kvput": 300,
    "kvget": 300,
    "kvwatch": 2_000,
    "objput": 4,
    "objget": 4,
    "amqp": 1_000,
    "wspub": 5_000,
    "wspubsub": 2_000,
    "syncpub": 5_000,
    "syncreq": 200,
    "pyrunpub": 20,
    "pyrunreq": 20,
}

LABELS = {
    "pub": "publish",
    "pubsub": "pub→sub",
    "recv": "receive-only",
    "reqreply": "req-reply seq",
    "inflight": "req-reply 100 in flight",
    "service": "service endpoint 100 in flight",
    "fanout": "fan-out 1→4",
    "queue": "queue group 4",
    "parse": "parser",
    "memory": "memory 100k x 1 KiB pending",
    "jspub": "JS publish+ack",
    "jsfetch": "JS fetch+ack",
    "jspush": "JS push",
    "kv": "KV",
    "obj": "Object Store",
    "amqp": "pub→consume→ack",
    "ws": "over WebSocket",
    "blocking": "blocking",
}
PARSE_VARIANTS = ("msg16", "msg16u", "msg1k", "hmsg")
PARSE_LABELS = {
    "msg16": "MSG 16 B",
    "msg16u": "MSG 16 B unique replies",
    "msg1k": "MSG 1 KiB",
    "hmsg": "HMSG 16 B",
}


#: A figure of the table: (row key, column); the key "" is the row the ratio is on.
Ref = tuple[str, str]


@dataclass(frozen=True)
class Ratio:
    """One comparison shown in a ratio column: ``num``'s median over ``den``'s, turned so
    that >1 means ``num`` is better, checked against ``target`` when there is one.
    ``note`` names the pair in the cell when it is not the column's default
    (natswire/nats-py, natswire/raw of the same row)."""

    num: Ref
    den: Ref
    target: float | None = None
    note: str = ""


@dataclass
class Row:
    """One line of the table: one metric of one workload at one size.

    ``sources`` says which worker workload fills each column (default: every client
    runs the row's workload); a column without a source shows "-". ``ratios`` are the
    two ratio columns (default: natswire/nats-py against ``target_py`` and
    natswire/raw against ``target_raw``). ``key`` names the row for other rows' ratios.
    """

    workload: str
    size: int
    metric: str
    label: str
    unit: str
    higher_is_better: bool
    target_py: float | None = None
    target_raw: float | None = None
    n: int = 0
    warmup: int = 0
    values: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    key: str = ""
    sources: dict[str, str] = field(default_factory=dict)
    ratios: list[Ratio | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.sources:
            self.sources = {c: self.workload for c in CLIENTS}
        if not self.ratios:
            self.ratios = [
                Ratio(("", "natswire"), ("", "nats-py"), self.target_py),
                Ratio(("", "natswire"), ("", "raw"), self.target_raw),
            ]


def _js_row(
    workload: str,
    key: str,
    source: str,
    label: str,
    ratios: list[Ratio | None],
    clients: tuple[str, ...],
) -> Row:
    """A JetStream, adapter or WebSocket row: 16 B, msg/s, no raw column."""
    return Row(
        workload,
        16,
        "rate",
        label,
        "msg/s",
        True,
        key=key,
        sources={c: source for c in clients},
        ratios=ratios,
    )


def rows_for(workload: str, size: int) -> list[Row]:
    label = LABELS[workload]
    is16 = size == 16
    if workload in SIZED:
        return [
            Row(
                workload,
                size,
                "rate",
                f"{label} {size} B",
                "msg/s",
                True,
                SIZED_TARGET_PY[workload] if is16 else None,
                0.7 if is16 else None,
            )
        ]
    if workload == "reqreply":
        return [
            Row(workload, size, "rate", f"{label} {size} B", "req/s", True, 1.2, 0.7),
            Row(workload, size, "p50", f"{label} p50", "µs", False),
            Row(workload, size, "p99", f"{label} p99", "µs", False),
        ]
    if workload == "inflight":
        return [Row(workload, size, "rate", f"{label}", "req/s", True, 2.0, 0.7)]
    if workload == "service":
        # The service under test in each column; the caller is one process for both.
        return [
            Row(
                workload,
                size,
                "rate",
                label,
                "req/s",
                True,
                sources={"natswire": "service", "nats-py": "service"},
                ratios=[Ratio(("", "natswire"), ("", "nats-py"), 3.0), None],
            ),
            Row(
                workload,
                size,
                "cpu_us",
                "service CPU per request",
                "µs",
                False,
                key="cpu",
                sources={"natswire": "service", "nats-py": "service"},
                ratios=[Ratio(("", "natswire"), ("", "nats-py")), None],
            ),
        ]
    if workload in ("fanout", "queue"):
        return [Row(workload, size, "rate", f"{label} {size} B", "msg/s", True)]
    if workload == "parse":
        return [
            Row(
                workload,
                size,
                f"{v}_{m}",
                f"{label} {PARSE_LABELS[v]} {m}",
                "frames/s",
                True,
                # The targets are set for 16 B MSG frames only.
                2.0 if v == "msg16" else None,
                0.7 if v == "msg16" else None,
            )
            for v in PARSE_VARIANTS
            for m in ("whole", "chunked")
        ]
    if workload == "memory":
        return [Row(workload, size, "bytes_per_msg", label, "B/msg", False, 1.0, None)]
    nw_py = ("natswire", "nats-py")
    if workload == "jspub":
        return [
            _js_row(
                workload,
                "seq",
                "jspub",
                f"{label} sequential {size} B",
                [Ratio(("", "natswire"), ("", "nats-py"), 1.2), None],
                nw_py,
            ),
            _js_row(
                workload,
                "win",
                "jspubasync",
                f"{label} windowed {size} B",
                [
                    Ratio(("", "natswire"), ("seq", "nats-py"), 3.0, "nw win/py seq"),
                    Ratio(("", "natswire"), ("", "nats-py"), None, "nw win/py win"),
                ],
                nw_py,
            ),
        ]
    if workload == "jsfetch":
        return [
            _js_row(
                workload,
                "fetch",
                "jsfetch",
                f"{label} {size} B",
                [Ratio(("", "natswire"), ("", "nats-py"), 2.0), None],
                nw_py,
            )
        ]
    if workload == "jspush":
        return [
            _js_row(
                workload,
                kind,
                kind,
                f"{label} {what} {size} B",
                [Ratio(("", "natswire"), ("", "nats-py"), 3.0), None],
                nw_py,
            )
            for kind, what in (("jspush", "auto-ack"), ("jsordered", "ordered consumer"))
        ]
    if workload == "kv":
        return [
            Row(
                workload,
                16,
                "rate",
                f"{label} {what} {size} B",
                "op/s",
                True,
                key=kind,
                sources={c: kind for c in nw_py},
                ratios=[Ratio(("", "natswire"), ("", "nats-py"), target), None],
            )
            for kind, what, target in (
                ("kvput", "put (sequential, acked)", 2.0),
                ("kvget", "get (Direct Get)", 2.0),
                ("kvwatch", "watch updates", None),
            )
        ]
    if workload == "obj":
        rows = [
            Row(
                workload,
                16,
                "rate",
                f"{label} {what}",
                "MB/s",
                True,
                key=kind,
                sources={c: kind for c in nw_py},
                ratios=[Ratio(("", "natswire"), ("", "nats-py"), target), None],
            )
            for kind, what, target in (("objput", "put", None), ("objget", "get", 3.0))
        ]
        # The get row's raw column is a plain loopback socket copy of the same size.
        rows[1].sources["raw"] = "objget"
        rows[1].ratios[1] = Ratio(("", "natswire"), ("", "raw"), 0.5, "nw/socket copy")
        return rows
    if workload == "amqp":
        return [
            _js_row(
                workload,
                "js",
                "jsflow",
                f"JS {label} {size} B",
                [Ratio(("", "natswire"), ("", "nats-py")), None],
                nw_py,
            ),
            _js_row(
                workload,
                "adapter",
                "amqp",
                f"AMQP adapter {label} {size} B",
                [
                    Ratio(("", "natswire"), ("js", "nats-py"), None, "amqp/py JS"),
                    Ratio(("", "natswire"), ("js", "natswire"), 0.8, "amqp/nw JS"),
                ],
                ("natswire",),
            ),
        ]
    if workload == "ws":
        # nats-py speaks WebSocket through aiohttp; raw has no WebSocket client.
        return [
            _js_row(
                workload,
                kind,
                kind,
                f"{what} {label} {size} B",
                [Ratio(("", "natswire"), ("", "nats-py"), 3.0), None],
                nw_py,
            )
            for kind, what in (("wspub", "publish"), ("wspubsub", "pub→sub"))
        ]
    if workload == "blocking":
        return blocking_rows(size)
    raise ValueError(workload)


def blocking_rows(size: int) -> list[Row]:
    """Code without an event loop: natswire.sync in the natswire column, nats-py driven
    by ``asyncio.run`` per call in the nats-py column (``nw/py``), and natswire's
    asyncio client on the reference rows (``sync/async``: the blocking figure over the
    asyncio one)."""

    def row(key: str, sources: dict[str, str], label: str, unit: str, metric: str = "rate") -> Row:
        return Row(
            "blocking",
            16,
            metric,
            label,
            unit,
            unit != "µs",
            key=key,
            sources=sources,
            ratios=[],
        )

    rows = [
        row(
            "pub", {"natswire": "syncpub", "nats-py": "pyrunpub"}, "blocking publish 16 B", "msg/s"
        ),
        row("apub", {"natswire": "pub"}, "asyncio publish 16 B (reference)", "msg/s"),
        row(
            "req",
            {"natswire": "syncreq", "nats-py": "pyrunreq"},
            "blocking req-reply 16 B",
            "req/s",
        ),
        row(
            "req50",
            {"natswire": "syncreq", "nats-py": "pyrunreq"},
            "blocking req-reply p50",
            "µs",
            "p50",
        ),
        row("areq", {"natswire": "reqreply"}, "asyncio req-reply 16 B (reference)", "req/s"),
    ]
    pub, _, req, req50, _ = rows
    pub.ratios = [
        Ratio(("", "natswire"), ("", "nats-py"), 100.0),
        Ratio(("", "natswire"), ("apub", "natswire"), 0.3, "sync/async"),
    ]
    req.ratios = [
        Ratio(("", "natswire"), ("", "nats-py"), 10.0),
        Ratio(("", "natswire"), ("areq", "natswire"), 0.7, "sync/async"),
    ]
    req50.ratios = [Ratio(("", "natswire"), ("", "nats-py")), None]
    rows[1].ratios = rows[4].ratios = [None, None]
    return rows


def n_for(workload: str, size: int, quick: bool) -> int:
    if quick:
        return QUICK_N[workload]
    table = FULL_N[workload]
    if size in table:
        return table[size]
    # interpolate on frame size (bytes of payload + ~40 bytes of framing)
    base_size, base_n = min(table.items())
    return max(1_000, int(base_n * (base_size + 40) / (size + 40)))


def warmup_for(workload: str, n: int) -> int:
    if workload in ("parse", "memory"):
        return 0
    return max(10, n // 10)


# --------------------------------------------------------------------------- processes


class Harness:
    def __init__(
        self, server: NatsServer, python: str, trial_timeout: float, verbose: bool
    ) -> None:
        self.server = server
        self.python = python
        self.trial_timeout = trial_timeout
        self.verbose = verbose
        self.responder: subprocess.Popen[str] | None = None
        self.failures: list[str] = []

    def varz(self) -> dict[str, Any]:
        data: dict[str, Any] = get_json(f"{self.server.monitor_url}/varz")
        return data

    def counters(self) -> tuple[int, int]:
        v = self.varz()
        return int(v["in_msgs"]), int(v["out_msgs"])

    def ensure_responder(self) -> None:
        if self.responder is not None and self.responder.poll() is None:
            return
        proc = subprocess.Popen(
            [self.python, "-m", "benchmarks.responder", "--url", self.server.url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=_ROOT,
        )
        assert proc.stdout is not None
        if not _wait_line(proc, "READY", 30):
            proc.kill()
            raise RuntimeError("the request-reply responder did not start")
        self.responder = proc

    def stop_responder(self) -> None:
        proc, self.responder = self.responder, None
        if proc is None:
            return
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def trial(
        self, client: str, workload: str, size: int, n: int, warmup: int, loop: str
    ) -> dict[str, Any]:
        """Run one trial in a fresh process; return its result or {"error": ...}."""
        if workload in ("reqreply", "inflight", "syncreq", "pyrunreq"):
            self.ensure_responder()
        needs_sender = workload == "recv" or (workload == "memory" and n > 0)
        cmd = [
            self.python,
            "-m",
            "benchmarks.worker",
            "--client",
            client,
            "--workload",
            workload,
            "--size",
            str(size),
            "--n",
            str(n),
            "--warmup",
            str(warmup),
            "--url",
            # The ws* workloads connect to the WebSocket listener.
            self.server.websocket_url if workload.startswith("ws") else self.server.url,
            "--loop",
            loop,
        ]
        check = workload != "parse"
        before = self.counters() if check else (0, 0)
        with tempfile.TemporaryFile("w+") as errfile:
            proc = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=errfile, text=True, cwd=_ROOT
            )
            sender: subprocess.Popen[bytes] | None = None
            try:
                if needs_sender and _wait_line(proc, "READY", 60):
                    subject = RECV_SUBJECT if workload == "recv" else MEM_SUBJECT
                    sender = subprocess.Popen(
                        [
                            self.python,
                            "-m",
                            "benchmarks.sender",
                            "--url",
                            self.server.url,
                            "--subject",
                            subject,
                            "--size",
                            str(size),
                            "--count",
                            str(n + warmup),
                        ],
                        stderr=subprocess.PIPE,
                        cwd=_ROOT,
                    )
                out, _ = proc.communicate(timeout=self.trial_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                out = json.dumps({"error": f"trial timed out after {self.trial_timeout:.0f} s"})
            finally:
                sender_err = ""
                if sender is not None:
                    try:
                        _, err = sender.communicate(timeout=60)
                        if sender.returncode:
                            sender_err = err.decode(errors="replace")[-500:]
                    except subprocess.TimeoutExpired:
                        sender.kill()
                        sender.communicate()
                        sender_err = "sender timed out"
            errfile.seek(0)
            stderr = errfile.read()
        result = _last_json(out)
        if result is None:
            result = {"error": f"no result (exit status {proc.returncode}): {stderr[-800:]}"}
        elif "error" in result and stderr:
            result["stderr"] = stderr[-2000:]
        if sender_err and "error" not in result:
            result = {"error": f"sender failed: {sender_err}"}
        if check and "error" not in result:
            problem = self.check_counters(before, result)
            if problem:
                result = {"error": problem, "metrics": result.get("metrics")}
        return result

    def check_counters(self, before: tuple[int, int], result: dict[str, Any]) -> str | None:
        want_in, want_out = result.get("expect_in"), result.get("expect_out")
        if want_in is None or want_out is None:
            return None
        deadline = time.monotonic() + 3.0
        while True:
            now_in, now_out = self.counters()
            got_in, got_out = now_in - before[0], now_out - before[1]
            if (got_in, got_out) == (want_in, want_out) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if (got_in, got_out) != (want_in, want_out):
            return (
                f"server counters disagree: in_msgs +{got_in} (expected +{want_in}), "
                f"out_msgs +{got_out} (expected +{want_out})"
            )
        return None


_ROOT = str(Path(__file__).resolve().parent.parent)


def _wait_line(proc: subprocess.Popen[str], text: str, timeout: float) -> bool:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            if not line:
                return False
            if line.strip() == text:
                return True
        elif proc.poll() is not None:
            return False
    return False


def _last_json(out: str) -> dict[str, Any] | None:
    for line in reversed(out.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value: dict[str, Any] = json.loads(line)
                return value
            except ValueError:
                return None
    return None


# --------------------------------------------------------------------------- run


def run_workload(
    h: Harness, workload: str, size: int, loop: str, trials: int, quick: bool, log: Any
) -> list[Row]:
    rows = rows_for(workload, size)
    # The trials to run: (client, worker workload) pairs, in row and column order.
    jobs: list[tuple[str, str]] = []
    for row in rows:
        for client in CLIENTS:
            kind = row.sources.get(client)
            if kind is not None and (client, kind) not in jobs:
                jobs.append((client, kind))
    sizes_n = {kind: n_for(kind, size, quick) for _, kind in jobs}
    for row in rows:
        kind = next(iter(row.sources.values()))
        row.n = sizes_n[kind]
        row.warmup = warmup_for(kind, row.n)
        if workload == "memory":
            row.label = f"memory {row.n // 1000}k x {size} B pending"
        if workload == "obj":
            row.label = f"{row.label} of a {row.n} MiB object"
    baseline: dict[str, list[float]] = {c: [] for c in CLIENTS}
    peaks: dict[str, list[float]] = {c: [] for c in CLIENTS}
    for t in range(trials):
        shift = t % len(jobs)
        for client, kind in jobs[shift:] + jobs[:shift]:
            n = sizes_n[kind]
            warmup = warmup_for(kind, n)
            fed = [row for row in rows if row.sources.get(client) == kind]
            for job_n in [n, 0] if workload == "memory" else [n]:
                started = time.monotonic()
                res = h.trial(client, kind, size, job_n, warmup, loop)
                took = time.monotonic() - started
                tag = f"[{loop}] {kind} {size} B n={job_n} trial {t + 1}/{trials} {client}"
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
                if workload == "memory":
                    (peaks if job_n else baseline)[client].append(metrics["peak_rss"])
                    shown = f"peak RSS {metrics['peak_rss'] / 1e6:.1f} MB"
                else:
                    for row in fed:
                        row.values.setdefault(client, []).append(metrics[row.metric])
                    shown = ", ".join(
                        f"{r.metric}={_fmt(metrics[r.metric], r.unit)}" for r in fed[:3]
                    )
                print(f"{tag}: {shown} ({took:.1f} s)", file=log, flush=True)
    if workload == "memory":
        row = rows[0]
        for client in CLIENTS:
            if peaks[client] and baseline[client]:
                base = statistics.median(baseline[client])
                row.values[client] = [(p - base) / row.n for p in peaks[client]]
    return rows


# --------------------------------------------------------------------------- output


def _fmt(value: float, unit: str) -> str:
    if unit == "µs":
        return f"{value:.0f}"
    if unit == "B/msg":
        return f"{value:,.0f}"
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    if value >= 1e3:
        return f"{value / 1e3:.1f}k"
    return f"{value:.0f}"


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _advantage(row: Row, other: str) -> float | None:
    """natswire's advantage over ``other``: >1 means natswire is better."""
    return _ratio({}, row, Ratio(("", "natswire"), ("", other)))


Index = dict[tuple[str, int, str], Row]


def _index(rows: list[Row]) -> Index:
    return {(r.workload, r.size, r.key): r for r in rows}


def _resolve(index: Index, row: Row, ref: Ref) -> Row | None:
    return row if not ref[0] else index.get((row.workload, row.size, ref[0]))


def _ratio(index: Index, row: Row, ratio: Ratio) -> float | None:
    """``ratio.num`` over ``ratio.den`` (inverted for lower-is-better units): >1 means
    the numerator is better; None when either figure is missing."""
    num_row, den_row = _resolve(index, row, ratio.num), _resolve(index, row, ratio.den)
    if num_row is None or den_row is None:
        return None
    mine = _median(num_row.values.get(ratio.num[1], []))
    theirs = _median(den_row.values.get(ratio.den[1], []))
    if mine is None or theirs is None or mine <= 0 or theirs <= 0:
        return None
    return mine / theirs if num_row.higher_is_better else theirs / mine


def _verdict(ratio: float | None, target: float | None) -> str:
    if target is None:
        return "-"
    if ratio is None:
        return f"≥{target:g} ?"
    return f"≥{target:g} {'PASS' if ratio >= target else 'FAIL'}"


def _cell(row: Row, client: str) -> str:
    if client not in row.sources:
        return "-"
    values = row.values.get(client, [])
    failed = any(e.startswith(client + ":") for e in row.errors)
    if not values:
        return "FAILED" if failed else "-"
    med = statistics.median(values)
    text = _fmt(med, row.unit)
    if len(values) > 1:
        text += f" ({_fmt(min(values), row.unit)}-{_fmt(max(values), row.unit)})"
    if failed:
        text += " !"
    return text


def _ratio_cells(index: Index, row: Row, ratio: Ratio | None) -> list[str]:
    if ratio is None:
        return ["-", "-"]
    value = _ratio(index, row, ratio)
    text = f"{value:.2f}x" if value else "-"
    if value and ratio.note:
        text += f" ({ratio.note})"
    return [text, _verdict(value, ratio.target)]


def render(title: str, rows: list[Row]) -> str:
    head = ["workload", "unit", "natswire", "nats-py", "raw", "nw/py", "target", "nw/raw", "target"]
    index = _index(rows)
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
    failed = [(row, e) for row in rows for e in row.errors]
    for row, err in failed:
        out.append(f"!!! {row.label}: {err}")
    return "\n".join(out)


def _ref_json(index: Index, row: Row, ref: Ref) -> dict[str, Any]:
    target = _resolve(index, row, ref)
    return {"row": target.label if target else ref[0], "client": ref[1]}


def row_json(loop: str, row: Row, index: Index) -> dict[str, Any]:
    py, raw = _advantage(row, "nats-py"), _advantage(row, "raw")
    ratios = []
    for ratio in row.ratios:
        if ratio is None:
            continue
        value = _ratio(index, row, ratio)
        ratios.append(
            {
                "numerator": _ref_json(index, row, ratio.num),
                "denominator": _ref_json(index, row, ratio.den),
                "ratio": value,
                "target": ratio.target,
                "pass": None if ratio.target is None or value is None else value >= ratio.target,
            }
        )
    return {
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
            c: {"median": _median(v), "min": min(v), "max": max(v), "trials": v}
            for c, v in row.values.items()
            if v
        },
        "natswire_vs_natspy": py,
        "natswire_vs_raw": raw,
        "target_vs_natspy": row.target_py,
        "target_vs_raw": row.target_raw,
        "pass_vs_natspy": None if row.target_py is None or py is None else py >= row.target_py,
        "pass_vs_raw": None if row.target_raw is None or raw is None else raw >= row.target_raw,
        "ratios": ratios,
        "failed": bool(row.errors),
        "errors": row.errors,
    }


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--loop", choices=("asyncio", "uvloop", "both"), default="asyncio")
    p.add_argument(
        "--workloads",
        default=",".join(WORKLOADS),
        help=f"comma-separated, from: {','.join(WORKLOADS)}; or alone: {','.join(STANDALONE)}",
    )
    p.add_argument("--queues", type=int, default=None, help="amqp-scale: queues (default 20000)")
    p.add_argument(
        "--sizes",
        default=None,
        help="payload sizes for pub, pubsub, recv (default 16,128,1024; --quick: 16)",
    )
    p.add_argument(
        "--trials", type=int, default=None, help="trials per row (default 3; --quick: 1)"
    )
    p.add_argument("--quick", action="store_true", help="tiny N: a smoke run for CI")
    p.add_argument("--json", metavar="FILE", help="write every figure to FILE")
    p.add_argument("--trial-timeout", type=float, default=None, help="seconds per trial")
    p.add_argument("-v", "--verbose", action="store_true", help="show failed workers' stderr")
    args = p.parse_args(argv)
    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    if set(STANDALONE) & set(args.workloads) and len(args.workloads) > 1:
        p.error(f"{','.join(STANDALONE)} runs alone (it starts its own brokers)")
    bad = [w for w in args.workloads if w not in WORKLOADS + STANDALONE]
    if bad:
        p.error(f"unknown workload(s) {bad}; choose from {','.join(WORKLOADS)}")
    if args.sizes is None:
        args.sizes = "16" if args.quick else "16,128,1024"
    args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.trials is None:
        args.trials = 1 if args.quick else 3
    if args.trials < 1:
        p.error("--trials must be at least 1")
    if args.trial_timeout is None:
        args.trial_timeout = 60.0 if args.quick else 300.0
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    loops = ["asyncio", "uvloop"] if args.loop == "both" else [args.loop]
    if "uvloop" in loops:
        try:
            import uvloop  # noqa: F401
        except ImportError:
            print("uvloop is not installed (pip install uvloop)", file=sys.stderr)
            return 2
    log = sys.stderr
    # SIGTERM (a CI timeout, kill PID) unwinds like Ctrl-C so the server is stopped.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    if args.workloads == ["amqp-scale"]:
        from . import amqp_scale

        return amqp_scale.main(args.queues, args.quick, args.json)
    started = time.monotonic()
    server = NatsServer(
        http_port=-1,
        # JetStream for the js* and amqp rows; the store is a private temporary directory.
        jetstream=True,
        # Room for the slowest subscriber to fall behind a fast publisher without the server
        # cutting it off as a slow consumer (losses would be caught, but would fail the row).
        config_extra='max_pending: 1073741824\nwrite_deadline: "120s"',
        # The WebSocket rows (ws) connect here.
        websocket_port=-1,
    )
    server.start()
    harness = Harness(server, sys.executable, args.trial_timeout, args.verbose)
    tables: list[tuple[str, list[Row]]] = []
    meta: dict[str, Any] = {}
    try:
        varz = harness.varz()
        meta = {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "nats_server": varz.get("version"),
            "natswire": _version("natswire"),
            "nats_py": _version("nats-py"),
            "uvloop": _version("uvloop"),
            "trials": args.trials,
            "quick": args.quick,
            "sizes": args.sizes,
            "workloads": args.workloads,
            "loops": loops,
        }
        print(
            f"nats-server {meta['nats_server']} at {server.url}; Python {meta['python']}; "
            f"natswire {meta['natswire']}, nats-py {meta['nats_py']}; "
            f"{args.trials} trial(s) per row{' (quick)' if args.quick else ''}",
            file=log,
        )
        for i, loop in enumerate(loops):
            rows: list[Row] = []
            for workload in args.workloads:
                if workload in LOOP_INDEPENDENT and i > 0:
                    continue
                if workload in SIZED:
                    sizes = args.sizes
                elif workload == "memory":
                    sizes = [1024]
                else:
                    sizes = [16]
                for size in sizes:
                    rows += run_workload(
                        harness, workload, size, loop, args.trials, args.quick, log
                    )
            tables.append((loop, rows))
    finally:
        harness.stop_responder()
        server.stop()
    elapsed = time.monotonic() - started
    header = (
        f"natswire {meta.get('natswire')} vs nats-py {meta.get('nats_py')} vs raw - "
        f"Python {meta.get('python')}, nats-server {meta.get('nats_server')}, "
        f"{meta.get('cpus')} CPUs; median (min-max) of {args.trials} trial(s)"
        f"{', QUICK (smoke) N' if args.quick else ''}\n"
        "nw/py, nw/raw: natswire's advantage (>1 = natswire better; for µs and B/msg "
        "the inverse ratio); targets apply to 16 B rows\n"
        "JetStream (JS), adapter and WebSocket rows: no raw client (-); a ratio that names "
        "its pair compares those figures (nw win/py seq: natswire windowed over nats-py "
        "sequential; amqp/nw JS, amqp/py JS: the adapter over the JS flow row's natswire, nats-py)"
    )
    print(header)
    for loop, rows in tables:
        note = (
            " (parser and memory are loop-independent, run once)"
            if (loop == tables[0][0] and any(r.workload in LOOP_INDEPENDENT for r in rows))
            else ""
        )
        print()
        print(render(f"== event loop: {loop}{note} ==", rows))
    print(f"\ntotal runtime {elapsed:.0f} s")
    if args.json:
        doc = {
            "meta": {**meta, "runtime_seconds": elapsed},
            "rows": [row_json(loop, row, _index(rows)) for loop, rows in tables for row in rows],
            "failures": harness.failures,
        }
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
        print(f"wrote {args.json}")
    if harness.failures:
        print(f"\n!!! {len(harness.failures)} trial(s) FAILED:", file=sys.stderr)
        for failure in harness.failures:
            print(f"!!!   {failure}", file=sys.stderr)
        return 1
    return 0


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None
