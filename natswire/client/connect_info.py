"""What a client tells a server when it connects, and what it takes from the INFO it
gets: the CONNECT fields (auth, nkeys, JWT), the TLS context, the payload limits. The
credentials themselves are read by :func:`.credentials.load_nkey_auth`.

No event loop and no I/O beyond reading credential files: the asyncio handshake
(:mod:`.handshake`) and the blocking client (:mod:`natswire.sync`) both call these.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

from .._version import __version__
from .credentials import NkeyAuth
from .options import ConnectOptions
from .servers import Server

#: Inbound frames may exceed the server's max_payload only by this factor.
_INBOUND_PAYLOAD_SLACK = 2
_MIN_INBOUND_PAYLOAD_LIMIT = 64 * 1024 * 1024


def payload_limits(info: Mapping[str, Any]) -> tuple[int, int] | None:
    """``(max_payload, inbound limit)`` from the server's INFO: what the client may
    publish, and the payload size its parser accepts (with slack); ``None`` when INFO
    carries no ``max_payload``."""
    max_payload = info.get("max_payload")
    if isinstance(max_payload, int) and max_payload > 0:
        return max_payload, max(_MIN_INBOUND_PAYLOAD_LIMIT, max_payload * _INBOUND_PAYLOAD_SLACK)
    return None


def connect_fields(
    options: ConnectOptions,
    server: Server,
    info: Mapping[str, Any],
    tls_context: ssl.SSLContext | None,
    credentials: NkeyAuth | None,
) -> dict[str, Any]:
    """The fields of the CONNECT line for ``server``, given its INFO."""
    fields: dict[str, Any] = {
        "verbose": options.verbose,
        "pedantic": options.pedantic,
        "lang": "python",
        "version": __version__,
        "protocol": 1,
        "tls_required": server.tls or tls_context is not None,
    }
    if info.get("headers"):
        fields["headers"] = True
        fields["no_responders"] = True
    if options.no_echo:
        fields["echo"] = False
    if options.name:
        fields["name"] = options.name
    user = options.user or server.user
    password = options.password if options.user else server.password
    token = options.token or server.token
    if callable(token):
        token = token()
    if credentials is not None:
        fields.update(credentials.connect_fields(info.get("nonce")))
    if user:
        fields["user"] = user
        fields["pass"] = password or ""
    elif token:
        fields["auth_token"] = token
    fields.update(options.extra)
    return fields


def tls_context(option: ssl.SSLContext | bool | None) -> ssl.SSLContext | None:
    """The SSL context the ``tls`` option asks for (``True``: the default one)."""
    if option is True:
        return ssl.create_default_context()
    if isinstance(option, ssl.SSLContext):
        return option
    if option in (None, False):
        return None
    raise TypeError(f"tls must be an ssl.SSLContext or True, not {type(option).__name__}")
