"""``python -m benchmarks --workloads amqp-scale [--queues N] [--quick]``: Wire's device
queues on natswire.amqp and on RabbitMQ, side by side, in one run (issue 17).

Each broker runs privately and alone while it is measured: a nats-server
(``natswire.server.NatsServer``: JetStream with a temporary store, monitoring on a free
port) driven by natswire.amqp, and a RabbitMQ node (``natswire.migrate.rabbit``, no
management plugin) driven by aio-pika. On a single server the same workload also runs
with JetStream alone (amqp_scale_ceiling.py), each time on a fresh nats-server: with the
consumers' state on disk before natswire.amqp, and in memory after RabbitMQ. The
workload and its phases are in wl_amqp_scale.py. Server-side figures:

- **memory**: nats-server's ``/varz`` ``mem``; RabbitMQ: the resident memory of its
  process group (the Erlang VM and its helpers), both read after the deliver phase, with
  every queue and consumer in place.
- **idle**: over ``idle_seconds`` with the connection and every consumer open and
  nothing published: the server's CPU time (``/proc``, the whole process group for
  RabbitMQ) as a share of one core, and for nats-server the JetStream API requests per
  second (the ``/jsz?accounts=true`` ``api.total`` delta; RabbitMQ: n/a) and the
  messages its clients sent it per second (the ``in_msgs`` of ``/connz``'s client
  connections: pull requests count here, not as API requests; RabbitMQ: n/a).

The exit status is 1 when any side reports an error or an unfinished phase.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from natswire.httpjson import get_json
from natswire.server import NatsCluster, NatsServer

from .amqp_scale_ceiling import JetStreamScaleClient
from .amqp_scale_clients import NatswireScaleClient, RabbitScaleClient
from .wl_amqp_scale import CHANNELS, PREFETCH, SideResult, phase_timeout, run_side

#: Queues with --quick (the CI smoke run).
QUICK_QUEUES = 300
DEFAULT_QUEUES = 20_000
_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _proc_stats(pids: list[int]) -> tuple[float, int] | None:
    """(CPU seconds, resident bytes) summed over ``pids``; None when none can be read."""
    cpu, rss, seen = 0.0, 0, False
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command: state is field 3, utime 14, stime 15, rss 24 (1-based).
        cpu += (int(fields[11]) + int(fields[12])) / _TICKS
        rss += int(fields[21]) * _PAGE
        seen = True
    return (cpu, rss) if seen else None


def _group_pids(pgid: int) -> list[int]:
    """The processes in process group ``pgid``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            pids.append(int(entry.name))
    return pids


class NatsProbe:
    """nats-server, one node or every node of a cluster (figures summed), through the
    monitoring ports and ``/proc``."""

    def __init__(self, servers: Sequence[NatsServer]) -> None:
        self.servers = list(servers)

    def _varz_sum(self, key: str) -> int:
        return sum(int(get_json(f"{s.monitor_url}/varz")[key]) for s in self.servers)

    def memory_bytes(self) -> int | None:
        return self._varz_sum("mem")

    def cpu_seconds(self) -> float | None:
        pids = [s.pid for s in self.servers if s.pid is not None]
        stats = _proc_stats(pids) if pids else None
        return stats[0] if stats else None

    def api_requests(self) -> int | None:
        return sum(
            int(get_json(f"{s.monitor_url}/jsz?accounts=true")["api"]["total"])
            for s in self.servers
        )

    def messages_in(self) -> int | None:
        # /connz counts what each client connection sent (varz in_msgs adds the
        # routes' traffic between cluster nodes).
        return sum(
            sum(int(c["in_msgs"]) for c in get_json(f"{s.monitor_url}/connz")["connections"])
            for s in self.servers
        )


class RabbitProbe:
    """A RabbitMQ node started by ``RabbitMqServer`` (its own process group)."""

    def __init__(self, pgid: int) -> None:
        self.pgid = pgid

    def memory_bytes(self) -> int | None:
        stats = _proc_stats(_group_pids(self.pgid))
        return stats[1] if stats else None

    def cpu_seconds(self) -> float | None:
        stats = _proc_stats(_group_pids(self.pgid))
        return stats[0] if stats else None

    def api_requests(self) -> int | None:
        return None

    def messages_in(self) -> int | None:
        return None


def _run_natswire(
    queues: int, idle_seconds: float, log: Any, cluster: int = 0, shards: int = 1
) -> tuple[SideResult, str]:
    if cluster:
        nodes = NatsCluster(size=cluster, jetstream=True).start()
        nodes.wait_jetstream_ready(60)
        servers = nodes.servers
    else:
        servers = [NatsServer(jetstream=True, http_port=-1).start()]
    try:
        version = str(get_json(f"{servers[0].monitor_url}/varz").get("version"))
        where = ", ".join(s.url for s in servers)
        print(f"amqp-scale: nats-server {version} at {where}", file=log, flush=True)
        client = NatswireScaleClient([s.url for s in servers], f"scale{os.getpid()}", shards)
        result = asyncio.run(run_side(client, queues, NatsProbe(servers), idle_seconds))
        return result, version
    finally:
        if cluster:
            nodes.stop()
        else:
            servers[0].stop()


def _run_ceiling(
    queues: int, idle_seconds: float, log: Any, shards: int, memory_state: bool
) -> SideResult:
    server = NatsServer(jetstream=True, http_port=-1).start()
    try:
        client = JetStreamScaleClient([server.url], shards, memory_state)
        print(f"amqp-scale: {client.name} at {server.url}", file=log, flush=True)
        return asyncio.run(run_side(client, queues, NatsProbe([server]), idle_seconds))
    finally:
        server.stop()


def _run_rabbit(queues: int, idle_seconds: float, log: Any) -> tuple[SideResult, str]:
    from natswire.migrate.rabbit import RabbitMqServer

    rabbit = RabbitMqServer()
    rabbit.start()
    try:
        assert rabbit.pid is not None
        version = rabbit.ctl("version").strip()
        print(f"amqp-scale: RabbitMQ {version} at {rabbit.url}", file=log, flush=True)
        client = RabbitScaleClient(rabbit.url)
        result = asyncio.run(run_side(client, queues, RabbitProbe(rabbit.pid), idle_seconds))
        return result, version
    finally:
        rabbit.stop()


def _done(side: str, started: float, log: Any) -> None:
    print(f"amqp-scale: {side} side done ({time.monotonic() - started:.0f} s)", file=log)


def _missing_prerequisite() -> str | None:
    try:
        import aio_pika  # noqa: F401
    except ImportError:
        return "aio-pika is not installed (pip install -e '.[dev]')"
    from natswire.migrate.rabbit import RabbitMqNotFoundError, ensure_rabbitmq

    try:
        ensure_rabbitmq()
    except RabbitMqNotFoundError as exc:
        return str(exc)
    return None


def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}"


def _ratio(mine: float | None, theirs: float | None) -> str:
    if mine is None or theirs is None or theirs == 0:
        return "-"
    return f"{mine / theirs:.2f}x"


def _figures(side: SideResult) -> dict[str, tuple[float | None, str]]:
    """Each table row's value for one side, with a note on what part completed."""

    def part(done: int) -> str:
        return "" if done == side.queues else f" ({done:,} of {side.queues:,})"

    rows: dict[str, tuple[float | None, str]] = {}
    declare, consume, deliver, idle = side.declare, side.consume, side.deliver, side.idle
    rows["declare"] = (declare.rate, part(len(declare.done))) if declare else (None, "")
    rows["consume"] = (consume.rate, part(len(consume.done))) if consume else (None, "")
    rows["deliver"] = (deliver.rate, part(deliver.acked)) if deliver else (None, "")
    rows["errors"] = (float(side.errors()[0]), "")
    rows["reported"] = (float(len(side.reported)), "")
    rows["memory"] = (side.memory_bytes / 1e6 if side.memory_bytes else None, "")
    rows["idle_api"] = (idle.api_per_second if idle else None, "")
    rows["idle_in"] = (idle.messages_per_second if idle else None, "")
    rows["idle_cpu"] = (idle.cpu_share * 100 if idle and idle.cpu_share is not None else None, "")
    return rows


def _complete(side: SideResult) -> bool:
    """Every queue was declared, consumed and got its message acked."""
    return side.deliver is not None and side.deliver.acked == side.queues


ROWS = (
    ("declare", "declare+bind", "queues/s", 0, "higher is better"),
    ("consume", "consumers started", "consumers/s", 0, "higher is better"),
    ("deliver", "delivered+acked (first publish to last ack)", "msg/s", 0, "higher is better"),
    ("errors", "errors (failed operations, unfinished phases)", "count", 0, ""),
    ("reported", "channel errors the library reported", "count", 0, ""),
    ("memory", "server memory after delivery", "MB", 1, "lower is better"),
    ("idle_api", "idle JetStream API requests", "req/s", 1, "lower is better"),
    ("idle_in", "idle messages from clients (pulls, acks, ...)", "msg/s", 1, "lower is better"),
    ("idle_cpu", "idle server CPU", "% of a core", 1, "lower is better"),
)


def _compared(
    key: str,
    better: str,
    sides: tuple[SideResult, SideResult],
    cells: tuple[tuple[float | None, str], tuple[float | None, str]],
) -> str:
    """The ratio cell of row ``key`` between ``sides`` (one of them RabbitMQ)."""
    (a, a_note), (b, b_note) = cells
    if not better:
        return "-"
    # A ratio only compares like with like: both phases complete, and the server
    # figures only with every queue in place on both sides.
    comparable = not (a_note or b_note) and (
        key in ("declare", "consume", "deliver") or all(_complete(side) for side in sides)
    )
    ratio = _ratio(a, b)
    if ratio == "-":
        return ratio
    return f"{ratio} ({better})" if comparable else "- (incomplete)"


def render(nw: SideResult, rmq: SideResult, title: str, ceilings: Sequence[SideResult] = ()) -> str:
    """The side-by-side table; ``ceilings`` (the workload done with JetStream alone, see
    amqp_scale_ceiling.py) add a column each, with its ratio to RabbitMQ."""
    theirs = _figures(rmq)
    others = [(side, _figures(side)) for side in (nw, *ceilings)]
    head = ["metric", "unit", nw.broker, f"{rmq.broker} (quorum)", "nw/rmq"]
    for side in ceilings:
        head += [side.broker, "/rmq"]
    lines = []
    for key, label, unit, digits, better in ROWS:
        # Each other side's figure and its ratio to RabbitMQ's.
        cells = [
            (
                _fmt(figures[key][0], digits) + figures[key][1],
                _compared(key, better, (side, rmq), (figures[key], theirs[key])),
            )
            for side, figures in others
        ]
        (nw_value, nw_ratio), *rest = cells
        rmq_value = _fmt(theirs[key][0], digits) + theirs[key][1]
        line = [label, unit, nw_value, rmq_value, nw_ratio]
        for value, ratio in rest:
            line += [value, ratio]
        lines.append(line)
    widths = [max(len(x) for x in col) for col in zip(head, *lines, strict=True)]
    out = [title, "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip()]
    out.append("  ".join("-" * w for w in widths))
    out += [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    ]
    for side in (nw, rmq, *ceilings):
        count, first = side.errors()
        if count:
            out.append(f"!!! {side.broker}: {count} error(s), first: {first}")
        if side.reported:
            out.append(f"!!! {side.broker} reported: {side.reported[0]}")
    return "\n".join(out)


def main(
    queues: int | None,
    quick: bool,
    json_path: str | None,
    log: Any = sys.stderr,
    cluster: int = 0,
    shards: int = 1,
    ceiling: bool = True,
) -> int:
    """Run both sides and print the table; 1 when a side had an error, 2 when
    RabbitMQ or aio-pika is missing. ``cluster``: natswire.amqp on that many routed
    nats-server nodes (the adapter's default replicas, ``min(3, nodes)``) instead of one.
    ``shards``: natswire.amqp's queues split over that many namespaces by user id.
    ``ceiling`` (single server only): also the workload with JetStream alone, with the
    consumers' state on disk and in memory (amqp_scale_ceiling.py), each on a fresh
    server."""
    missing = _missing_prerequisite()
    if missing is not None:
        print(f"amqp-scale needs RabbitMQ and aio-pika: {missing}", file=sys.stderr)
        return 2
    count = queues if queues is not None else (QUICK_QUEUES if quick else DEFAULT_QUEUES)
    idle_seconds = 3.0 if quick else 30.0
    started = time.monotonic()
    print(
        f"amqp-scale: {count:,} queues, {CHANNELS} channels over one connection per broker, "
        f"prefetch {PREFETCH}, each phase time-boxed at {phase_timeout(count):.0f} s",
        file=log,
        flush=True,
    )
    # Side order moves the figures on this machine's disk (docs/scaling.md, "JetStream
    # alone, in the same run"): the lean file-state side goes first, so natswire.amqp is
    # never the one that had the disk fresher.
    with_ceilings = ceiling and not cluster
    ceilings = []
    if with_ceilings:
        ceilings.append(_run_ceiling(count, idle_seconds, log, shards, memory_state=False))
        _done(ceilings[-1].broker, started, log)
    nw, nats_version = _run_natswire(count, idle_seconds, log, cluster, shards)
    _done(nw.broker, started, log)
    rmq, rabbit_version = _run_rabbit(count, idle_seconds, log)
    _done(rmq.broker, started, log)
    if with_ceilings:
        ceilings.append(_run_ceiling(count, idle_seconds, log, shards, memory_state=True))
        _done(ceilings[-1].broker, started, log)
    elapsed = time.monotonic() - started
    title = (
        f"amqp-scale: Wire's device queues, {count:,} queues{' (QUICK)' if quick else ''}; "
        f"nats-server {nats_version}"
        f"{f' ({cluster} nodes, figures summed over them)' if cluster else ''}"
        f"{f', queues split over {shards} namespaces by user id' if shards > 1 else ''}"
        f" vs RabbitMQ {rabbit_version} (one node); {CHANNELS} channels "
        f"over one connection per broker, one operation at a time per channel; prefetch "
        f"{PREFETCH}; idle window {idle_seconds:.0f} s; {os.cpu_count()} CPUs"
    )
    print(render(nw, rmq, title, ceilings))
    print(f"\ntotal runtime {elapsed:.0f} s")
    if json_path:
        doc = {
            "queues": count,
            "channels": CHANNELS,
            "prefetch": PREFETCH,
            "shards": shards,
            "quick": quick,
            "nats_server": nats_version,
            "rabbitmq": rabbit_version,
            "runtime_seconds": elapsed,
            "sides": [_side_json(side) for side in (nw, rmq, *ceilings)],
        }
        Path(json_path).write_text(json.dumps(doc, indent=2) + "\n")
        print(f"wrote {json_path}")
    failed = any(side.errors()[0] or side.reported for side in (nw, rmq, *ceilings))
    return 1 if failed else 0


def _side_json(side: SideResult) -> dict[str, Any]:
    doc = asdict(side)
    for phase in ("declare", "consume"):
        if doc[phase] is not None:
            doc[phase]["done"] = len(doc[phase]["done"])
    if doc["deliver"] is not None:
        doc["deliver"]["publish"]["done"] = len(doc["deliver"]["publish"]["done"])
    count, first = side.errors()
    doc["error_count"], doc["first_error"] = count, first
    return doc
