"""Every credential form nats-py takes, against an operator-mode nats-server (JWTs
built here with natswire's nkeys): a ``.creds`` path (str or Path), its text as
``RawCredentials``, a ``(jwt, seed)`` tuple of files or of values, ``signature_cb`` with
``user_jwt_cb`` (a KMS or HSM signs), and ``nkeys_seed_str`` for a plain nkey user."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from operator_mode import OperatorMode, new_key

import natswire
from natswire import RawCredentials
from natswire.client import nkeys
from natswire.errors import AuthorizationError, InvalidUserCredentialsError
from natswire.server import NatsServer

pytestmark = pytest.mark.timeout(60)


@dataclass
class Operator:
    server: NatsServer
    user: nkeys.KeyPair
    user_jwt: str
    creds_text: str


@pytest.fixture(scope="module")
def operator_mode() -> Iterator[Operator]:
    setup = OperatorMode.make()
    with NatsServer(config_extra=setup.config) as server:
        yield Operator(server, setup.user, setup.user_jwt, setup.creds_text)


async def roundtrip(url: str, **options: Any) -> None:
    nc = await natswire.connect(url, connect_timeout=2, allow_reconnect=False, **options)
    try:
        sub = await nc.subscribe("forms")
        await nc.publish("forms", b"in")
        assert (await sub.next_msg(timeout=2)).data == b"in"
    finally:
        await nc.close()


async def test_a_creds_path_as_str_or_path(operator_mode: Operator, tmp_path: Path) -> None:
    creds = tmp_path / "user.creds"
    creds.write_text(operator_mode.creds_text)
    await roundtrip(operator_mode.server.url, user_credentials=str(creds))
    await roundtrip(operator_mode.server.url, user_credentials=creds)


async def test_raw_credentials(operator_mode: Operator) -> None:
    raw = RawCredentials(operator_mode.creds_text)
    await roundtrip(operator_mode.server.url, user_credentials=raw)


async def test_a_jwt_and_seed_tuple_of_files_or_values(
    operator_mode: Operator, tmp_path: Path
) -> None:
    jwt_file, seed_file = tmp_path / "user.jwt", tmp_path / "user.nk"
    jwt_file.write_text(operator_mode.user_jwt + "\n")
    seed_file.write_text(operator_mode.user.seed + "\n")
    url = operator_mode.server.url
    await roundtrip(url, user_credentials=(str(jwt_file), str(seed_file)))
    await roundtrip(url, user_credentials=(operator_mode.user_jwt, operator_mode.user.seed))


async def test_signature_and_jwt_callbacks(operator_mode: Operator) -> None:
    signed: list[str] = []
    user = operator_mode.user

    def sign(nonce: str) -> bytes:
        signed.append(nonce)
        return base64.b64encode(user.sign(nonce.encode()))

    def user_jwt() -> bytearray:
        return bytearray(operator_mode.user_jwt.encode())

    await roundtrip(operator_mode.server.url, signature_cb=sign, user_jwt_cb=user_jwt)
    assert signed


async def test_a_wrong_signature_is_refused(operator_mode: Operator) -> None:
    stranger = new_key(nkeys.PREFIX_USER)
    with pytest.raises(AuthorizationError):
        await roundtrip(
            operator_mode.server.url,
            signature_cb=lambda nonce: base64.b64encode(stranger.sign(nonce.encode())),
            user_jwt_cb=lambda: operator_mode.user_jwt.encode(),
        )


async def test_nkeys_seed_str_for_an_nkey_user() -> None:
    user = new_key(nkeys.PREFIX_USER)
    config = f'authorization {{ users = [ {{ nkey: "{user.public_key}" }} ] }}\n'
    with NatsServer(config_extra=config) as server:
        await roundtrip(server.url, nkeys_seed_str=user.seed)


async def test_malformed_credentials_fail_at_connect() -> None:
    with pytest.raises(InvalidUserCredentialsError):
        await natswire.connect("nats://127.0.0.1:1", user_credentials=RawCredentials("junk"))
    with pytest.raises(InvalidUserCredentialsError):
        await natswire.connect("nats://127.0.0.1:1", user_credentials=("jwt", "not-a-seed"))


async def test_nats_py_and_natswire_meet_with_each_credential_form(
    operator_mode: Operator, tmp_path: Path
) -> None:
    """The same credentials, in each form, given to nats-py and to natswire: a message
    goes from one to the other. nats-py signs with the ``nkeys`` package (its extra)."""
    pytest.importorskip("nkeys")
    import nats
    from nats.aio.client import RawCredentials as NatsPyRawCredentials

    creds = tmp_path / "user.creds"
    creds.write_text(operator_mode.creds_text)
    # nats-py reads these files as they are: no line break after the JWT or the seed.
    jwt_file, seed_file = tmp_path / "user.jwt", tmp_path / "user.nk"
    jwt_file.write_text(operator_mode.user_jwt)
    seed_file.write_text(operator_mode.user.seed)
    user = operator_mode.user

    def sign(nonce: str) -> bytes:
        return base64.b64encode(user.sign(nonce.encode()))

    def user_jwt() -> bytes:
        return operator_mode.user_jwt.encode()

    forms: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({"user_credentials": str(creds)}, {"user_credentials": str(creds)}),
        (
            {"user_credentials": (str(jwt_file), str(seed_file))},
            {"user_credentials": (str(jwt_file), str(seed_file))},
        ),
        (
            {"user_credentials": NatsPyRawCredentials(operator_mode.creds_text)},
            {"user_credentials": RawCredentials(operator_mode.creds_text)},
        ),
        (
            {"signature_cb": sign, "user_jwt_cb": user_jwt},
            {"signature_cb": sign, "user_jwt_cb": user_jwt},
        ),
    ]
    url = operator_mode.server.url
    for theirs, ours in forms:
        peer = await nats.connect(url, allow_reconnect=False, **theirs)
        nc = await natswire.connect(url, allow_reconnect=False, **ours)
        try:
            sub = await nc.subscribe("meet")
            await nc.flush()
            await peer.publish("meet", b"hello")
            await peer.flush()
            assert (await sub.next_msg(timeout=2)).data == b"hello"
        finally:
            await nc.close()
            await peer.close()


async def test_nats_py_and_natswire_meet_with_an_nkey_seed_string() -> None:
    pytest.importorskip("nkeys")
    import nats

    user = new_key(nkeys.PREFIX_USER)
    config = f'authorization {{ users = [ {{ nkey: "{user.public_key}" }} ] }}\n'
    with NatsServer(config_extra=config) as server:
        peer = await nats.connect(server.url, allow_reconnect=False, nkeys_seed_str=user.seed)
        nc = await natswire.connect(server.url, allow_reconnect=False, nkeys_seed_str=user.seed)
        try:
            sub = await nc.subscribe("meet.seed")
            await nc.flush()
            await peer.publish("meet.seed", b"seeded")
            await peer.flush()
            assert (await sub.next_msg(timeout=2)).data == b"seeded"
        finally:
            await nc.close()
            await peer.close()
