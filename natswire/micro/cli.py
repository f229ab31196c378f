"""``natswire micro ls|info|stats [NAME] [ID]``: find services and read their info and
statistics the way ``nats micro`` does, with a scatter-gather ``$SRV.*`` request.

``natswire/cli.py`` adds the subcommand with :func:`add_parsers` and runs it with
:func:`run`, handing over how it connects.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ..client import Client
from .config import ServiceVerb, control_subject
from .models import ServiceInfo, ServiceStats

ConnectionArgs = Callable[[argparse.ArgumentParser], None]
Connect = Callable[[argparse.Namespace], Awaitable[Client]]

#: Once the first reply is in, the gathering ends after this long without another.
STALL = 0.3


def add_parsers(commands: Any, connection_args: ConnectionArgs) -> None:
    """Add ``micro`` and its subcommands to the CLI's subparsers."""
    micro = commands.add_parser(
        "micro", help="find NATS services (ADR-32) and show their info and statistics"
    )
    sub = micro.add_subparsers(dest="micro_command", required=True, metavar="MICRO_COMMAND")
    for name, text in (
        ("ls", "list the running service instances"),
        ("info", "each instance's description and endpoints"),
        ("stats", "each endpoint's requests, errors and processing times"),
    ):
        parser = sub.add_parser(name, help=text)
        connection_args(parser)
        parser.add_argument("name", nargs="?", help="only the services of this name")
        parser.add_argument("id", nargs="?", help="only the instance with this id")
        parser.add_argument(
            "--wait",
            type=float,
            default=2.0,
            help="seconds to wait for replies at most (default: 2)",
        )
        parser.add_argument("--json", action="store_true", help="print the replies as JSON")


async def discover(
    nc: Client, verb: ServiceVerb, name: str | None = None, id: str | None = None, wait: float = 2.0
) -> list[dict[str, Any]]:
    """Every instance's reply to ``$SRV.<verb>[.<name>[.<id>]]``, ordered by name and id."""
    subject = control_subject(verb, name, id)
    replies = await nc.request_many(subject, timeout=wait, stall=STALL)
    docs = []
    for msg in replies:
        try:
            docs.append(json.loads(msg.data))
        except ValueError:
            continue
    return sorted(docs, key=lambda doc: (str(doc.get("name")), str(doc.get("id"))))


def _table(head: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(c) for c in head], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def _duration(nanoseconds: int) -> str:
    if nanoseconds >= 1_000_000_000:
        return f"{nanoseconds / 1e9:.2f}s"
    if nanoseconds >= 1_000_000:
        return f"{nanoseconds / 1e6:.2f}ms"
    return f"{nanoseconds / 1e3:.1f}µs"


def _metadata(metadata: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(metadata.items())) or "-"


def show_ls(docs: list[dict[str, Any]]) -> str:
    """One line per instance: name, version, id, description (from info replies)."""
    infos = [ServiceInfo.from_dict(doc) for doc in docs]
    rows = [(i.name, i.version, i.id, i.description or "") for i in infos]
    return _table(("NAME", "VERSION", "ID", "DESCRIPTION"), rows)


def show_info(docs: list[dict[str, Any]]) -> str:
    """Each instance with its description, metadata and endpoints."""
    blocks = []
    for info in (ServiceInfo.from_dict(doc) for doc in docs):
        head = [
            f"Service {info.name} {info.version} (id {info.id})",
            f"  description: {info.description or '-'}",
            f"  metadata: {_metadata(info.metadata)}",
        ]
        rows = [(e.name, e.subject, e.queue_group, _metadata(e.metadata)) for e in info.endpoints]
        table = _table(("ENDPOINT", "SUBJECT", "QUEUE GROUP", "METADATA"), rows)
        blocks.append("\n".join([*head, *("  " + line for line in table.splitlines())]))
    return "\n\n".join(blocks)


def show_stats(docs: list[dict[str, Any]]) -> str:
    """One line per endpoint of each instance, and the totals."""
    rows: list[tuple[object, ...]] = []
    requests = errors = 0
    for stats in (ServiceStats.from_dict(doc) for doc in docs):
        for e in stats.endpoints:
            requests += e.num_requests
            errors += e.num_errors
            rows.append(
                (
                    stats.name,
                    stats.id,
                    e.name,
                    e.num_requests,
                    e.num_errors,
                    _duration(e.processing_time),
                    _duration(e.average_processing_time),
                    e.last_error or "",
                )
            )
    head = (
        "SERVICE",
        "ID",
        "ENDPOINT",
        "REQUESTS",
        "ERRORS",
        "TOTAL TIME",
        "AVERAGE",
        "LAST ERROR",
    )
    return _table(head, rows) + f"\n\n{len(docs)} instance(s): {requests} requests, {errors} errors"


async def _run(args: argparse.Namespace, connect: Connect) -> int:
    verbs = {"ls": ServiceVerb.INFO, "info": ServiceVerb.INFO, "stats": ServiceVerb.STATS}
    nc = await connect(args)
    try:
        docs = await discover(nc, verbs[args.micro_command], args.name, args.id, args.wait)
    finally:
        await nc.close()
    if args.json:
        print(json.dumps(docs, indent=2))
        return 0
    if not docs:
        which = f" named {args.name!r}" if args.name else ""
        print(f"no services{which} answered", file=sys.stderr)
        return 0 if args.micro_command == "ls" else 1
    show = {"ls": show_ls, "info": show_info, "stats": show_stats}[args.micro_command]
    print(show(docs))
    return 0


def run(args: argparse.Namespace, connect: Connect) -> int:
    """Run ``natswire micro ...``; return the exit status."""
    from ..errors import NatsWireError

    try:
        return asyncio.run(_run(args, connect))
    except KeyboardInterrupt:
        return 130
    except (NatsWireError, OSError, ValueError) as exc:
        print(f"natswire micro: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
