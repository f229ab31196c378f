"""The table's rows: which workloads exist, what each row measures, its targets, its N."""

from __future__ import annotations

from dataclasses import dataclass, field

from .common import CLIENTS

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
    "memtrace": {1024: 100_000},
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
    "rawsyncreq": {16: 5_000},
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
    "memtrace": 20_000,
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
    "rawsyncreq": 200,
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
PARSE_VARIANTS = ("msg16", "msg16u", "msg1k", "hmsg", "hmsg16u")
PARSE_LABELS = {
    "msg16": "MSG 16 B",
    "msg16u": "MSG 16 B unique replies",
    "msg1k": "MSG 1 KiB",
    "hmsg": "HMSG 16 B",
    "hmsg16u": "HMSG 16 B unique JS ack replies",
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
    #: client -> round -> figure: a round runs every trial of the workload once, so the
    #: figures of one round are the pairs the ratio columns compare.
    values: dict[str, dict[int, float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    key: str = ""
    sources: dict[str, str] = field(default_factory=dict)
    ratios: list[Ratio | None] = field(default_factory=list)
    #: The key of a latency row this row restates above the floor: each client's figure
    #: minus the raw client's figure of the same round (the raw client's own is 0).
    above_floor: str | None = None
    #: Whether ``--until-spread`` waits for this row's ratios (not for tail latencies and
    #: differences of two small figures, whose spread is shown but may never settle).
    gates_until_spread: bool = True

    def figures(self, client: str) -> list[float]:
        """The client's figures in round order."""
        rounds = self.values.get(client, {})
        return [rounds[r] for r in sorted(rounds)]

    def __post_init__(self) -> None:
        if not self.sources:
            self.sources = {c: self.workload for c in CLIENTS}
        if not self.ratios:
            self.ratios = [
                Ratio(("", "natswire"), ("", "nats-py"), self.target_py),
                Ratio(("", "natswire"), ("", "raw"), self.target_raw),
            ]


Index = dict[tuple[str, int, str], Row]


def index_rows(rows: list[Row]) -> Index:
    """The rows of one table by (workload, size, key), for ratios that name another row."""
    return {(r.workload, r.size, r.key): r for r in rows}


def resolve(index: Index, row: Row, ref: Ref) -> Row | None:
    """The row a ratio's side refers to: ``row`` itself for the key ""."""
    return row if not ref[0] else index.get((row.workload, row.size, ref[0]))


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


def with_ceiling(row: Row, raw_kind: str | None = None) -> Row:
    """Give ``row`` the raw client's column and return the row that states its ceiling:
    the raw client over nats-py. The raw column runs ``raw_kind`` (default: the worker
    workload of the row's natswire column) and takes the second ratio column (nw/raw)
    unless that one is taken.

    For rows whose nw/py target looks out of reach: the raw client does only what the
    row times, so raw/py is what a client that costs next to nothing reaches against
    the same server, loop and caller. It is a reference, not a proof (a real client can
    come out a little above it in a round, as natswire does on several core rows), but
    a target well above it is not met by making the client cheaper."""
    kind = raw_kind or row.sources["natswire"]
    row.sources["raw"] = kind
    if row.ratios[1] is None:
        row.ratios[1] = Ratio(("", "natswire"), ("", "raw"))
    return Row(
        row.workload,
        row.size,
        row.metric,
        f"{row.label}: raw client's ceiling",
        row.unit,
        row.higher_is_better,
        key=f"{row.key or kind}-ceiling",
        sources={"nats-py": row.sources["nats-py"], "raw": kind},
        ratios=[Ratio(("", "raw"), ("", "nats-py"), None, "raw/py"), None],
        gates_until_spread=False,
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
            Row(workload, size, "p50", f"{label} p50", "µs", False, key="p50"),
            Row(
                workload,
                size,
                "p50",
                f"{label} p50 above floor (raw p50)",
                "µs",
                False,
                key="p50floor",
                ratios=[Ratio(("", "natswire"), ("", "nats-py")), None],
                above_floor="p50",
                gates_until_spread=False,
            ),
            Row(workload, size, "p99", f"{label} p99", "µs", False, gates_until_spread=False),
        ]
    if workload == "inflight":
        return [Row(workload, size, "rate", f"{label}", "req/s", True, 2.0, 0.7)]
    if workload == "service":
        # The service under test in each column; the caller is one process for both.
        rate, cpu = (
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
        )
        cpu.sources["raw"] = "service"
        cpu.ratios[1] = Ratio(("", "natswire"), ("", "raw"))
        return [rate, with_ceiling(rate), cpu]
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
                # The targets: 16 B MSG frames against nats-py; JetStream deliveries
                # (unique ack replies) at the raw client's speed (issue 23).
                2.0 if v == "msg16" else None,
                {"msg16": 0.7, "hmsg16u": 1.0}.get(v),
            )
            for v in PARSE_VARIANTS
            for m in ("whole", "chunked")
        ]
    if workload == "memory":
        # Overhead above the payload per pending message, two ways; targets: natswire's
        # overhead at most a third of nats-py's (issue 23).
        return [
            Row(
                workload,
                size,
                "overhead",
                f"{label}, overhead above payload ({how})",
                "B/msg",
                False,
                3.0,
                None,
                key=kind,
                sources={c: kind for c in CLIENTS},
            )
            for kind, how in (("memory", "RSS"), ("memtrace", "tracemalloc"))
        ]
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
        fetch = _js_row(
            workload,
            "fetch",
            "jsfetch",
            f"{label} {size} B",
            [Ratio(("", "natswire"), ("", "nats-py"), 6.0), None],
            nw_py,
        )
        return [fetch, with_ceiling(fetch)]
    if workload == "jspush":
        auto_ack, ordered = (
            _js_row(
                workload,
                kind,
                kind,
                f"{label} {what} {size} B",
                [Ratio(("", "natswire"), ("", "nats-py"), 3.0), None],
                nw_py,
            )
            for kind, what in (("jspush", "auto-ack"), ("jsordered", "ordered consumer"))
        )
        return [auto_ack, with_ceiling(auto_ack), ordered]
    if workload == "kv":
        put, get, watch = (
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
        )
        return [put, with_ceiling(put), get, with_ceiling(get), watch]
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
        flow = _js_row(
            workload,
            "js",
            "jsflow",
            f"JS {label} {size} B",
            [Ratio(("", "natswire"), ("", "nats-py"), 6.0), None],
            nw_py,
        )
        return [
            flow,
            with_ceiling(flow),
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
    rows.insert(3, with_ceiling(req, "rawsyncreq"))
    req50.sources["raw"] = "rawsyncreq"
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
    if workload in ("parse", "memory", "memtrace"):
        return 0
    return max(10, n // 10)
