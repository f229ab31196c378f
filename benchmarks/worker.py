"""One trial in a fresh process.

``python -m benchmarks.worker --client natswire|nats-py|raw --workload W --size B --n N
--warmup W --url URL --loop asyncio|uvloop`` runs one workload and prints one JSON line:
``{"metrics": {...}, "expect_in": int, "expect_out": int}`` or ``{"error": "..."}``.
Workloads that need the plain-socket sender print ``READY`` first. ``amqp`` (the
natswire.amqp adapter, wl_amqp.py) runs with ``--client natswire`` only; the JetStream
workloads (``js*``; the push ones in wl_push.py) and the WebSocket ones (``ws*``, given a
``ws://`` URL) with natswire and nats-py; the blocking ones (``sync*`` with natswire,
``pyrun*`` with nats-py) run without an event loop (wl_sync.py).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import sys
import traceback

from .common import CLIENTS, emit, run

WORKLOADS = (
    "pub",
    "pubsub",
    "recv",
    "reqreply",
    "inflight",
    "service",
    "fanout",
    "queue",
    "memory",
    "memtrace",
    "parse",
    "jspub",
    "jspubasync",
    "jsfetch",
    "jsflow",
    "jspush",
    "jsordered",
    "kvput",
    "kvget",
    "kvwatch",
    "objput",
    "objget",
    "amqp",
    "wspub",
    "wspubsub",
    "syncpub",
    "syncreq",
    "pyrunpub",
    "pyrunreq",
    "rawsyncreq",
)
#: The blocking workloads (wl_sync.py): no event loop; ``sync*`` are natswire.sync's,
#: ``pyrun*`` nats-py's driven by ``asyncio.run`` per call, ``rawsyncreq`` a bare socket's.
BLOCKING = {
    "syncpub": "natswire",
    "syncreq": "natswire",
    "pyrunpub": "nats-py",
    "pyrunreq": "nats-py",
    "rawsyncreq": "raw",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--client", choices=CLIENTS, required=True)
    parser.add_argument("--workload", choices=WORKLOADS, required=True)
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--warmup", type=int, default=0)
    parser.add_argument("--url", default="nats://127.0.0.1:4222")
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--profile", metavar="FILE", help="write cProfile stats to FILE")
    args = parser.parse_args(argv)
    try:
        if args.workload == "parse":
            from . import parsebench

            def call() -> dict[str, object]:
                return parsebench.run(args.client, args.n)
        elif args.workload in BLOCKING:
            if args.client != BLOCKING[args.workload]:
                raise ValueError(f"{args.workload} runs with --client {BLOCKING[args.workload]}")
            from . import wl_sync

            blocking = getattr(wl_sync, args.workload)

            def call() -> dict[str, object]:
                return blocking(args.url, args.size, args.n, args.warmup)  # type: ignore[no-any-return]
        else:
            if args.workload == "amqp":
                if args.client != "natswire":
                    raise ValueError("the amqp workload is natswire.amqp's: --client natswire")
                from .wl_amqp import amqp_flow as workload
            elif args.client == "raw":
                workload = getattr(importlib.import_module(".wl_raw", __package__), args.workload)
            else:
                from . import wl_clients, wl_kv, wl_push

                module = wl_push if args.workload in wl_push.WORKLOADS else wl_clients
                if args.workload in wl_kv.WORKLOADS:
                    module = wl_kv
                workload = functools.partial(
                    getattr(module, args.workload), wl_clients.FLAVOURS[args.client]
                )

            def call() -> dict[str, object]:
                return run(lambda: workload(args.url, args.size, args.n, args.warmup), args.loop)

        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            result = profiler.runcall(call)
            profiler.dump_stats(args.profile)
        else:
            result = call()
    except BaseException as exc:  # report anything, then fail
        traceback.print_exc()
        emit({"error": f"{type(exc).__name__}: {exc}"})
        return 1
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
