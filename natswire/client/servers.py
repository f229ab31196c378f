"""Server addresses and the pool the client connects and reconnects through."""

from __future__ import annotations

import random
from dataclasses import dataclass
from urllib.parse import SplitResult, unquote, urlsplit

DEFAULT_PORT = 4222
#: A ``ws://`` URL without a port means 80, ``wss://`` 443 (as in nats.go).
DEFAULT_WEBSOCKET_PORTS = {"ws": 80, "wss": 443}
MIXED_SCHEMES_ERROR = "nats: mixing of websocket and non websocket URLs is not allowed"


class ServerURL(str):
    """A server's URL as text that also answers as nats-py's parsed ``connected_url``:
    ``.scheme``, ``.hostname``, ``.port``, ``.netloc``, ``.username``, ``.password``."""

    __slots__ = ()

    @property
    def parsed(self) -> SplitResult:
        return urlsplit(str(self))

    @property
    def scheme(self) -> str:
        return self.parsed.scheme

    @property
    def hostname(self) -> str | None:
        return self.parsed.hostname

    @property
    def port(self) -> int | None:
        return self.parsed.port

    @property
    def netloc(self) -> str:
        return self.parsed.netloc

    @property
    def username(self) -> str | None:
        return self.parsed.username

    @property
    def password(self) -> str | None:
        return self.parsed.password

    @property
    def path(self) -> str:
        return self.parsed.path


@dataclass
class Server:
    """One server address, with the credentials its URL carried.

    ``websocket`` servers (``ws://``, ``wss://``: ``tls`` too) are reached through an
    HTTP upgrade of ``path``.
    """

    host: str
    port: int
    tls: bool = False
    websocket: bool = False
    #: The HTTP path a WebSocket server is upgraded on.
    path: str = "/"
    user: str | None = None
    password: str | None = None
    token: str | None = None
    discovered: bool = False
    #: Failed connection attempts since the last success.
    attempts: int = 0
    #: The host name to verify a TLS certificate against (kept for discovered IPs).
    tls_name: str | None = None
    #: Event-loop time of the last connection attempt.
    last_attempt: float = float("-inf")
    #: The text of the last authentication error this server returned.
    last_auth_error: str | None = None
    #: Never tried again (it returned the same authentication error twice in a row).
    skipped: bool = False

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.websocket:
            path = "" if self.path == "/" else self.path
            return f"{'wss' if self.tls else 'ws'}://{host}:{self.port}{path}"
        scheme = "tls" if self.tls else "nats"
        return f"{scheme}://{host}:{self.port}"

    @property
    def uri(self) -> SplitResult:
        """The URL parsed (nats-py's ``Server.uri``: ``.hostname``, ``.port``, ``.netloc``)."""
        return urlsplit(self.url)

    @property
    def reconnects(self) -> int:
        """nats-py's name for :attr:`attempts`."""
        return self.attempts

    def same_address(self, other: Server) -> bool:
        return self.host == other.host and self.port == other.port


def parse_server_url(url: str) -> Server:
    """Parse ``nats://[user:pass@|token@]host[:port]``, ``tls://...``, ``ws://...[/path]``,
    ``wss://...`` or ``host:port``."""
    text = url.strip()
    if "://" not in text:
        text = "nats://" + text
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("nats", "tls", "ws", "wss"):
        raise ValueError(f"unsupported scheme {parts.scheme!r} in server URL {url!r}")
    websocket = scheme in ("ws", "wss")
    try:
        port = parts.port or DEFAULT_WEBSOCKET_PORTS.get(scheme, DEFAULT_PORT)
    except ValueError:
        raise ValueError(f"bad port in server URL {url!r}") from None
    host = parts.hostname
    if not host:
        raise ValueError(f"no host in server URL {url!r}")
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    token = None
    if user is not None and password is None:
        token, user = user, None
    path = "/"
    if websocket:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Server(
        host=host,
        port=port,
        tls=scheme in ("tls", "wss"),
        websocket=websocket,
        path=path,
        user=user,
        password=password,
        token=token,
    )


class ServerPool:
    """The servers to try, in order; explicit ones stay, discovered ones come and go.

    The URLs are all WebSocket ones or none is (nats-py's rule): a ``ValueError`` says so.
    """

    def __init__(
        self,
        urls: list[str],
        *,
        randomize: bool = True,
        rng: random.Random | None = None,
    ) -> None:
        self._rng = rng or random.Random()
        self._randomize = randomize
        self.servers = [parse_server_url(url) for url in urls]
        if len({server.websocket for server in self.servers}) > 1:
            raise ValueError(MIXED_SCHEMES_ERROR)
        if randomize:
            self._rng.shuffle(self.servers)

    def __len__(self) -> int:
        return len(self.servers)

    def next_server(self, max_attempts: int) -> Server | None:
        """Take the next server that still has attempts left and move it to the back."""
        for _ in range(len(self.servers)):
            server = self.servers.pop(0)
            self.servers.append(server)
            if not server.skipped and (max_attempts < 0 or server.attempts < max_attempts):
                return server
        return None

    def replace(self, urls: list[str]) -> None:
        """A new list of servers (``set_server_pool``); those already known keep their
        state. Raises ``ValueError`` for a bad URL before changing anything."""
        new = [parse_server_url(url) for url in urls]
        if not new:
            raise ValueError("the server pool must hold at least one server")
        if len({server.websocket for server in new}) > 1:
            raise ValueError(MIXED_SCHEMES_ERROR)
        kept = [next((old for old in self.servers if old.same_address(s)), s) for s in new]
        if self._randomize:
            self._rng.shuffle(kept)
        self.servers = kept

    def connected(self, server: Server) -> None:
        """``server`` is the one connected to: move it to the back, so that when it is
        lost the next server is tried first (as nats-py and nats.go do)."""
        others = [s for s in self.servers if s is not server]
        if len(others) < len(self.servers):
            self.servers = [*others, server]

    def add_discovered(self, connect_urls: list[str], tls: bool, websocket: bool = False) -> bool:
        """Merge INFO ``connect_urls``; return whether any server was added.

        They are reached as the current server is: with TLS or not, over WebSocket or not
        (a server tells WebSocket clients its WebSocket addresses).
        """
        listed: list[Server] = []
        for url in connect_urls:
            try:
                server = parse_server_url(url)
            except ValueError:
                continue
            server.tls = tls
            server.websocket = websocket
            server.discovered = True
            listed.append(server)
        kept = [
            s
            for s in self.servers
            if not s.discovered or any(s.same_address(new) for new in listed)
        ]
        added = [s for s in listed if not any(s.same_address(old) for old in kept)]
        if added and self._randomize:
            self._rng.shuffle(added)
        tls_name = next((s.tls_name or s.host for s in kept if not s.discovered), None)
        for server in added:
            server.tls_name = tls_name
        self.servers = kept + added
        return bool(added)
