"""What a nats-py program catches catches natswire's errors: every exception name of
nats.errors, nats.js.errors and nats.aio.errors exists in natswire.errors (and
natswire.js.errors), a TLS failure at connect is an ``ssl.SSLError``, a connect timeout
an ``asyncio.TimeoutError``, failed attempts go to ``error_cb``; nats-py's module paths
are aliases of natswire's modules."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import nats.aio.errors
import nats.errors
import nats.js.errors
import pytest
from certs import make_tls_files

import natswire
import natswire.errors
from natswire.server import NatsServer, free_port

pytestmark = pytest.mark.timeout(30)


def exception_names(module: object) -> list[str]:
    return sorted(
        name
        for name, value in vars(module).items()
        if isinstance(value, type)
        and issubclass(value, BaseException)
        and value.__module__.startswith("nats")
    )


@pytest.mark.parametrize("module", [nats.errors, nats.js.errors, nats.aio.errors])
def test_every_nats_py_error_name_exists_in_natswire_errors(module: object) -> None:
    missing = [name for name in exception_names(module) if not hasattr(natswire.errors, name)]
    assert not missing


def test_every_nats_js_error_name_exists_in_natswire_js_errors() -> None:
    import natswire.js.errors

    missing = [
        name for name in exception_names(nats.js.errors) if not hasattr(natswire.js.errors, name)
    ]
    assert not missing


def test_the_aliases_are_natswire_classes_with_nats_py_shapes() -> None:
    errors = natswire.errors
    assert errors.Error is errors.NatsWireError is errors.NatsError
    assert errors.MsgAlreadyAckdError is errors.MsgAlreadyAckedError
    assert errors.OutboundBufferLimitError is errors.OutboundBufferFullError
    assert errors.ErrTimeout is errors.TimeoutError
    assert issubclass(errors.TimeoutError, asyncio.TimeoutError)
    assert issubclass(errors.FlushTimeoutError, errors.TimeoutError)
    assert issubclass(errors.DrainTimeoutError, errors.TimeoutError)
    assert issubclass(errors.InvalidUserCredentialsError, errors.Error)
    assert issubclass(errors.KeyNotFoundError, errors.NotFoundError)
    for name in dir(errors):
        value = getattr(errors, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, errors.Error), name


def test_nats_py_module_paths_are_the_real_modules() -> None:
    import natswire._client
    import natswire.aio.client
    import natswire.jetstream.api
    import natswire.jetstream.errors
    import natswire.js.api
    import natswire.js.errors

    assert natswire.js.api is natswire.jetstream.api
    assert natswire.js.errors is natswire.jetstream.errors
    assert natswire.aio.client is natswire._client
    assert natswire.aio.client.Client is natswire.Client
    assert natswire.js.errors.Error is natswire.errors.JetStreamError


async def test_a_bad_credentials_seed_raises_invalid_user_credentials() -> None:
    with pytest.raises(natswire.errors.InvalidUserCredentialsError):
        await natswire.connect("nats://127.0.0.1:1", nkeys_seed="SUnot-a-seed")


async def test_a_callback_that_is_not_callable_raises_invalid_callback_type(
    nc: natswire.Client,
) -> None:
    with pytest.raises(natswire.errors.InvalidCallbackTypeError):
        await nc.subscribe("x", cb="not a function")  # type: ignore[arg-type]


async def test_failed_connect_attempts_go_to_error_cb() -> None:
    seen: list[Exception] = []
    with pytest.raises(natswire.errors.NoServersError):
        await natswire.connect(f"nats://127.0.0.1:{free_port()}", error_cb=seen.append)
    await asyncio.sleep(0)
    assert seen and isinstance(seen[0], OSError)


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A port that accepts connections and never says anything."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


async def test_a_connect_timeout_is_an_asyncio_timeout_error(silent_listener: int) -> None:
    with pytest.raises(asyncio.TimeoutError) as info:
        await natswire.connect(f"nats://127.0.0.1:{silent_listener}", connect_timeout=0.3)
    assert isinstance(info.value, natswire.errors.NoServersError)


async def test_a_tls_failure_at_connect_is_an_ssl_error(tmp_path: Path) -> None:
    files = make_tls_files(tmp_path)
    with NatsServer(tls_cert=files.server_cert, tls_key=files.server_key) as server:
        untrusting = ssl.create_default_context(cafile=str(files.other_ca))
        with pytest.raises(ssl.SSLError) as info:
            await natswire.connect(server.url, tls=untrusting)
        assert isinstance(info.value, natswire.errors.NoServersError)
        assert "certificate" in str(info.value)


def test_import_natswire_as_nats_reaches_nats_py_s_paths() -> None:
    import natswire as nats

    assert nats.js.api.StreamConfig is natswire.jetstream.api.StreamConfig
    assert nats.js.errors.KeyNotFoundError is natswire.errors.KeyNotFoundError
    assert nats.aio.client.Client is nats.Client
    assert nats.errors.Error is natswire.errors.NatsWireError
