"""TLS against a real nats-server with certificates generated at test time: server
TLS, mutual TLS, handshake-first, each way of failing, and reconnect over TLS."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from certs import TlsFiles, make_tls_files

import natswire
from natswire.errors import NoServersError, SecureConnectionRequiredError
from natswire.server import NatsServer

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_server(tls_files: TlsFiles) -> Iterator[NatsServer]:
    with NatsServer(tls_cert=tls_files.server_cert, tls_key=tls_files.server_key) as server:
        yield server


@pytest.fixture(scope="module")
def plain_server() -> Iterator[NatsServer]:
    with NatsServer() as server:
        yield server


def client_context(tls_files: TlsFiles, *, ca: Path | None = None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca or tls_files.ca))


async def roundtrip(nc: natswire.Client, subject: str = "tls.check") -> bytes:
    sub = await nc.subscribe(subject)
    await nc.publish(subject, b"over tls")
    msg = await sub.next_msg(timeout=2)
    await sub.unsubscribe()
    return msg.data


async def test_server_tls_with_a_verifying_context(
    tls_server: NatsServer, tls_files: TlsFiles
) -> None:
    nc = await natswire.connect(tls_server.url, tls=client_context(tls_files))
    try:
        assert nc.connected_url == tls_server.url
        assert await roundtrip(nc) == b"over tls"
    finally:
        await nc.close()


async def test_tls_upgrade_when_the_server_requires_it_with_a_nats_url(
    tls_server: NatsServer, tls_files: TlsFiles
) -> None:
    url = f"nats://127.0.0.1:{tls_server.port}"
    nc = await natswire.connect(url, tls=client_context(tls_files), tls_hostname="localhost")
    try:
        assert await roundtrip(nc) == b"over tls"
    finally:
        await nc.close()


async def test_unknown_ca_fails_within_the_connect_timeout(
    tls_server: NatsServer, tls_files: TlsFiles
) -> None:
    started = time.monotonic()
    with pytest.raises(NoServersError) as caught:
        await natswire.connect(
            tls_server.url,
            tls=client_context(tls_files, ca=tls_files.other_ca),
            connect_timeout=2,
        )
    assert time.monotonic() - started < 3
    assert "certificate verify failed" in str(caught.value)
    assert isinstance(caught.value.__cause__, ssl.SSLCertVerificationError)


async def test_hostname_mismatch_is_reported(tls_server: NatsServer, tls_files: TlsFiles) -> None:
    with pytest.raises(NoServersError) as caught:
        await natswire.connect(
            tls_server.url,
            tls=client_context(tls_files),
            tls_hostname="not-the-server.example",
            connect_timeout=2,
        )
    assert "hostname" in str(caught.value).lower()


async def test_plain_client_against_a_tls_only_server_upgrades_with_default_trust(
    tls_server: NatsServer,
) -> None:
    # The server requires TLS; without a context of its own the client upgrades with
    # the system trust store, which does not know the test CA: a verification error.
    with pytest.raises(NoServersError) as caught:
        await natswire.connect(f"nats://127.0.0.1:{tls_server.port}", connect_timeout=2)
    assert "certificate verify failed" in str(caught.value)


async def test_tls_client_against_a_plain_server(
    plain_server: NatsServer, tls_files: TlsFiles
) -> None:
    started = time.monotonic()
    with pytest.raises(SecureConnectionRequiredError, match="does not offer TLS"):
        await natswire.connect(
            f"tls://127.0.0.1:{plain_server.port}", tls=client_context(tls_files)
        )
    assert time.monotonic() - started < 3


async def test_mutual_tls(tls_files: TlsFiles) -> None:
    with NatsServer(
        tls_cert=tls_files.server_cert,
        tls_key=tls_files.server_key,
        tls_ca=tls_files.ca,
        tls_verify=True,
    ) as server:
        context = client_context(tls_files)
        context.load_cert_chain(str(tls_files.client_cert), str(tls_files.client_key))
        nc = await natswire.connect(server.url, tls=context)
        try:
            assert await roundtrip(nc) == b"over tls"
        finally:
            await nc.close()

        # Without a client certificate the server refuses the handshake.
        started = time.monotonic()
        with pytest.raises(NoServersError):
            await natswire.connect(server.url, tls=client_context(tls_files), connect_timeout=2)
        assert time.monotonic() - started < 3


async def test_handshake_first(tls_files: TlsFiles) -> None:
    with NatsServer(
        tls_cert=tls_files.server_cert,
        tls_key=tls_files.server_key,
        tls_handshake_first=True,
    ) as server:
        nc = await natswire.connect(
            server.url, tls=client_context(tls_files), tls_handshake_first=True
        )
        try:
            assert await roundtrip(nc) == b"over tls"
        finally:
            await nc.close()

        # A client that waits for INFO first gets nothing and gives up in time.
        started = time.monotonic()
        with pytest.raises(NoServersError, match="handshake"):
            await natswire.connect(server.url, tls=client_context(tls_files), connect_timeout=1)
        assert time.monotonic() - started < 2


async def test_reconnect_over_tls_after_a_restart(tls_files: TlsFiles) -> None:
    with NatsServer(tls_cert=tls_files.server_cert, tls_key=tls_files.server_key) as server:
        reconnected = asyncio.Event()
        nc = await natswire.connect(
            server.url,
            tls=client_context(tls_files),
            reconnect_time_wait=0.1,
            reconnected_cb=reconnected.set,
        )
        try:
            sub = await nc.subscribe("tls.after")
            await nc.flush()
            await asyncio.to_thread(server.restart)
            await asyncio.wait_for(reconnected.wait(), 10)
            await nc.publish("tls.after", b"again")
            assert (await sub.next_msg(timeout=2)).data == b"again"
            assert nc.stats.reconnects == 1
        finally:
            await nc.close()
