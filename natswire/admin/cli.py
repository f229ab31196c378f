"""``natswire admin varz|connz|jsz|queues|connections|kick`` and ``natswire stats``.

Tables for people by default, ``--json`` for scripts. Long listings report progress on
stderr (``--quiet`` turns it off). ``natswire/cli.py`` adds these subcommands with
:func:`add_parsers` and runs them with :func:`run`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

ConnectionArgs = Callable[[argparse.ArgumentParser], None]

ADMIN_COMMANDS = ("varz", "connz", "jsz", "queues", "connections", "kick")


def _monitor_arg(parser: argparse.ArgumentParser) -> None:
    from .monitor import default_monitor_url

    parser.add_argument(
        "--monitor",
        "-m",
        default=default_monitor_url(),
        help="monitoring URL of nats-server (default: $NATS_MONITOR_URL or %(default)s)",
    )


def _output_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def add_parsers(commands: Any, connection_args: ConnectionArgs) -> None:
    """Add ``admin`` (with its subcommands) and ``stats`` to the CLI's subparsers."""
    admin = commands.add_parser(
        "admin", help="inspect and manage a NATS server (monitoring, queues, connections)"
    )
    sub = admin.add_subparsers(dest="admin_command", required=True, metavar="ADMIN_COMMAND")

    varz = sub.add_parser("varz", help="server identity, configuration and totals (/varz)")
    _monitor_arg(varz)
    _output_args(varz)

    connz = sub.add_parser("connz", help="client connections (/connz), one page")
    _monitor_arg(connz)
    _output_args(connz)
    connz.add_argument("--sort", help="sort key: cid, start, subs, pending, msgs_to, ...")
    connz.add_argument("--limit", type=int, default=None, help="page size")
    connz.add_argument("--offset", type=int, default=0, help="first connection of the page")
    connz.add_argument("--state", choices=("open", "closed", "any"), help="connection state")
    connz.add_argument("--account", help="only this account's connections")
    connz.add_argument("--cid", type=int, help="only this connection id")
    connz.add_argument("--subs", action="store_true", help="include subscriptions")

    jsz = sub.add_parser("jsz", help="JetStream usage (/jsz)")
    _monitor_arg(jsz)
    _output_args(jsz)
    jsz.add_argument("--account", help="detail of this account")
    jsz.add_argument("--streams", action="store_true", help="include stream detail")
    jsz.add_argument("--consumers", action="store_true", help="include consumer detail")

    queues = sub.add_parser("queues", help="the AMQP adapter's queues of a namespace")
    connection_args(queues)
    _output_args(queues)
    queues.add_argument("--namespace", "-n", default="", help="namespace (vHost)")
    queues.add_argument("--pattern", "-r", default=None, help="regular expression on names")
    queues.add_argument("--page", type=int, default=1, help="page, from 1 (default: 1)")
    queues.add_argument("--page-size", type=int, default=100, help="page size (default: 100)")
    queues.add_argument("--all", action="store_true", help="every page")
    queues.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")

    conns = sub.add_parser("connections", help="client connections by namespace or name")
    _monitor_arg(conns)
    _output_args(conns)
    conns.add_argument("--namespace", "-n", default=None, help="client names '<ns>/...'")
    conns.add_argument("--name", default=None, help="this client name")
    conns.add_argument("--account", default=None, help="this account")

    kick = sub.add_parser(
        "kick", help="disconnect a client by id or name (needs the system account)"
    )
    connection_args(kick)
    _output_args(kick)
    kick.add_argument("target", help="connection id, or client name")
    kick.add_argument("--server-id", default=None, help="server holding the connection")

    stats = commands.add_parser(
        "stats", help="message and connection statistics of a running server (/varz)"
    )
    _monitor_arg(stats)
    _output_args(stats)
    stats.add_argument("--interval", "-i", type=float, default=1.0, help="seconds between samples")
    stats.add_argument(
        "--count", "-c", type=int, default=1, help="samples to take (0: until interrupted)"
    )


# ------------------------------------------------------------------------ output


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Columns aligned; numbers to the right."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], len(value))
    numeric = [
        bool(rows) and all(isinstance(r[i], (int, float)) for r in rows)
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(widths[i]) if numeric[i] else v.ljust(widths[i]) for i, v in enumerate(values)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


_STATS_WIDTHS = (8, 5, 5, 11, 11, 10, 10, 9, 9, 5, 10)


def _fixed(values: Sequence[str]) -> str:
    """One line of the ``stats`` table: fixed columns, so samples line up."""
    first, *rest = values
    return "  ".join(
        [
            first.ljust(_STATS_WIDTHS[0]),
            *(v.rjust(w) for v, w in zip(rest, _STATS_WIDTHS[1:], strict=True)),
        ]
    )


def _pairs(items: Sequence[tuple[str, Any]]) -> str:
    width = max(len(k) for k, _ in items)
    return "\n".join(f"{k.ljust(width)}  {_cell(v)}" for k, v in items)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=False, default=str))


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


class _ProgressLine:
    """``label stage: done/total`` on stderr, at most every ``every`` seconds, and the
    last count of each stage."""

    def __init__(self, label: str, enabled: bool, every: float = 0.25) -> None:
        self.label = label
        self.enabled = enabled
        self.every = every
        self._last = 0.0
        self._shown = False
        self._tty = sys.stderr.isatty()

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        final = total is not None and done >= total
        if not final and now - self._last < self.every:
            return
        self._last = now
        text = f"{self.label} {stage}: {done}/{total if total is not None else '?'}"
        if self._tty:
            sys.stderr.write("\r" + text)
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown and self._tty:
            sys.stderr.write("\n")
            sys.stderr.flush()


# ---------------------------------------------------------------------- commands


async def _connect(args: argparse.Namespace, name: str) -> Any:
    from ..client import connect

    user = args.user or os.environ.get("NATS_USERNAME")
    password = args.password if args.password is not None else os.environ.get("NATS_PASSWORD")
    options: dict[str, Any] = {
        "servers": [url.strip() for url in args.server.split(",") if url.strip()],
        "connect_timeout": args.timeout,
        "name": name,
        "allow_reconnect": False,
    }
    if user:
        options["user"] = user
        options["password"] = password or ""
    if args.token:
        options["token"] = args.token
    return await connect(**options)


async def _varz(args: argparse.Namespace) -> None:
    from .monitor import Monitor

    varz = await Monitor(args.monitor).varz()
    if args.json:
        _print_json(varz.as_dict())
        return
    print(
        _pairs(
            [
                ("server_id", varz.server_id),
                ("server_name", varz.server_name),
                ("version", varz.version),
                ("address", f"{varz.host}:{varz.port}"),
                ("uptime", varz.uptime),
                ("connections", varz.connections),
                ("total_connections", varz.total_connections),
                ("subscriptions", varz.subscriptions),
                ("slow_consumers", varz.slow_consumers),
                ("in_msgs", varz.in_msgs),
                ("out_msgs", varz.out_msgs),
                ("in_bytes", varz.in_bytes),
                ("out_bytes", varz.out_bytes),
                ("mem", _size(varz.mem)),
                ("cpu", varz.cpu),
                ("jetstream", "yes" if varz.jetstream.get("config") else "no"),
            ]
        )
    )


async def _connz(args: argparse.Namespace) -> None:
    from .monitor import Monitor

    connz = await Monitor(args.monitor).connz(
        sort=args.sort,
        limit=args.limit,
        offset=args.offset,
        state=args.state,
        account=args.account,
        cid=args.cid,
        subs=args.subs,
        auth=True,
    )
    if args.json:
        _print_json(connz.as_dict())
        return
    rows = [
        [
            c.cid,
            c.name,
            c.account,
            f"{c.ip}:{c.port}",
            c.lang,
            c.subscriptions,
            c.in_msgs,
            c.out_msgs,
            c.pending_bytes,
            c.uptime,
        ]
        for c in connz.connections
    ]
    heads = ["cid", "name", "account", "address", "lang", "subs", "in_msgs", "out_msgs"]
    print(table([*heads, "pending", "uptime"], rows))
    end = connz.offset + len(connz.connections)
    print(f"\nconnections {connz.offset + 1 if rows else 0}-{end} of {connz.total}")


async def _jsz(args: argparse.Namespace) -> None:
    from .monitor import Monitor

    jsz = await Monitor(args.monitor).jsz(
        account=args.account,
        accounts=args.account is None and (args.streams or args.consumers),
        streams=args.streams or args.consumers,
        consumers=args.consumers,
    )
    if args.json:
        _print_json(jsz.as_dict())
        return
    print(
        _pairs(
            [
                ("server_id", jsz.server_id),
                ("disabled", jsz.disabled),
                ("accounts", jsz.accounts),
                ("streams", jsz.streams),
                ("consumers", jsz.consumers),
                ("messages", jsz.messages),
                ("bytes", _size(jsz.bytes)),
                ("memory", _size(jsz.memory)),
                ("storage", _size(jsz.storage)),
                ("api_total", jsz.api.get("total", 0)),
                ("api_errors", jsz.api.get("errors", 0)),
            ]
        )
    )
    rows = []
    for account in jsz.account_details:
        for stream in account.stream_detail:
            state = stream.get("state") or {}
            rows.append(
                [
                    account.name,
                    stream.get("name", ""),
                    state.get("messages", 0),
                    state.get("bytes", 0),
                    state.get("consumer_count", 0),
                ]
            )
    if rows:
        print()
        print(table(["account", "stream", "messages", "bytes", "consumers"], rows))


async def _queues(args: argparse.Namespace) -> None:
    from .nats_admin import NatsAdmin

    nc = await _connect(args, "natswire-cli-admin")
    progress = _ProgressLine("queues", enabled=not args.quiet)
    try:
        admin = NatsAdmin(nc, namespace=args.namespace)
        if args.all:
            items = await admin.all_queues(pattern=args.pattern, progress=progress)
            page_info = None
        else:
            page = await admin.list_queues(
                pattern=args.pattern,
                page=args.page,
                page_size=args.page_size,
                progress=progress,
            )
            items, page_info = page.items, page
    finally:
        progress.close()
        await nc.close()
    if args.json:
        if page_info is not None:
            _print_json(page_info.as_dict())
        else:
            _print_json({"items": [q.as_dict() for q in items], "item_count": len(items)})
        return
    rows = [
        [
            q.name,
            q.messages,
            q.messages_unacknowledged,
            q.waiting,
            q.durable,
            q.exclusive or q.auto_delete,
            q.arguments.get("x-dead-letter-exchange"),
        ]
        for q in items
    ]
    heads = ["name", "ready", "unacked", "waiting", "durable", "temporary", "dead-letter"]
    print(table(heads, rows))
    if page_info is not None:
        print(
            f"\npage {page_info.page} of {page_info.page_count}: {len(items)} of "
            f"{page_info.filtered_count} matching queue(s) in namespace {args.namespace!r}"
        )
    else:
        print(f"\n{len(items)} queue(s) in namespace {args.namespace!r}")


async def _connections(args: argparse.Namespace) -> None:
    from .nats_admin import NatsAdmin

    admin = NatsAdmin(monitor=args.monitor)
    conns = await admin.list_connections(args.namespace, args.name, account=args.account)
    if args.json:
        _print_json([c.as_dict() for c in conns])
        return
    rows = [
        [c.cid, c.name, c.namespace, c.account, f"{c.ip}:{c.port}", c.lang, c.in_msgs, c.out_msgs]
        for c in conns
    ]
    print(table(["cid", "name", "namespace", "account", "address", "lang", "in", "out"], rows))
    print(f"\n{len(conns)} connection(s)")


async def _kick(args: argparse.Namespace) -> None:
    from .nats_admin import NatsAdmin

    nc = await _connect(args, "natswire-cli-admin")
    try:
        kicked = await NatsAdmin(nc).kick_connection(args.target, server_id=args.server_id)
    finally:
        await nc.close()
    if args.json:
        _print_json({"kicked": kicked})
    else:
        print(f"kicked connection(s) {', '.join(map(str, kicked))}")


async def _stats(args: argparse.Namespace) -> None:
    from .monitor import Monitor

    monitor = Monitor(args.monitor)
    heads = ["time", "conns", "subs", "in_msgs", "out_msgs", "in_bytes", "out_bytes"]
    heads += ["in msg/s", "out msg/s", "slow", "mem"]
    previous: tuple[float, int, int] | None = None
    taken = 0
    while True:
        started = time.monotonic()
        varz = await monitor.varz()
        now = time.monotonic()
        rates: tuple[float | None, float | None] = (None, None)
        if previous is not None and now > previous[0]:
            elapsed = now - previous[0]
            rates = (
                (varz.in_msgs - previous[1]) / elapsed,
                (varz.out_msgs - previous[2]) / elapsed,
            )
        previous = (now, varz.in_msgs, varz.out_msgs)
        sample = {
            "time": time.strftime("%H:%M:%S"),
            "server_id": varz.server_id,
            "connections": varz.connections,
            "subscriptions": varz.subscriptions,
            "in_msgs": varz.in_msgs,
            "out_msgs": varz.out_msgs,
            "in_bytes": varz.in_bytes,
            "out_bytes": varz.out_bytes,
            "in_msgs_per_sec": rates[0],
            "out_msgs_per_sec": rates[1],
            "slow_consumers": varz.slow_consumers,
            "mem": varz.mem,
        }
        if args.json:
            print(json.dumps(sample))
        else:
            row = [sample["time"], varz.connections, varz.subscriptions, varz.in_msgs]
            row += [varz.out_msgs, _size(varz.in_bytes), _size(varz.out_bytes)]
            row += [rates[0], rates[1], varz.slow_consumers, _size(varz.mem)]
            if taken == 0:
                print(_fixed(heads))
            print(_fixed([_cell(v) for v in row]))
        sys.stdout.flush()
        taken += 1
        if args.count and taken >= args.count:
            return
        await asyncio.sleep(max(0.0, args.interval - (time.monotonic() - started)))


_ADMIN = {
    "varz": _varz,
    "connz": _connz,
    "jsz": _jsz,
    "queues": _queues,
    "connections": _connections,
    "kick": _kick,
}


def run(args: argparse.Namespace) -> int:
    """Run ``natswire admin ...`` or ``natswire stats``; return the exit status."""
    from ..protocol.errors import NatsWireError

    if args.command == "stats":
        what, command = "stats", _stats
    else:
        what, command = f"admin {args.admin_command}", _ADMIN[args.admin_command]
    try:
        asyncio.run(command(args))
    except KeyboardInterrupt:
        return 130
    except (NatsWireError, OSError, ValueError) as exc:
        print(f"natswire {what}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0
