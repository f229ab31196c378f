"""``natswire kv get|put|del|watch|ls|add`` and ``natswire object put|get|ls|rm|add``:
the Key-Value store and Object Store from a shell, as ``nats kv`` and ``nats object``.

``natswire/cli.py`` adds the subcommands with :func:`add_parsers` and runs them with
:func:`run`, handing over how it connects.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ..client import Client
from .context import JetStreamContext
from .errors import NoKeysError, NotFoundError
from .kv import KV_STREAM_TEMPLATE
from .kv_watch import Entry

ConnectionArgs = Callable[[argparse.ArgumentParser], None]
Connect = Callable[[argparse.Namespace], Awaitable[Client]]


def add_parsers(commands: Any, connection_args: ConnectionArgs) -> None:
    """Add ``kv`` and ``object`` and their subcommands to the CLI's subparsers."""
    kv = commands.add_parser("kv", help="read, write and watch Key-Value buckets")
    kv_sub = kv.add_subparsers(dest="kv_command", required=True, metavar="KV_COMMAND")
    parsers = {
        "get": kv_sub.add_parser("get", help="print a key's value"),
        "put": kv_sub.add_parser("put", help="store a value (from stdin when not given)"),
        "del": kv_sub.add_parser("del", help="delete a key (--purge: and its history)"),
        "watch": kv_sub.add_parser("watch", help="print the keys' values, then their updates"),
        "ls": kv_sub.add_parser("ls", help="list the buckets, or a bucket's keys"),
        "add": kv_sub.add_parser("add", help="create a bucket"),
    }
    for name, parser in parsers.items():
        connection_args(parser)
        parser.add_argument("bucket", nargs="?" if name == "ls" else None, help="the bucket")
    parsers["get"].add_argument("key")
    parsers["get"].add_argument("--revision", type=int, help="this revision instead")
    parsers["put"].add_argument("key")
    parsers["put"].add_argument("value", nargs="?", help="the value (default: stdin)")
    parsers["del"].add_argument("key")
    parsers["del"].add_argument("--purge", action="store_true", help="remove every revision")
    parsers["watch"].add_argument("keys", nargs="?", default=">", help="keys (default: >)")
    parsers["watch"].add_argument(
        "--count", "-c", type=int, default=0, help="exit after this many updates (0: never)"
    )
    parsers["add"].add_argument("--history", type=int, default=1, help="revisions per key")
    parsers["add"].add_argument("--ttl", type=float, help="seconds a revision is kept")

    obj = commands.add_parser("object", help="store and fetch files in Object Store buckets")
    obj_sub = obj.add_subparsers(dest="object_command", required=True, metavar="OBJECT_COMMAND")
    oparsers = {
        "put": obj_sub.add_parser("put", help="store a file (from stdin with -)"),
        "get": obj_sub.add_parser("get", help="fetch an object to a file or stdout"),
        "ls": obj_sub.add_parser("ls", help="list a bucket's objects"),
        "rm": obj_sub.add_parser("rm", help="delete an object"),
        "add": obj_sub.add_parser("add", help="create a bucket"),
    }
    for parser in oparsers.values():
        connection_args(parser)
        parser.add_argument("bucket", help="the bucket")
    oparsers["put"].add_argument("file", help="the file to store, - for stdin")
    oparsers["put"].add_argument("--name", help="the object's name (default: the file's)")
    oparsers["get"].add_argument("name")
    oparsers["get"].add_argument("--output", "-o", help="the file to write (default: stdout)")
    oparsers["rm"].add_argument("name")


def _show(entry: Entry) -> str:
    what = entry.operation or "PUT"
    value = "" if entry.operation else " " + (entry.value or b"").decode(errors="replace")
    return f"[{entry.revision}] {what} {entry.bucket} > {entry.key}:{value}".rstrip(":")


async def _kv(js: JetStreamContext, args: argparse.Namespace) -> int:
    command = args.kv_command
    if command == "ls" and not args.bucket:
        names = await js.stream_names()
        for name in sorted(names):
            if name.startswith(KV_STREAM_TEMPLATE.format(bucket="")):
                print(name[3:])
        return 0
    if command == "add":
        await js.create_key_value(bucket=args.bucket, history=args.history, ttl=args.ttl)
        print(f"created bucket {args.bucket}")
        return 0
    kv = await js.key_value(args.bucket)
    if command == "get":
        entry = await kv.get(args.key, args.revision)
        sys.stdout.buffer.write((entry.value or b"") + b"\n")
    elif command == "put":
        value = args.value.encode() if args.value is not None else sys.stdin.buffer.read()
        print(await kv.put(args.key, value))
    elif command == "del":
        await (kv.purge(args.key) if args.purge else kv.delete(args.key))
    elif command == "ls":
        try:
            for key in sorted(await kv.keys()):
                print(key)
        except NoKeysError:
            pass
    else:
        watcher = await kv.watch(args.keys)
        print(f"watching {args.bucket} {args.keys}", file=sys.stderr, flush=True)
        seen = 0
        try:
            async for update in watcher:
                if update is not None:
                    print(_show(update), flush=True)
                    seen += 1
                    if args.count and seen >= args.count:
                        break
        finally:
            await watcher.stop()
    return 0


async def _object(js: JetStreamContext, args: argparse.Namespace) -> int:
    command = args.object_command
    if command == "add":
        await js.create_object_store(args.bucket)
        print(f"created bucket {args.bucket}")
        return 0
    obs = await js.object_store(args.bucket)
    if command == "put":
        if args.file == "-":
            info = await obs.put(args.name or "stdin", sys.stdin.buffer)
        else:
            with open(args.file, "rb") as f:
                info = await obs.put(args.name or Path(args.file).name, f)
        print(f"{info.name}: {info.size} bytes in {info.chunks} chunks, {info.digest}")
    elif command == "get":
        if args.output:
            with open(args.output, "wb") as out:
                await obs.get(args.name, writeinto=out)
        else:
            await obs.get(args.name, writeinto=sys.stdout.buffer)
            sys.stdout.buffer.flush()
    elif command == "ls":
        try:
            infos = await obs.list(ignore_deletes=True)
        except NotFoundError:
            infos = []
        for info in sorted(infos, key=lambda i: i.name):
            print(f"{info.name}\t{info.size}\t{info.mtime}")
    else:
        await obs.delete(args.name)
    return 0


async def _run(args: argparse.Namespace, connect: Connect) -> int:
    nc = await connect(args)
    try:
        js = JetStreamContext(nc)
        return await (_kv(js, args) if args.command == "kv" else _object(js, args))
    finally:
        await nc.close()


def run(args: argparse.Namespace, connect: Connect) -> int:
    """Run ``natswire kv ...`` or ``natswire object ...``; return the exit status."""
    from ..errors import NatsWireError

    try:
        return asyncio.run(_run(args, connect))
    except KeyboardInterrupt:
        return 130
    except (NatsWireError, OSError, ValueError) as exc:
        print(f"natswire {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
