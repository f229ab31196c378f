"""The ``natswire`` command line: pub, sub, req, reply, an embedded server, the demo of
the AMQP adapter; ``admin``, ``stats``, ``migrate`` and ``micro`` come from their packages."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any

from ._version import __version__
from .client import Client, Message, connect
from .errors import NatsWireError

DEFAULT_SERVER = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")


def _connection_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--server",
        "-s",
        default=DEFAULT_SERVER,
        help="server URL, or several separated by commas (default: $NATS_URL or %(default)s)",
    )
    parser.add_argument("--user", help="user name (default: $NATS_USERNAME)")
    parser.add_argument("--password", help="password (default: $NATS_PASSWORD)")
    parser.add_argument("--token", help="authentication token")
    parser.add_argument(
        "--timeout", type=float, default=2.0, help="connect timeout in seconds (default: 2)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="natswire",
        description="Publish, subscribe, request and reply over NATS, or run a local server.",
    )
    parser.add_argument("--version", action="version", version=f"natswire {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    pub = commands.add_parser("pub", help="publish messages to a subject")
    _connection_args(pub)
    pub.add_argument("subject", help="subject to publish to")
    pub.add_argument("data", nargs="?", default="", help="payload (default: empty)")
    pub.add_argument("--count", "-c", type=int, default=1, help="how many times (default: 1)")
    pub.add_argument("--reply", default="", help="reply subject to attach")
    pub.add_argument(
        "--header", "-H", action="append", default=[], metavar="KEY:VALUE", help="add a header"
    )

    sub = commands.add_parser("sub", help="print messages received on a subject")
    _connection_args(sub)
    sub.add_argument("subject", help="subject to subscribe to (wildcards allowed)")
    sub.add_argument("--queue", "-q", default="", help="queue group to join")
    sub.add_argument(
        "--count", "-c", type=int, default=0, help="exit after this many messages (0: never)"
    )

    req = commands.add_parser("req", help="send a request and print the reply")
    _connection_args(req)
    req.add_argument("subject", help="subject to send the request to")
    req.add_argument("data", nargs="?", default="", help="payload (default: empty)")
    req.add_argument("--count", "-c", type=int, default=1, help="how many requests (default: 1)")
    req.add_argument(
        "--wait", type=float, default=2.0, help="seconds to wait for each reply (default: 2)"
    )

    reply = commands.add_parser("reply", help="answer requests on a subject")
    _connection_args(reply)
    reply.add_argument("subject", help="subject to answer on")
    reply.add_argument("data", nargs="?", default="", help="reply payload (default: echo)")
    reply.add_argument("--queue", "-q", default="", help="queue group to join")
    reply.add_argument(
        "--count", "-c", type=int, default=0, help="exit after this many requests (0: never)"
    )

    server = commands.add_parser("server", help="run a nats-server in the foreground")
    server.add_argument("--port", "-p", type=int, default=4222, help="client port (-1: any free)")
    server.add_argument("--user", help="require this user name")
    server.add_argument("--password", help="require this password")
    server.add_argument("--token", help="require this token")
    server.add_argument("--jetstream", "-js", action="store_true", help="enable JetStream")
    server.add_argument("--store-dir", help="JetStream store directory")
    server.add_argument(
        "--http-port", "-m", type=int, default=None, help="monitoring port (-1: any free)"
    )

    commands.add_parser(
        "demo",
        help="run the Wire-style notification flow through the AMQP adapter on an "
        "embedded nats-server",
    )
    from .admin.cli import add_parsers as add_admin_parsers

    add_admin_parsers(commands, _connection_args)  # ``admin ...`` and ``stats``
    from .migrate.cli import add_parsers as add_migrate_parsers

    add_migrate_parsers(commands)  # ``migrate plan|apply|shovel|bridge``
    from .micro.cli import add_parsers as add_micro_parsers

    add_micro_parsers(commands, _connection_args)  # ``micro ls|info|stats``
    from .jetstream.store_cli import add_parsers as add_store_parsers

    add_store_parsers(commands, _connection_args)  # ``kv ...`` and ``object ...``
    return parser


async def _connect(args: argparse.Namespace) -> Client:
    user = args.user or os.environ.get("NATS_USERNAME")
    password = args.password if args.password is not None else os.environ.get("NATS_PASSWORD")
    options: dict[str, Any] = {
        "servers": [url.strip() for url in args.server.split(",") if url.strip()],
        "connect_timeout": args.timeout,
        "name": f"natswire-cli-{args.command}",
    }
    if user:
        options["user"] = user
        options["password"] = password or ""
    if args.token:
        options["token"] = args.token
    return await connect(**options)


def _headers(items: Sequence[str]) -> list[tuple[str, str]] | None:
    pairs = []
    for item in items:
        key, sep, value = item.partition(":")
        if not sep:
            raise SystemExit(f"natswire: header {item!r} is not KEY:VALUE")
        pairs.append((key.strip(), value.strip()))
    return pairs or None


def _show(msg: Message, number: int) -> None:
    reply = f" reply={msg.reply}" if msg.reply else ""
    print(f"[#{number}] {msg.subject}{reply} ({len(msg.data)} bytes)")
    headers = msg.headers
    if headers is not None:
        if headers.status is not None:
            print(f"  status: {headers.status} {headers.description}".rstrip())
        for key, value in headers.multi_items():
            print(f"  {key}: {value}")
    print(msg.data.decode(errors="replace"))
    sys.stdout.flush()


async def _pub(args: argparse.Namespace) -> None:
    nc = await _connect(args)
    try:
        headers = _headers(args.header)
        data = args.data.encode()
        for _ in range(args.count):
            await nc.publish(args.subject, data, reply=args.reply, headers=headers)
        await nc.flush()
        print(f"published {args.count} message(s) to {args.subject!r}")
    finally:
        await nc.close()


async def _sub(args: argparse.Namespace) -> None:
    nc = await _connect(args)
    try:
        sub = await nc.subscribe(args.subject, queue=args.queue)
        print(f"listening on {args.subject!r}", file=sys.stderr)
        number = 0
        async for msg in sub.messages:
            number += 1
            _show(msg, number)
            if args.count and number >= args.count:
                break
    finally:
        await nc.close()


async def _req(args: argparse.Namespace) -> None:
    nc = await _connect(args)
    try:
        for number in range(1, args.count + 1):
            started = time.perf_counter()
            reply = await nc.request(args.subject, args.data.encode(), timeout=args.wait)
            elapsed = (time.perf_counter() - started) * 1000
            print(f"reply in {elapsed:.2f} ms:", file=sys.stderr)
            _show(reply, number)
    finally:
        await nc.close()


async def _reply(args: argparse.Namespace) -> None:
    nc = await _connect(args)
    try:
        sub = await nc.subscribe(args.subject, queue=args.queue)
        print(f"answering on {args.subject!r}", file=sys.stderr)
        answer = args.data.encode() if args.data else None
        number = 0
        async for msg in sub.messages:
            number += 1
            _show(msg, number)
            if msg.reply:
                await msg.respond(msg.data if answer is None else answer)
            if args.count and number >= args.count:
                await nc.flush()
                break
    finally:
        await nc.close()


def _server(args: argparse.Namespace) -> None:
    from .server import NatsServer

    server = NatsServer(
        port=args.port,
        user=args.user,
        password=args.password,
        token=args.token,
        jetstream=args.jetstream or args.store_dir is not None,
        store_dir=args.store_dir,
        http_port=args.http_port,
    )
    stop = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    with server:
        print(f"nats-server running at {server.url} (pid {server.pid}); Ctrl-C stops it")
        if server.http_port:
            print(f"monitoring at http://{server.host}:{server.http_port}")
        sys.stdout.flush()
        while not stop and server.is_running:
            time.sleep(0.2)
    print("nats-server stopped")


def _demo(args: argparse.Namespace) -> bool:
    from .amqp.demo import run_demo
    from .server import NatsServer

    def say(line: str) -> None:
        print(line)
        sys.stdout.flush()

    with NatsServer(jetstream=True) as server:
        say(f"Embedded nats-server with JetStream at {server.url} (pid {server.pid}).")

        def crash_and_restart() -> None:
            server.kill()
            server.start()

        return asyncio.run(run_demo(server.url, crash_and_restart, say))


COMMANDS = {"pub": _pub, "sub": _sub, "req": _req, "reply": _reply}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "migrate":
        from .migrate.cli import run as run_migrate

        return run_migrate(args)
    if args.command == "micro":
        from .micro.cli import run as run_micro

        return run_micro(args, _connect)
    if args.command in ("kv", "object"):
        from .jetstream.store_cli import run as run_store

        return run_store(args, _connect)
    if args.command in ("admin", "stats"):
        from .admin.cli import run as run_admin

        return run_admin(args)
    try:
        if args.command == "server":
            _server(args)
        elif args.command == "demo":
            if not _demo(args):
                return 1
        else:
            asyncio.run(COMMANDS[args.command](args))
    except KeyboardInterrupt:
        return 130
    except (NatsWireError, OSError, ValueError) as exc:
        print(f"natswire {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0
