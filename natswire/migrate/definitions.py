"""Reading a RabbitMQ vhost's topology as *definitions*.

Definitions are the JSON of ``rabbitmqctl export_definitions`` and of the management
API's ``GET /api/definitions/<vhost>`` (the same format). :func:`read_definitions`
takes them from a file or from the management API; the planner
(:mod:`natswire.migrate.planner`) reads nothing itself.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from .. import httpjson
from .errors import MigrationError, RabbitSideError

#: What the management API's refusals mean; ``{url}`` is the URL asked (no
#: credentials), ``{path}`` its path.
_STATUS_MESSAGES = {
    401: "the RabbitMQ management API at {url} refused the credentials (401)",
    404: "the RabbitMQ management API has no {path!r} (404)",
}
_OTHER_STATUS_MESSAGE = "the RabbitMQ management API answered {status} for {url}"


def vhost_of(amqp_url: str) -> str:
    """The vhost an ``amqp://`` URL names (``/`` when none)."""
    path = urlsplit(amqp_url).path
    if not path or path == "/":
        return "/"
    return unquote(path[1:])


def management_url_for(amqp_url: str, port: int = 15672) -> str:
    """The management API URL beside a broker: same host and credentials, ``port``."""
    parts = urlsplit(amqp_url)
    scheme = "https" if parts.scheme == "amqps" else "http"
    creds = ""
    if parts.username is not None:
        creds = parts.username + (f":{parts.password}" if parts.password is not None else "")
        creds += "@"
    host = parts.hostname or "localhost"
    return f"{scheme}://{creds}{host}:{port}"


def _without_credentials(url: str) -> str:
    """``url`` as shown in messages: host and port, no user or password."""
    parts = urlsplit(url)
    netloc = parts.hostname or "localhost"
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _get_json(url: str, timeout: float) -> Any:
    """GET ``url`` (credentials in it go out as basic auth); failures as
    :class:`RabbitSideError` saying what went wrong."""
    shown = _without_credentials(url)
    try:
        return httpjson.request_json(url, timeout=timeout)[1]
    except httpjson.HTTPStatusError as exc:
        message = _STATUS_MESSAGES.get(exc.status, _OTHER_STATUS_MESSAGE)
        path = urlsplit(url).path
        raise RabbitSideError(message.format(url=shown, path=path, status=exc.status)) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RabbitSideError(
            f"cannot reach the RabbitMQ management API at {shown}: {reason}"
        ) from None


#: The management API builds its answer for every queue at once: for tens of thousands
#: of queues that takes a while (10 s were not enough for 20,000 on a loaded broker).
MANAGEMENT_TIMEOUT = 120.0


def fetch_definitions(
    management_url: str, vhost: str = "/", timeout: float = MANAGEMENT_TIMEOUT
) -> dict[str, Any]:
    """The vhost's definitions from the management API (``/api/definitions/<vhost>``),
    with each queue's ``messages`` count added from ``/api/queues/<vhost>``."""
    base = management_url.rstrip("/")
    enc = quote(vhost, safe="")
    definitions = _get_json(f"{base}/api/definitions/{enc}", timeout)
    if not isinstance(definitions, dict):
        raise RabbitSideError("the management API returned definitions that are not an object")
    try:
        queues = _get_json(f"{base}/api/queues/{enc}?columns=name,messages", timeout)
    except RabbitSideError:
        queues = []
    counts = {
        q.get("name"): q.get("messages")
        for q in queues
        if isinstance(q, dict) and isinstance(q.get("messages"), int)
    }
    for queue in definitions.get("queues") or []:
        if isinstance(queue, dict) and queue.get("name") in counts:
            queue["messages"] = counts[queue["name"]]
    definitions.setdefault("vhost", vhost)
    return definitions


def load_definitions(path: str) -> dict[str, Any]:
    """Definitions from a file (``rabbitmqctl export_definitions FILE``)."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise RabbitSideError(f"cannot read definitions file {path!r}: {exc.strerror}") from None
    start = text.find("{")
    try:
        data = json.loads(text[start:] if start >= 0 else text)
    except ValueError as exc:
        raise RabbitSideError(f"definitions file {path!r} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise RabbitSideError(f"definitions file {path!r} does not hold a JSON object")
    return data


async def read_definitions(
    *,
    amqp_url: str | None = None,
    management_url: str | None = None,
    definitions_file: str | None = None,
    vhost: str | None = None,
) -> tuple[dict[str, Any], str]:
    """``(definitions, vhost)`` from a file, or else from the management API (given,
    or derived from ``amqp_url``: same host and credentials, port 15672)."""
    if vhost is None:
        vhost = vhost_of(amqp_url) if amqp_url else "/"
    if definitions_file is not None:
        return load_definitions(definitions_file), vhost
    if management_url is None:
        if amqp_url is None:
            raise MigrationError("give --amqp, --management or --definitions")
        management_url = management_url_for(amqp_url)
    url = management_url
    definitions = await asyncio.get_running_loop().run_in_executor(
        None, lambda: fetch_definitions(url, vhost)
    )
    return definitions, vhost


__all__ = [
    "fetch_definitions",
    "load_definitions",
    "management_url_for",
    "read_definitions",
    "vhost_of",
]
