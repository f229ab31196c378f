"""NKeys and user credentials: decode seeds, derive public keys, sign the server nonce.

The nkey text encoding (a prefix byte, the key, a CRC-16, base32 without padding) is
written here; the Ed25519 signature itself comes from the ``cryptography`` package,
installed by the ``natswire[nkeys]`` extra.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InvalidUserCredentialsError

PREFIX_SEED = 18 << 3
PREFIX_PRIVATE = 15 << 3
PREFIX_SERVER = 13 << 3
PREFIX_CLUSTER = 2 << 3
PREFIX_OPERATOR = 14 << 3
PREFIX_ACCOUNT = 0
PREFIX_USER = 20 << 3
_PUBLIC_PREFIXES = frozenset(
    (PREFIX_SERVER, PREFIX_CLUSTER, PREFIX_OPERATOR, PREFIX_ACCOUNT, PREFIX_USER)
)
_CREDS_SECTION = re.compile(
    r"\s*(?:-{3,}[^\n]*-{3,}\r?\n)([\w\-.=]+)(?:\r?\n\s*-{3,}[^\n]*-{3,}\r?\n?)"
)


class NKeyError(InvalidUserCredentialsError):
    """An nkey seed, public key or credentials file is malformed or unusable."""


def _crc16(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def _encode(raw: bytes) -> str:
    checked = raw + _crc16(raw).to_bytes(2, "little")
    return base64.b32encode(checked).decode().rstrip("=")


def _decode(text: str) -> bytes:
    try:
        data = base64.b32decode(text + "=" * (-len(text) % 8))
    except ValueError:
        raise NKeyError("not a base32 nkey") from None
    if len(data) < 4:
        raise NKeyError("nkey is too short")
    raw, checksum = data[:-2], int.from_bytes(data[-2:], "little")
    if _crc16(raw) != checksum:
        raise NKeyError("nkey checksum does not match")
    return raw


def encode_seed(prefix: int, seed: bytes) -> str:
    """Encode a 32-byte Ed25519 seed as an nkey seed (``S`` + the key type's letter)."""
    if len(seed) != 32:
        raise NKeyError("an Ed25519 seed is 32 bytes")
    if prefix not in _PUBLIC_PREFIXES:
        raise NKeyError(f"unknown nkey type prefix {prefix}")
    first = PREFIX_SEED | (prefix >> 5)
    second = (prefix & 31) << 3
    return _encode(bytes((first, second)) + seed)


def decode_seed(seed: str) -> tuple[int, bytes]:
    """Decode an nkey seed into its key type prefix and the 32-byte Ed25519 seed."""
    raw = _decode(seed.strip())
    if len(raw) != 34 or raw[0] & 0xF8 != PREFIX_SEED:
        raise NKeyError("not an nkey seed (it should start with 'S')")
    prefix = ((raw[0] & 7) << 5) | ((raw[1] & 0xF8) >> 3)
    if prefix not in _PUBLIC_PREFIXES:
        raise NKeyError(f"seed of an unknown key type ({prefix})")
    return prefix, raw[2:]


def encode_public_key(prefix: int, public_key: bytes) -> str:
    """Encode a 32-byte Ed25519 public key as an nkey (``U...`` for a user)."""
    if prefix not in _PUBLIC_PREFIXES or len(public_key) != 32:
        raise NKeyError("a public nkey is a known type prefix and 32 bytes")
    return _encode(bytes((prefix,)) + public_key)


def decode_public_key(nkey: str) -> tuple[int, bytes]:
    """Decode a public nkey into its type prefix and the 32-byte public key."""
    raw = _decode(nkey.strip())
    if len(raw) != 33 or raw[0] not in _PUBLIC_PREFIXES:
        raise NKeyError("not a public nkey")
    return raw[0], raw[1:]


def _private_key(seed: bytes) -> Any:
    try:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise NKeyError(
            "nkey signatures need the 'cryptography' package: pip install 'natswire[nkeys]'"
        ) from None
    return Ed25519PrivateKey.from_private_bytes(seed)


@dataclass(frozen=True)
class KeyPair:
    """An nkey seed able to sign, with its public key."""

    seed: str
    prefix: int
    raw_seed: bytes

    @classmethod
    def from_seed(cls, seed: str) -> KeyPair:
        prefix, raw = decode_seed(seed)
        return cls(seed=seed.strip(), prefix=prefix, raw_seed=raw)

    @property
    def public_key(self) -> str:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        public = _private_key(self.raw_seed).public_key()
        return encode_public_key(self.prefix, public.public_bytes(Encoding.Raw, PublicFormat.Raw))

    def sign(self, data: bytes) -> bytes:
        """The Ed25519 signature of ``data``."""
        signature: bytes = _private_key(self.raw_seed).sign(data)
        return signature


def sign_nonce(seed: str, nonce: str) -> str:
    """Sign a server nonce; the result goes in CONNECT's ``sig`` (base64url, no padding)."""
    signature = KeyPair.from_seed(seed).sign(nonce.encode())
    return base64.urlsafe_b64encode(signature).decode().rstrip("=")


def read_seed(seed_or_path: str) -> str:
    """A seed given as text, or the path of a file holding one."""
    text = seed_or_path.strip()
    if text.startswith("S") and "\n" not in text and not Path(text).exists():
        return text
    try:
        content = Path(seed_or_path).expanduser().read_text()
    except OSError as exc:
        raise NKeyError(f"cannot read the nkey seed file {seed_or_path!r}: {exc}") from None
    for line in content.splitlines():
        line = line.strip()
        if line.startswith("S") and len(line) > 50:
            return line
    raise NKeyError(f"no nkey seed in {seed_or_path!r}")


def read_credentials(path: str | Path) -> tuple[str, str]:
    """The user JWT and nkey seed of a ``.creds`` file."""
    try:
        content = Path(path).expanduser().read_text()
    except OSError as exc:
        raise NKeyError(f"cannot read the credentials file {str(path)!r}: {exc}") from None
    return parse_credentials(content, repr(str(path)))


def parse_credentials(content: str, where: str = "the credentials") -> tuple[str, str]:
    """The user JWT and nkey seed of a ``.creds`` file's ``content``."""
    sections = _CREDS_SECTION.findall(content)
    if len(sections) < 2:
        raise NKeyError(f"{where} is not a credentials file: expected a JWT and a seed")
    jwt, seed = sections[0], sections[1]
    decode_seed(seed)
    return jwt, seed
