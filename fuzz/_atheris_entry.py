"""libFuzzer process for one target: ``python -m fuzz._atheris_entry TARGET [libFuzzer args]``.

Started by the runner, one process per target. natswire is imported under atheris'
coverage instrumentation before anything else imports it.
"""

import sys

import atheris  # type: ignore[import-untyped]

with atheris.instrument_imports(include=["natswire"]):
    import natswire.protocol
    import natswire.protocol.websocket
    import natswire.protocol.websocket_upgrade  # noqa: F401

from fuzz.targets import TARGETS


def main() -> None:
    target = TARGETS[sys.argv[1]]
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
