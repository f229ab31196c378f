"""``natswire migrate plan|apply|shovel|bridge``: the command line of the migration tools.

Exit status: 0 done; 1 an error (unreachable broker, wrong credentials, missing queue,
...: one line on stderr saying which); 2 bad arguments, or a topology with objects that
cannot be mapped (``plan`` prints them; ``apply`` then creates nothing unless given
``--skip-unmappable``); 3 ``shovel --until-empty`` (or ``bridge --drain``) stopped while
the source still held messages not moved (the summary says how many and where); 130
interrupted before finishing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from typing import Any

DEFAULT_NATS = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")

EXIT_ERROR = 1
EXIT_UNMAPPABLE = 2
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3


class _UsageError(Exception):
    """Arguments that argparse accepts but that do not make a command."""


def _source_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--amqp",
        metavar="URL",
        help="RabbitMQ, amqp://user:password@host:port/vhost (the vhost to read; the "
        "management API is looked for on the same host, port 15672)",
    )
    parser.add_argument(
        "--management", metavar="URL", help="management API, http://user:password@host:port"
    )
    parser.add_argument(
        "--definitions",
        metavar="FILE",
        help="read the topology from this file (rabbitmqctl export_definitions FILE) "
        "instead of the management API",
    )
    parser.add_argument("--vhost", help="the vhost to read (default: the one in --amqp, or /)")
    parser.add_argument(
        "--namespace", default="", help="NATS namespace: subject and stream prefix (default: none)"
    )
    parser.add_argument(
        "--queues", metavar="REGEX", help="only queues whose names match (re.search)"
    )


def add_parsers(commands: Any) -> None:
    """Add ``migrate`` and its subcommands to the ``natswire`` argument parser."""
    migrate = commands.add_parser(
        "migrate",
        help="move a RabbitMQ topology and its messages to NATS (and back)",
        description="Migration tools: plan/apply the topology, shovel queues, bridge "
        "exchanges. Needs the extra: pip install 'natswire[migrate]'.",
    )
    sub = migrate.add_subparsers(dest="migrate_command", required=True, metavar="STEP")

    plan = sub.add_parser("plan", help="print the NATS topology a RabbitMQ vhost maps to")
    _source_args(plan)
    plan.add_argument(
        "--nats", metavar="URL", help="also show what already exists in this NATS server"
    )
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")

    apply = sub.add_parser("apply", help="create the planned topology on NATS (idempotent)")
    _source_args(apply)
    apply.add_argument("--nats", metavar="URL", default=DEFAULT_NATS, help="NATS server URL")
    apply.add_argument(
        "--skip-unmappable",
        action="store_true",
        help="create what can be mapped even when some objects cannot",
    )
    apply.add_argument(
        "--concurrency", type=int, default=8, help="queues declared at once (default: 8)"
    )
    apply.add_argument(
        "--progress",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="progress line on stderr every SECONDS (0: none; default: 1)",
    )

    shovel = sub.add_parser(
        "shovel",
        help="move a queue's messages: RabbitMQ -> NATS (exactly once) or NATS -> RabbitMQ",
    )
    shovel.add_argument(
        "--from", dest="source", required=True, metavar="URL", help="amqp://... or nats://..."
    )
    which = shovel.add_mutually_exclusive_group(required=True)
    which.add_argument("--queue", help="the queue to empty")
    which.add_argument(
        "--queues",
        metavar="REGEX",
        help="every RabbitMQ queue of the vhost whose name matches (read from the "
        "management API), each to the queue of the same name, until empty",
    )
    shovel.add_argument(
        "--management",
        metavar="URL",
        help="with --queues: the management API (default: the --amqp host, port 15672)",
    )
    shovel.add_argument(
        "--concurrency", type=int, default=8, help="with --queues: queues moved at once"
    )
    shovel.add_argument(
        "--to", dest="target", required=True, metavar="URL", help="nats://... or amqp://..."
    )
    shovel.add_argument("--to-queue", help="the queue to fill (default: the same name)")
    shovel.add_argument("--namespace", default="", help="NATS namespace (default: none)")
    shovel.add_argument("--rate", type=float, help="at most this many messages per second")
    shovel.add_argument(
        "--until-empty", action="store_true", help="stop when the queue is empty (else: Ctrl-C)"
    )
    shovel.add_argument(
        "--prefetch", type=int, default=500, help="messages in flight (default: 500)"
    )
    shovel.add_argument(
        "--progress",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="progress line on stderr every SECONDS (0: none; default: 1)",
    )

    bridge = sub.add_parser(
        "bridge", help="mirror exchanges from RabbitMQ to NATS (and back) during the rollout"
    )
    bridge.add_argument("--amqp", required=True, metavar="URL", help="RabbitMQ URL (vhost)")
    bridge.add_argument("--nats", default=DEFAULT_NATS, metavar="URL", help="NATS server URL")
    bridge.add_argument("--namespace", default="", help="NATS namespace (default: none)")
    bridge.add_argument(
        "--exchange", action="append", required=True, help="exchange to mirror (repeatable)"
    )
    bridge.add_argument(
        "--both-ways", action="store_true", help="also mirror NATS publishes back to RabbitMQ"
    )
    bridge.add_argument(
        "--routing-key",
        action="append",
        default=[],
        help="direct exchanges: also mirror this key (keys bound on NATS are mirrored anyway)",
    )
    bridge.add_argument(
        "--duration", type=float, help="stop after this many seconds (default: run until Ctrl-C)"
    )
    bridge.add_argument(
        "--drain",
        action="store_true",
        help="the cut-over: stop once the bridge holds nothing not yet copied (exit 3 when "
        "stopped before)",
    )
    bridge.add_argument(
        "--remove",
        action="store_true",
        help="delete the bridge's RabbitMQ queues and JetStream consumers, then exit "
        "(refused while they hold messages not copied, unless --force)",
    )
    bridge.add_argument(
        "--force", action="store_true", help="--remove even what still holds messages"
    )
    bridge.add_argument(
        "--progress",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="progress lines on stderr every SECONDS (0: none; default: 5)",
    )


def _say(line: str) -> None:
    print(line, flush=True)


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def _plan(args: argparse.Namespace, for_apply: bool) -> int:
    from .topology import apply_plan, make_plan, read_definitions

    if not (args.amqp or args.management or args.definitions):
        raise _UsageError("give --amqp URL, --management URL or --definitions FILE")
    definitions, vhost = await read_definitions(
        amqp_url=args.amqp,
        management_url=args.management,
        definitions_file=args.definitions,
        vhost=args.vhost,
    )
    plan = make_plan(definitions, vhost=vhost, namespace=args.namespace, queues=args.queues)
    if not for_apply:
        if args.nats:
            await _mark_existing(plan, args.nats, args.namespace)
        if args.json:
            print(json.dumps(plan.to_json(), indent=2))
        else:
            _say(plan.render())
        return EXIT_UNMAPPABLE if plan.fatal else 0
    if plan.fatal and not args.skip_unmappable:
        print(plan.render(), file=sys.stderr)
        print(
            f"natswire migrate apply: {len(plan.fatal)} objects cannot be mapped (above); "
            "nothing was created (--skip-unmappable creates the rest)",
            file=sys.stderr,
        )
        return EXIT_UNMAPPABLE
    from .broker import connect_nats

    conn = await connect_nats(args.nats, args.namespace)
    try:
        _say(f"Applying to NATS namespace {args.namespace or '(none)'!r} (stream {plan.stream}):")
        result = await apply_plan(
            plan,
            conn,
            _say,
            progress=_ApplyProgress(args.progress) if args.progress > 0 else None,
            concurrency=args.concurrency,
        )
    finally:
        await conn.close()
    if result.in_place:
        _say(f"  {result.in_place} queues were already in place (an earlier apply)")
    _say(
        f"Done: {result.exchanges} exchanges, {result.queues} queues, {result.bindings} "
        f"bindings in place; {len(result.failures)} failed; "
        f"{len(plan.fatal)} skipped as unmappable."
    )
    if result.failures:
        return EXIT_ERROR
    return 0


class _ApplyProgress:
    """``apply``'s progress line on stderr, at most every ``interval`` seconds, and
    once at the end."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.next = 0.0

    def __call__(self, result: Any) -> None:
        now = time.monotonic()
        if now >= self.next or result.done == result.total:
            self.next = now + self.interval
            print(result.line(), file=sys.stderr, flush=True)


async def _mark_existing(plan: Any, nats_url: str, namespace: str) -> None:
    """Mark the plan's queues that already exist on NATS (in the rendered text)."""
    from ..jetstream.errors import ConsumerNotFoundError, StreamNotFoundError
    from .broker import connect_nats

    conn = await connect_nats(nats_url, namespace)
    try:
        for queue in plan.queues:
            try:
                await conn.js.consumer_info(conn.stream, queue.consumer)
            except (ConsumerNotFoundError, StreamNotFoundError):
                continue
            queue.consumer += " (exists)"
    finally:
        await conn.close()


async def _shovel(args: argparse.Namespace) -> int:
    from .broker import is_amqp_url, is_nats_url
    from .shovel import Progress, shovel_to_amqp, shovel_to_nats

    stop = asyncio.Event()
    _stop_on_signals(stop)
    progress = Progress(interval=args.progress) if args.progress > 0 else None
    if args.queues is not None:
        return await _shovel_many(args, stop, progress)
    # The options both directions take.
    options: dict[str, Any] = {
        "queue": args.queue,
        "namespace": args.namespace,
        "to_queue": args.to_queue,
        "rate": args.rate,
        "until_empty": args.until_empty,
        "prefetch": args.prefetch,
        "progress": progress,
        "stop": stop,
    }
    if is_amqp_url(args.source) and is_nats_url(args.target):
        stats = await shovel_to_nats(amqp_url=args.source, nats_url=args.target, **options)
    elif is_nats_url(args.source) and is_amqp_url(args.target):
        stats = await shovel_to_amqp(nats_url=args.source, amqp_url=args.target, **options)
    else:
        raise _UsageError("--from and --to must be one amqp:// and one nats:// URL")
    _say(stats.summary())
    if args.until_empty and stats.remaining != 0:
        print(
            f"natswire migrate shovel: stopped before the source queue was empty: "
            f"{stats.remaining} messages not moved",
            file=sys.stderr,
        )
        return EXIT_INCOMPLETE
    return 0


async def _shovel_many(args: argparse.Namespace, stop: asyncio.Event, progress: Any) -> int:
    from .broker import is_amqp_url, is_nats_url
    from .definitions import read_definitions
    from .many import matching_queues, shovel_many
    from .shovel import MoveOptions, RateLimiter

    if is_amqp_url(args.source) and is_nats_url(args.target):
        amqp_url, nats_url, to_nats = args.source, args.target, True
    elif is_nats_url(args.source) and is_amqp_url(args.target):
        amqp_url, nats_url, to_nats = args.target, args.source, False
    else:
        raise _UsageError("--from and --to must be one amqp:// and one nats:// URL")
    if args.to_queue:
        raise _UsageError("--to-queue goes with --queue, not --queues")
    definitions, vhost = await read_definitions(amqp_url=amqp_url, management_url=args.management)
    queues = matching_queues(definitions, vhost, args.queues)
    if not queues:
        print(f"natswire migrate shovel: no queue matches {args.queues!r}", file=sys.stderr)
        return EXIT_ERROR
    options = MoveOptions(
        limiter=RateLimiter(args.rate), prefetch=args.prefetch, progress=progress, stop=stop
    )
    stats = await shovel_many(
        to_nats=to_nats,
        amqp_url=amqp_url,
        nats_url=nats_url,
        queues=queues,
        namespace=args.namespace,
        options=options,
        concurrency=args.concurrency,
    )
    _say(stats.summary())
    if stats.failures:
        return EXIT_ERROR
    return 0 if stats.complete else EXIT_INCOMPLETE


async def _bridge(args: argparse.Namespace) -> int:
    from .bridge import remove_bridge, run_bridge
    from .shovel import Progress

    if args.remove:
        removed = await remove_bridge(
            amqp_url=args.amqp,
            nats_url=args.nats,
            exchanges=args.exchange,
            namespace=args.namespace,
            force=args.force,
        )
        for item in removed:
            _say(f"removed {item}")
        return 0
    stop = asyncio.Event()
    _stop_on_signals(stop)
    ready = asyncio.Event()
    if args.duration is not None:
        asyncio.get_running_loop().call_later(args.duration, stop.set)
    progress = Progress(interval=args.progress) if args.progress > 0 else None

    async def announce() -> None:
        await ready.wait()
        direction = "<->" if args.both_ways else "->"
        print(
            f"bridging {', '.join(args.exchange)}: RabbitMQ {direction} NATS "
            f"(namespace {args.namespace or '(none)'!r}); Ctrl-C stops",
            file=sys.stderr,
            flush=True,
        )

    announcer = asyncio.ensure_future(announce())
    try:
        stats = await run_bridge(
            amqp_url=args.amqp,
            nats_url=args.nats,
            exchanges=args.exchange,
            namespace=args.namespace,
            both_ways=args.both_ways,
            routing_keys=args.routing_key,
            progress=progress,
            stop=stop,
            ready=ready,
            drain=args.drain,
        )
    finally:
        announcer.cancel()
    _say(stats.summary())
    if args.drain and stats.remaining:
        print(
            f"natswire migrate bridge: stopped before the bridge was drained: "
            f"{stats.remaining} messages not copied",
            file=sys.stderr,
        )
        return EXIT_INCOMPLETE
    return 0


def run(args: argparse.Namespace) -> int:
    """Run a parsed ``natswire migrate ...`` command; return the exit status."""
    from .errors import MigrationError

    step = args.migrate_command
    try:
        if step in ("plan", "apply"):
            return asyncio.run(_plan(args, step == "apply"))
        if step == "shovel":
            return asyncio.run(_shovel(args))
        return asyncio.run(_bridge(args))
    except KeyboardInterrupt:
        return 130
    except _UsageError as exc:
        print(f"natswire migrate {step}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except MigrationError as exc:
        print(f"natswire migrate {step}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # NATS, OS, aio-pika errors ...: one line, no traceback
        print(f"natswire migrate {step}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR


__all__ = ["add_parsers", "run"]
