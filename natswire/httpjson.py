"""JSON over HTTP for natswire's own tools: one small blocking helper, standard library only.

The server harness, the monitoring client, the migration planner, the RabbitMQ test
broker and the benchmarks all read JSON from an HTTP endpoint they name themselves
(nats-server's monitoring port, RabbitMQ's management API), usually on loopback. They
all go through :func:`request_json`, so proxies, credentials and error bodies are
handled one way:

- proxies from the environment (``http_proxy`` ...) are never used: the endpoints are
  the caller's own, and a proxy would turn a loopback call into a remote one;
- credentials may come in the URL (``http://user:pass@host:port/path``) or as
  ``user``/``password`` and go out as HTTP basic auth, never in the request line;
- a non-2xx answer raises :class:`HTTPStatusError` carrying the status and the decoded
  body, unless the status is in ``accept_status``; an answer that is not JSON raises
  :class:`NotJSONError` carrying its text.
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Collection
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = ["HTTPStatusError", "NotJSONError", "get_json", "request_json"]


class HTTPStatusError(Exception):
    """An HTTP endpoint answered with a status the caller did not accept."""

    def __init__(
        self, url: str, status: int, body: Any, *, text: str = "", reason: str = ""
    ) -> None:
        super().__init__(f"{url} answered HTTP {status}")
        #: The URL asked, without credentials.
        self.url = url
        #: The HTTP status code.
        self.status = status
        #: The answer's body: decoded JSON, else the text, else ``None``.
        self.body = body
        #: The answer's body as text, as it came (empty when there was none).
        self.text = text
        #: The status line's reason phrase (``"Not Found"``).
        self.reason = reason


class NotJSONError(ValueError):
    """An HTTP endpoint answered with a success status but a body that is not JSON."""

    def __init__(self, url: str, status: int, text: str) -> None:
        super().__init__(f"{url} answered HTTP {status} with a body that is not JSON")
        #: The URL asked, without credentials.
        self.url = url
        #: The HTTP status code.
        self.status = status
        #: The answer's body as text.
        self.text = text


def request_json(
    url: str,
    *,
    method: str = "GET",
    body: Any = None,
    timeout: float = 5.0,
    user: str | None = None,
    password: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
    accept_status: Collection[int] = (),
) -> tuple[int, Any]:
    """Send ``method`` to ``url`` (``body`` as JSON when given); return ``(status, JSON)``.

    An empty answer decodes to ``None``. Connection failures raise ``urllib.error.URLError``
    or ``OSError`` as ``urllib`` does; a status outside 2xx and ``accept_status`` raises
    :class:`HTTPStatusError`; an answer that is not JSON raises :class:`NotJSONError` (a
    ``ValueError``).
    """
    plain, url_user, url_password = _split_credentials(url)
    user = user if user is not None else url_user
    password = password if password is not None else url_password
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(plain, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if user is not None:
        token = base64.b64encode(f"{user}:{password or ''}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
    if ssl_context is not None:
        handlers.append(urllib.request.HTTPSHandler(context=ssl_context))
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(request, timeout=timeout) as response:
            status, raw = int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        raw = exc.read() if exc.fp is not None else b""
        if exc.code in accept_status:
            return exc.code, _decode_or_raise(plain, exc.code, raw)
        raise HTTPStatusError(
            plain,
            exc.code,
            _decode_lenient(raw),
            text=raw.decode(errors="replace"),
            reason=str(exc.reason),
        ) from None
    return status, _decode_or_raise(plain, status, raw)


def get_json(url: str, timeout: float = 5.0) -> Any:
    """GET ``url`` and return its decoded JSON (see :func:`request_json`)."""
    return request_json(url, timeout=timeout)[1]


def _split_credentials(url: str) -> tuple[str, str | None, str | None]:
    parts = urlsplit(url)
    if parts.username is None:
        return url, None, None
    netloc = parts.hostname or "localhost"
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port:
        netloc += f":{parts.port}"
    plain = parts._replace(netloc=netloc).geturl()  # _replace is namedtuple's public API
    return plain, unquote(parts.username), unquote(parts.password or "")


def _decode_or_raise(url: str, status: int, raw: bytes) -> Any:
    try:
        return _decode(raw)
    except ValueError:
        raise NotJSONError(url, status, raw.decode(errors="replace")) from None


def _decode(raw: bytes) -> Any:
    return json.loads(raw) if raw.strip() else None


def _decode_lenient(raw: bytes) -> Any:
    try:
        return _decode(raw)
    except ValueError:
        return raw.decode(errors="replace") or None
