"""NKey and JWT (.creds) authentication against a real nats-server."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from operator_mode import OperatorMode, new_key

import natswire
from natswire.client import nkeys
from natswire.errors import AuthorizationError
from natswire.server import NatsServer

pytestmark = pytest.mark.timeout(60)


def test_seed_and_public_key_encodings_round_trip() -> None:
    raw = os.urandom(32)
    seed = nkeys.encode_seed(nkeys.PREFIX_USER, raw)
    assert seed.startswith("SU")
    assert nkeys.decode_seed(seed) == (nkeys.PREFIX_USER, raw)
    pair = nkeys.KeyPair.from_seed(seed)
    assert pair.public_key.startswith("U")
    prefix, public = nkeys.decode_public_key(pair.public_key)
    assert prefix == nkeys.PREFIX_USER and len(public) == 32


@pytest.mark.parametrize(
    "bad",
    ["", "SUNOTBASE32!!", "UAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"],
)
def test_bad_seeds_are_rejected(bad: str) -> None:
    with pytest.raises(nkeys.NKeyError):
        nkeys.decode_seed(bad)


def test_a_corrupted_seed_fails_its_checksum() -> None:
    seed = nkeys.encode_seed(nkeys.PREFIX_USER, os.urandom(32))
    corrupted = seed[:10] + ("A" if seed[10] != "A" else "B") + seed[11:]
    with pytest.raises(nkeys.NKeyError, match="checksum"):
        nkeys.decode_seed(corrupted)


async def test_nkey_user_authenticates(tmp_path: Path) -> None:
    user = new_key(nkeys.PREFIX_USER)
    config = f'authorization {{ users = [ {{ nkey: "{user.public_key}" }} ] }}\n'
    with NatsServer(config_extra=config) as server:
        seed_file = tmp_path / "user.nk"
        seed_file.write_text(user.seed + "\n")
        for seed in (user.seed, str(seed_file)):
            nc = await natswire.connect(server.url, nkeys_seed=seed)
            try:
                sub = await nc.subscribe("nkey.check")
                await nc.publish("nkey.check", b"signed in")
                assert (await sub.next_msg(timeout=2)).data == b"signed in"
            finally:
                await nc.close()

        stranger = new_key(nkeys.PREFIX_USER)
        started = time.monotonic()
        with pytest.raises(AuthorizationError):
            await natswire.connect(server.url, nkeys_seed=stranger.seed, connect_timeout=2)
        assert time.monotonic() - started < 2


async def test_unreadable_seed_file_fails_at_once(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(nkeys.NKeyError, match="cannot read"):
        await natswire.connect(
            "nats://127.0.0.1:1", nkeys_seed=str(tmp_path / "missing.nk"), max_reconnect_attempts=5
        )
    assert time.monotonic() - started < 0.5


async def test_user_credentials_file(tmp_path: Path) -> None:
    setup = OperatorMode.make()
    user = setup.user
    creds = tmp_path / "user.creds"
    creds.write_text(setup.creds_text)
    config = setup.config
    with NatsServer(config_extra=config) as server:
        nc = await natswire.connect(server.url, user_credentials=str(creds))
        try:
            sub = await nc.subscribe("creds.check")
            await nc.publish("creds.check", b"jwt works")
            assert (await sub.next_msg(timeout=2)).data == b"jwt works"
        finally:
            await nc.close()
        with pytest.raises(AuthorizationError):
            await natswire.connect(server.url, nkeys_seed=user.seed, connect_timeout=2)


def test_credentials_file_without_a_seed_is_rejected(tmp_path: Path) -> None:
    creds = tmp_path / "broken.creds"
    creds.write_text("-----BEGIN NATS USER JWT-----\nabc.def.ghi\n------END NATS USER JWT------\n")
    with pytest.raises(nkeys.NKeyError, match="not a credentials file"):
        nkeys.read_credentials(str(creds))
