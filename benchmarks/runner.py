"""``python -m benchmarks``: natswire vs nats-py vs raw, side by side, against one nats-server.

One embedded nats-server (with monitoring) serves every trial. Each trial runs in a fresh
process (``python -m benchmarks.worker``). Trials are paired: a round runs every trial of a
workload once, the trials a ratio compares side by side, in an order reversed every other
round (rounds.py, paired.py). Each client's cell is the median (min-max) of its trials;
each ratio is the median of the per-round ratios with a distribution-free ~90 % interval
of that median in brackets (min-max of the pair ratios below 5 pairs). ``--until-spread``
adds rounds until every interval is within the bound. The server's ``/varz``
``in_msgs``/``out_msgs`` deltas around every trial are checked against what the trial says
it sent and received (JetStream trials check the stream's and the consumer's state as the
server reports it): a mismatch, a client error or a timeout marks the row FAILED and the
run exits non-zero.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sys
import time
from pathlib import Path
from typing import Any

from natswire.server import NatsServer

from .harness import Harness
from .report import render, row_json
from .rounds import TrialPlan, run_workload
from .rows import LOOP_INDEPENDENT, SIZED, WORKLOADS, Row, index_rows

#: Workloads that start their own brokers and run alone (not in the default list).
STANDALONE = ("amqp-scale",)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--loop",
        choices=("auto", "asyncio", "uvloop", "both"),
        default="auto",
        help="auto (default): both loops when uvloop is installed, else asyncio; "
        "with --quick, asyncio only",
    )
    p.add_argument(
        "--workloads",
        default=",".join(WORKLOADS),
        help=f"comma-separated, from: {','.join(WORKLOADS)}; or alone: {','.join(STANDALONE)}",
    )
    p.add_argument("--queues", type=int, default=None, help="amqp-scale: queues (default 20000)")
    p.add_argument(
        "--cluster",
        type=int,
        default=0,
        help="amqp-scale: run natswire.amqp on a cluster of this many nats-server nodes",
    )
    p.add_argument(
        "--shards",
        type=int,
        default=1,
        help="amqp-scale: split natswire.amqp's queues over this many namespaces by user id",
    )
    p.add_argument(
        "--no-ceiling",
        action="store_true",
        help="amqp-scale: leave out the workload done with JetStream alone",
    )
    p.add_argument(
        "--sizes",
        default=None,
        help="payload sizes for pub, pubsub, recv (default 16,128,1024; --quick: 16)",
    )
    p.add_argument(
        "--trials",
        type=int,
        default=None,
        help="paired rounds per row (default 3; --quick: 1)",
    )
    p.add_argument(
        "--until-spread",
        type=float,
        default=None,
        metavar="FRACTION",
        help="add rounds until every ratio's interval lies within ±FRACTION of its median "
        "(e.g. 0.05), at least 5 pairs",
    )
    p.add_argument(
        "--max-trials",
        type=int,
        default=15,
        help="with --until-spread: at most this many rounds per row (default 15)",
    )
    p.add_argument(
        "--max-row-seconds",
        type=float,
        default=900.0,
        help="with --until-spread: start no new round after this long on a row (default 900)",
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
    if args.until_spread is not None and args.until_spread <= 0:
        p.error("--until-spread must be above 0")
    if args.max_trials < args.trials:
        args.max_trials = args.trials
    if args.trial_timeout is None:
        args.trial_timeout = 60.0 if args.quick else 300.0
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    loops = _loops(args.loop, args.quick)
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

        return amqp_scale.main(
            args.queues,
            args.quick,
            args.json,
            cluster=args.cluster,
            shards=args.shards,
            ceiling=not args.no_ceiling,
        )
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
    plan = TrialPlan(
        args.trials, args.quick, args.until_spread, args.max_trials, args.max_row_seconds
    )
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
            "until_spread": args.until_spread,
            "max_trials": args.max_trials,
            "quick": args.quick,
            "sizes": args.sizes,
            "workloads": args.workloads,
            "loops": loops,
        }
        print(
            f"nats-server {meta['nats_server']} at {server.url}; Python {meta['python']}; "
            f"natswire {meta['natswire']}, nats-py {meta['nats_py']}; "
            f"{args.trials} paired round(s) per workload{' (quick)' if args.quick else ''}",
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
                    rows += run_workload(harness, workload, size, loop, plan, log)
            if rows:
                tables.append((loop, rows))
    finally:
        harness.stop_responder()
        server.stop()
    elapsed = time.monotonic() - started
    rounds = str(args.trials)
    if args.until_spread is not None:
        rounds += f"-{args.max_trials} (until ±{args.until_spread:.1%})"
    header = (
        f"natswire {meta.get('natswire')} vs nats-py {meta.get('nats_py')} vs raw - "
        f"Python {meta.get('python')}, nats-server {meta.get('nats_server')}, "
        f"{meta.get('cpus')} CPUs; median (min-max) of {rounds} paired round(s)"
        f"{', QUICK (smoke) N' if args.quick else ''}\n"
        "nw/py, nw/raw: natswire's advantage (>1 = natswire better; for µs and B/msg "
        "the inverse ratio): the median of the per-round ratios of paired trials, "
        "[low-high] its interval (~90 % distribution-free from 5 pairs; below that the "
        "min-max of the pair ratios); * after a verdict: the target lies inside the "
        "interval; targets apply to 16 B rows\n"
        "JetStream (JS), adapter and WebSocket rows: no raw client (-) but where the row has "
        "a ceiling row; a ratio that names its pair compares those figures (raw/py: the raw "
        "client over nats-py, what a minimal client reaches; nw win/py seq: natswire windowed "
        "over nats-py sequential; amqp/nw JS, amqp/py JS: the adapter over the JS flow row's "
        "natswire, nats-py)"
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
            "rows": [
                row_json(loop, row, index_rows(rows)) for loop, rows in tables for row in rows
            ],
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


def _loops(choice: str, quick: bool) -> list[str]:
    if choice == "both":
        return ["asyncio", "uvloop"]
    if choice != "auto":
        return [choice]
    if quick:
        return ["asyncio"]
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return ["asyncio"]
    return ["asyncio", "uvloop"]


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None
