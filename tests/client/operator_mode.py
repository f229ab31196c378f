"""Test material for nkeys and JWT authentication: fresh keys, JWTs signed with
natswire's nkeys, and an operator-mode server configuration with one account and one
user (what ``nsc`` would produce)."""

from __future__ import annotations

import base64
import json
import os
import time
from dataclasses import dataclass
from typing import Any

from natswire.client import nkeys


def new_key(prefix: int) -> nkeys.KeyPair:
    return nkeys.KeyPair.from_seed(nkeys.encode_seed(prefix, os.urandom(32)))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def make_jwt(issuer: nkeys.KeyPair, subject: str, name: str, nats: dict[str, Any]) -> str:
    header = _b64(json.dumps({"typ": "JWT", "alg": "ed25519-nkey"}).encode())
    claims = {
        "jti": _b64(os.urandom(24)),
        "iat": int(time.time()),
        "iss": issuer.public_key,
        "name": name,
        "sub": subject,
        "nats": {**nats, "version": 2},
    }
    body = _b64(json.dumps(claims).encode())
    signature = issuer.sign(f"{header}.{body}".encode())
    return f"{header}.{body}.{_b64(signature)}"


@dataclass(frozen=True)
class OperatorMode:
    """An operator, one account and one user: the server's configuration and the
    user's JWT, seed and ``.creds`` text."""

    config: str
    user: nkeys.KeyPair
    user_jwt: str
    creds_text: str

    @classmethod
    def make(cls) -> OperatorMode:
        operator = new_key(nkeys.PREFIX_OPERATOR)
        account = new_key(nkeys.PREFIX_ACCOUNT)
        user = new_key(nkeys.PREFIX_USER)
        unlimited = {"subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1}
        operator_jwt = make_jwt(operator, operator.public_key, "op", {"type": "operator"})
        account_jwt = make_jwt(
            operator,
            account.public_key,
            "acc",
            {"type": "account", "limits": {**unlimited, "conn": -1, "leaf": -1, "wildcards": True}},
        )
        user_jwt = make_jwt(
            account,
            user.public_key,
            "usr",
            {"type": "user", "pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1},
        )
        creds_text = (
            "-----BEGIN NATS USER JWT-----\n"
            f"{user_jwt}\n"
            "------END NATS USER JWT------\n\n"
            "************************* IMPORTANT *************************\n"
            "NKEY Seed printed below can be used to sign and prove identity.\n\n"
            "-----BEGIN USER NKEY SEED-----\n"
            f"{user.seed}\n"
            "------END USER NKEY SEED------\n"
        )
        config = (
            f"operator: {operator_jwt}\n"
            "resolver: MEMORY\n"
            f"resolver_preload: {{ {account.public_key}: {account_jwt} }}\n"
        )
        return cls(config, user, user_jwt, creds_text)
