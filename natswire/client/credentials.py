"""How the client proves who it is with nkeys, in every form nats-py takes: an nkey
seed (text or file), a ``.creds`` file (a path, its text as :class:`RawCredentials`,
or a ``(jwt, seed)`` pair of files or values), or callbacks that sign the server's nonce
and hand over the user JWT (a KMS or HSM holds the key)."""

from __future__ import annotations

import errno
from collections import UserString
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from . import nkeys
from .errors import InvalidUserCredentialsError

if TYPE_CHECKING:
    from .options import ConnectOptions


class RawCredentials(UserString):
    """The text of a ``.creds`` file, passed as ``user_credentials`` instead of a path."""


#: ``user_credentials``: a ``.creds`` path, its text, or ``(jwt, seed)`` files or values.
Credentials: TypeAlias = "str | Path | RawCredentials | tuple[str, str]"
#: ``signature_cb(nonce)``: the nonce's signature, base64-encoded.
SignatureCallback: TypeAlias = Callable[[str], "bytes | bytearray | str"]
#: ``user_jwt_cb()``: the user JWT.
JwtCallback: TypeAlias = Callable[[], "bytes | bytearray | str"]


def _text(value: bytes | bytearray | str) -> str:
    return value.decode() if isinstance(value, (bytes, bytearray)) else str(value)


@dataclass(frozen=True)
class NkeyAuth:
    """Signs the server's nonce and names the user, for the CONNECT line."""

    sign: Callable[[str], str]
    jwt: Callable[[], str] | None = None
    public_key: str | None = None

    def connect_fields(self, nonce: Any) -> dict[str, str]:
        """``jwt`` (or ``nkey``) and, when the server sent a nonce, ``sig``."""
        fields: dict[str, str] = {}
        if self.jwt is not None:
            fields["jwt"] = self.jwt()
        elif self.public_key is not None:
            fields["nkey"] = self.public_key
        if isinstance(nonce, str):
            fields["sig"] = self.sign(nonce)
        return fields

    @classmethod
    def from_seed(cls, seed: str, jwt: str = "") -> NkeyAuth:
        pair = nkeys.KeyPair.from_seed(seed)
        return cls(
            sign=lambda nonce: nkeys.sign_nonce(seed, nonce),
            jwt=(lambda: jwt) if jwt else None,
            public_key=None if jwt else pair.public_key,
        )


def _value_or_file(value: str) -> str:
    """``value`` itself, or the content of the file it names."""
    try:
        if "\n" in value or not Path(value).expanduser().is_file():
            return value.strip()
        return Path(value).expanduser().read_text().strip()
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            return value.strip()  # a JWT, not a path
        raise InvalidUserCredentialsError(f"cannot read {value!r}: {exc}") from None


def _from_credentials(creds: Credentials) -> NkeyAuth:
    if isinstance(creds, tuple):
        if len(creds) != 2:
            raise InvalidUserCredentialsError("user_credentials as a tuple is (jwt, seed)")
        jwt = _value_or_file(str(creds[0]))
        seed = nkeys.read_seed(str(creds[1]))
        nkeys.decode_seed(seed)
        return NkeyAuth.from_seed(seed, jwt)
    if isinstance(creds, UserString):
        jwt, seed = nkeys.parse_credentials(str(creds))
    else:
        jwt, seed = nkeys.read_credentials(creds)
    return NkeyAuth.from_seed(seed, jwt)


def load_nkey_auth(options: ConnectOptions) -> NkeyAuth | None:
    """Read the credentials once, so that a bad file fails at connect, not on each retry."""
    if options.user_credentials is not None:
        return _from_credentials(options.user_credentials)
    seed = options.nkeys_seed_str or options.nkeys_seed
    if seed:
        seed = nkeys.read_seed(seed)
        nkeys.decode_seed(seed)
        return NkeyAuth.from_seed(seed)
    if options.signature_cb is not None:
        signature_cb, jwt_cb = options.signature_cb, options.user_jwt_cb
        return NkeyAuth(
            sign=lambda nonce: _text(signature_cb(nonce)),
            jwt=(lambda: _text(jwt_cb())) if jwt_cb is not None else None,
        )
    return None
