"""``scripts/private_reach.py``: the count of cross-object private names in natswire/.

At most 40, and every one of them deliberate: marked with a ``# friend:`` comment that
says why the named call is not used there.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "private_reach.py"
LIMIT = 40


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("private_reach", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up while defining
    spec.loader.exec_module(module)
    return module


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def test_natswire_is_within_the_limit() -> None:
    done = run("--max", str(LIMIT))
    assert done.returncode == 0, done.stdout + done.stderr
    found = re.search(r"total: (\d+) \((\d+) marked friend\)", done.stdout)
    assert found is not None, done.stdout
    assert found.group(1) == found.group(2), f"unmarked private reach:\n{done.stdout}"


def test_over_the_limit_fails(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("a._x\nb._y  # friend: the y protocol\n")
    done = run("--max", "1", str(source))
    assert done.returncode == 1
    assert "total: 2 (1 marked friend)" in done.stdout
    assert run("--max", "2", str(source)).returncode == 0


def test_what_counts(tmp_path: Path) -> None:
    script = load_script()
    source = "\n".join(
        [
            "self._own",  # 1: own object: not counted
            "cls._own",  # 2
            "super()._own",  # 3
            "x.__dunder__",  # 4: dunder: not counted
            "other._private",  # 5: counted
            "self.peer._private",  # 6: through self, but another object: counted
            "from .mod import _hidden, public",  # 7: counted once
            "from os import _exit",  # 8: absolute import: not counted
            "parts._replace(a=1)",  # 9: a namedtuple's public method: not counted
            "# friend: the adapter's channel",  # 10
            "conn._channel_closed()",  # 11: counted, as a friend (comment above)
            "conn._spawn()  # friend: same package",  # 12: counted, as a friend
        ]
    )
    path = tmp_path / "sample.py"
    path.write_text(source)
    found = {(r.line, r.name, r.friend) for r in script.reaches(path)}
    assert found == {
        (5, "other._private", False),
        (6, "self.peer._private", False),
        (7, "from .mod import _hidden", False),
        (11, "conn._channel_closed", True),
        (12, "conn._spawn", True),
    }
