"""Regenerate the committed seed corpus: ``python -m fuzz.make_corpus``.

Seeds are real frames, as nats-server and the reference clients write them, plus
the lenient spellings the parser accepts (lower case, tabs, bare LF, unquoted -ERR).
Files in ``fuzz/corpus/<target>/`` that this script does not produce are removed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fuzz.websocket_target import seeds as websocket_seeds
from natswire.protocol import (
    Headers,
    encode_connect,
    encode_err,
    encode_hmsg,
    encode_hpub,
    encode_info,
    encode_msg,
    encode_ok,
    encode_ping,
    encode_pong,
    encode_pub,
    encode_sub,
    encode_unsub,
)

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"

INFO = {
    "server_id": "NCXKRJ4DUVHFAOZ5RY2IK7DCMFVCVTI2TPGJNLOXQS5CYZGXAXCHMJSA",
    "server_name": "n1",
    "version": "2.10.24",
    "proto": 1,
    "git_commit": "1a2b3c4",
    "go": "go1.23.4",
    "host": "0.0.0.0",
    "port": 4222,
    "headers": True,
    "auth_required": True,
    "tls_available": True,
    "max_payload": 1048576,
    "jetstream": True,
    "client_id": 18,
    "client_ip": "127.0.0.1",
    "nonce": "lOGYsbdMtTWd0sA",
    "cluster": "wire",
    "domain": "hub",
    "connect_urls": ["10.0.0.1:4222", "10.0.0.2:4222", "[fd00::3]:4222"],
    "ws_connect_urls": ["10.0.0.1:8080"],
    "xkey": "XBHJBXVWQKA2UZFA6NQIMC6KXYFKWONBOPP3BF45JVMQTMLN6UEUHBY4",
    "api_lvl": 1,
}
CONNECT = {
    "verbose": False,
    "pedantic": False,
    "tls_required": False,
    "name": "wire-gundeck",
    "lang": "python",
    "version": "0.1.0",
    "protocol": 1,
    "echo": True,
    "headers": True,
    "no_responders": True,
}
PAYLOAD_WITH_FRAMES = b"line one\r\nMSG a 1 5\r\nhello\r\n\r\nPING\r\n-ERR 'x'\r\n\n\r"

STATUS_BLOCKS: dict[str, bytes] = {
    "empty": b"NATS/1.0\r\n\r\n",
    "one": b"NATS/1.0\r\nNats-Msg-Id: 42\r\n\r\n",
    "multi-value": b"NATS/1.0\r\nX-Trace: a\r\nx-trace: b\r\nX-TRACE: c\r\n\r\n",
    "jetstream": (
        b"NATS/1.0\r\nNats-Stream: ORDERS\r\nNats-Sequence: 17\r\n"
        b"Nats-Time-Stamp: 2025-01-01T00:00:00.000000001Z\r\nNats-Subject: orders.new\r\n\r\n"
    ),
    "503": b"NATS/1.0 503\r\n\r\n",
    "503-subject": b"NATS/1.0 503\r\nNats-Subject: svc.echo\r\n\r\n",
    "408": (
        b"NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 1\r\nNats-Pending-Bytes: 0\r\n\r\n"
    ),
    "408-interest": b"NATS/1.0 408 Interest Expired\r\n\r\n",
    "404": b"NATS/1.0 404 No Messages\r\n\r\n",
    "409": b"NATS/1.0 409 Exceeded MaxRequestBatch of 100\r\n\r\n",
    "100-heartbeat": (
        b"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 5\r\nNats-Last-Stream: 9\r\n"
        b"Nats-Consumer-Stalled: $JS.FC.ORDERS.x.1\r\n\r\n"
    ),
    "100-flow-control": b"NATS/1.0 100 FlowControl Request\r\n\r\n",
    "204-eob": b"NATS/1.0 204 EOB\r\n\r\n",
    "continuation": b"NATS/1.0\r\nLong: first\r\n  second\r\n\tthird\r\n\r\n",
    "spacing": b"NATS/1.0  409   Consumer Deleted \r\nK:v\r\nL:   w  \r\n\r\n",
    "unicode": "NATS/1.0\r\nCaf\u00e9: \u2603 snow\r\n\r\n".encode(),
}


def client_seeds() -> dict[str, bytes]:
    """What a server sends."""
    seeds = {
        "info": encode_info(INFO),
        "info-minimal": b'INFO {"server_id":"x","version":"2.10.0","max_payload":1048576}\r\n',
        "info-lenient": b'info\t{"server_id": "x", "proto": 1, "ldm": true}\n',
        "info-many-urls": encode_info(
            {"connect_urls": [f"10.0.{i // 200}.{i % 200}:4222" for i in range(150)]}
        ),
        "msg": encode_msg("orders.new", 1, b"hello"),
        "msg-reply": encode_msg("svc.echo", 7, b'{"a":1}', "_INBOX.abc.1"),
        "msg-empty": encode_msg("a", 2, b""),
        "msg-frames-in-payload": encode_msg("a.b.c", 3, PAYLOAD_WITH_FRAMES),
        "msg-lenient": b"msg\ta  1\t r 5\nhello\r\n",
        "msg-unicode": encode_msg("caf\u00e9.\u2603", 4, "d\u00e9j\u00e0".encode()),
        "ping": encode_ping(),
        "pong": encode_pong(),
        "ok": encode_ok(),
        "ok-junk": b"+OK junk\r\n",
        "ping-extra": b"PING extra\r\n",
        "err": encode_err("Unknown Protocol Operation"),
        "err-permissions": encode_err('Permissions Violation for Publish to "secret.x"'),
        "err-unquoted": b"-ERR Stale Connection\r\n",
        "err-double-quoted": b'-ERR "Authorization Violation"\r\n',
        "err-lower": b"-err 'maximum control line exceeded'\n",
        # Inputs that make the standard library raise inside the parser (RecursionError
        # in json, ValueError from int() past 4300 digits): receive_data must turn them
        # into RemoteProtocolError.
        "info-deep-nesting": b"INFO " + b"[" * 3000 + b"\r\n",
        "msg-size-4400-digits": b"MSG a 1 " + b"9" * 4400 + b"\r\n",
    }
    for name, block in STATUS_BLOCKS.items():
        reply = "_INBOX.r" if name.startswith(("100-flow", "jetstream")) else None
        payload = b"" if name[:1].isdigit() else b"body\r\n"
        seeds[f"hmsg-{name}"] = encode_hmsg("_INBOX.x.1", 9, block, payload, reply)
    seeds["hmsg-lenient"] = b"HMSG\ta 1  r 12\t14\nNATS/1.0\r\n\r\nhi\r\n"
    seeds["stream"] = b"".join(
        [
            encode_info(INFO),
            encode_ping(),
            encode_msg("a", 1, b"x"),
            encode_hmsg("_INBOX.x", 2, Headers(status=503), b""),
            encode_ok(),
            encode_msg("b", 1, PAYLOAD_WITH_FRAMES, "r"),
            encode_err("Stale Connection"),
        ]
    )
    return seeds


def server_seeds() -> dict[str, bytes]:
    """What a client sends."""
    seeds = {
        "connect": encode_connect(CONNECT),
        "connect-user": encode_connect({**CONNECT, "user": "wire", "pass": "s3cret"}),
        "connect-token": encode_connect({"verbose": False, "auth_token": "t0k3n"}),
        "connect-nkey": encode_connect(
            {
                **CONNECT,
                "nkey": "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4",
                "sig": "hUZd1B3nXoVm5hrk1x7L7rvPC0vLbUl4Ai1zVoTdrW2nAmlk2mPthh2IKyWQ"
                "-Z9EpEhlpiaPx9EtpDlE0TdQBQ",
                "jwt": "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.c2ln",
            }
        ),
        "connect-lenient": b'connect\t{"verbose":false}\n',
        "connect-deep-nesting": b'CONNECT {"a":' + b"[" * 3000 + b"\r\n",
        "pub": encode_pub("orders.new", b"hello"),
        "pub-reply": encode_pub("svc.echo", b'{"a":1}', "_INBOX.abc.1"),
        "pub-empty": encode_pub("NOTIFY", b""),
        "pub-frames-in-payload": encode_pub("a.b", PAYLOAD_WITH_FRAMES),
        "pub-lenient": b"pub\ta  r\t5\nhello\r\n",
        "hpub": encode_hpub("orders.new", {"Nats-Msg-Id": "42"}, b"hello"),
        "hpub-reply": encode_hpub("svc.echo", {"A": ["1", "2"]}, b"x", "_INBOX.r"),
        "hpub-empty-headers": encode_hpub("a", {}, b""),
        "hpub-jetstream": encode_hpub(
            "orders.new",
            {"Nats-Msg-Id": "m-1", "Nats-Expected-Stream": "ORDERS"},
            PAYLOAD_WITH_FRAMES,
            "_INBOX.ack.1",
        ),
        "hpub-lenient": b"hpub a 12 14\nNATS/1.0\r\n\r\nhi\r\n",
        "sub": encode_sub("orders.*", 1),
        "sub-queue": encode_sub("orders.>", 2, "workers"),
        "sub-lenient": b"sub\ta.*  q\t3\n",
        "unsub": encode_unsub(1),
        "unsub-max": encode_unsub(2, 10),
        "ping": encode_ping(),
        "pong": encode_pong(),
    }
    seeds["stream"] = b"".join(
        [
            encode_connect(CONNECT),
            encode_ping(),
            encode_sub("_INBOX.x.*", 1),
            encode_pub("svc.echo", b"hi", "_INBOX.x.1"),
            encode_hpub("a", {"K": "v"}, PAYLOAD_WITH_FRAMES),
            encode_unsub(1, 1),
            encode_pong(),
        ]
    )
    return seeds


def header_seeds() -> dict[str, bytes]:
    return dict(STATUS_BLOCKS)


def write(directory: Path, seeds: dict[str, bytes]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.iterdir():
        if stale.is_file() and stale.name not in seeds:
            stale.unlink()
    for name, data in seeds.items():
        (directory / name).write_bytes(data)


def main() -> int:
    corpora = {
        "client": client_seeds(),
        "server": server_seeds(),
        "headers": header_seeds(),
        "websocket": websocket_seeds(),
    }
    for target, seeds in corpora.items():
        write(CORPUS_DIR / target, seeds)
        print(f"{target}: {len(seeds)} seeds, {sum(map(len, seeds.values()))} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
