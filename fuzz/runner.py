"""The fuzz runner behind ``python -m fuzz``.

With atheris importable, each target runs in its own libFuzzer process for
``--seconds`` seconds, on a temporary copy of its committed seed corpus
(``fuzz/corpus/<target>/``), so a run never modifies the repository. Without
atheris, a hypothesis-driven random loop checks the same invariants for the same
time. Either way the runner says which engine ran and how many inputs each target
executed, and exits non-zero, printing the crashing input, when a target fails.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

FUZZ_DIR = Path(__file__).resolve().parent
REPO_ROOT = FUZZ_DIR.parent
CORPUS_DIR = FUZZ_DIR / "corpus"
TARGET_NAMES = ("client", "server", "headers", "websocket")
ENGINES = ("atheris", "hypothesis")
RSS_LIMIT_MB = 2048
#: libFuzzer reports an input that takes longer than this as a hang (a failure).
PER_INPUT_TIMEOUT = 30
_ARTIFACT_PREFIXES = ("crash-", "timeout-", "oom-", "leak-", "slow-unit-")


@dataclass
class TargetResult:
    target: str
    engine: str
    executions: int
    seconds: float
    ok: bool
    detail: str = ""


def atheris_available() -> bool:
    """Whether ``import atheris`` works here (not merely whether it is installed)."""
    try:
        importlib.import_module("atheris")
    except Exception:
        return False
    return True


def seeds_for(target: str) -> list[Path]:
    directory = CORPUS_DIR / target
    if not directory.is_dir():
        return []
    return sorted(path for path in directory.iterdir() if path.is_file())


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(REPO_ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def _executions(log: str) -> int:
    match = re.search(r"stat::number_of_executed_units:\s*(\d+)", log)
    if match is None:
        match = re.search(r"Done (\d+) runs", log)
    return int(match.group(1)) if match else 0


def run_atheris(target: str, seconds: int, crash_dir: Path, verbose: bool) -> TargetResult:
    with tempfile.TemporaryDirectory(prefix=f"natswire-fuzz-{target}-") as work:
        corpus = Path(work) / "corpus"
        corpus.mkdir()
        for seed in seeds_for(target):
            shutil.copy(seed, corpus / seed.name)
        artifacts = crash_dir / target
        artifacts.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "fuzz._atheris_entry",
            target,
            f"-max_total_time={seconds}",
            f"-rss_limit_mb={RSS_LIMIT_MB}",
            f"-timeout={PER_INPUT_TIMEOUT}",
            f"-artifact_prefix={artifacts}{os.sep}",
            "-print_final_stats=1",
            str(corpus),
        ]
        started = time.monotonic()
        log_path = Path(work) / "libfuzzer.log"
        with log_path.open("w+b") as log_file:
            process = subprocess.run(
                command,
                cwd=REPO_ROOT,
                env=_environment(),
                stdin=subprocess.DEVNULL,
                stdout=None if verbose else log_file,
                stderr=None if verbose else subprocess.STDOUT,
                check=False,
            )
            log_file.seek(0)
            log = log_file.read().decode("utf-8", "replace")
        elapsed = time.monotonic() - started
        executions = _executions(log)
        corpus_size = sum(1 for _ in corpus.iterdir())
        if process.returncode == 0:
            return TargetResult(
                target,
                "atheris",
                executions,
                elapsed,
                True,
                f"corpus {len(seeds_for(target))} -> {corpus_size} inputs",
            )
        crashes = sorted(
            path for path in artifacts.iterdir() if path.name.startswith(_ARTIFACT_PREFIXES)
        )
        detail = [f"libFuzzer exited with status {process.returncode}"]
        if not verbose:
            detail.append("--- last lines of the libFuzzer log ---")
            detail.extend(log.splitlines()[-60:])
        for crash in crashes:
            from fuzz.targets import describe

            detail.append(f"crashing input saved as {crash}")
            detail.append(f"input: {describe(crash.read_bytes())}")
            detail.append(f"reproduce: {sys.executable} -m fuzz._atheris_entry {target} {crash}")
        return TargetResult(target, "atheris", executions, elapsed, False, "\n".join(detail))


def run_hypothesis(target: str, seconds: int, crash_dir: Path) -> TargetResult:
    from fuzz import hypothesis_engine

    seeds = [path.read_bytes() for path in seeds_for(target)]
    started = time.monotonic()
    result = hypothesis_engine.run(target, seconds, seeds)
    elapsed = time.monotonic() - started
    if result.failure is None:
        return TargetResult(target, "hypothesis", result.executions, elapsed, True)
    detail = result.failure
    if result.crash_input is not None:
        artifacts = crash_dir / target
        artifacts.mkdir(parents=True, exist_ok=True)
        path = artifacts / f"crash-{hashlib.sha1(result.crash_input).hexdigest()}"
        path.write_bytes(result.crash_input)
        detail += f"\ncrashing input saved as {path}"
        detail += f"\nreproduce: {sys.executable} -m fuzz --target {target} --replay {path}"
    return TargetResult(target, "hypothesis", result.executions, elapsed, False, detail)


def replay(target: str, path: Path) -> int:
    """Run one target on one input file, with a full traceback on failure."""
    from fuzz.targets import TARGETS, describe

    data = path.read_bytes()
    print(f"fuzz: replaying {path} on {target}: {describe(data, 200)}")
    TARGETS[target](data)
    print("fuzz: no failure")
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m fuzz",
        description="Fuzz natswire's protocol parsers (client role, server role, headers).",
    )
    parser.add_argument(
        "--seconds", type=int, default=60, help="time per target (default: %(default)s)"
    )
    parser.add_argument(
        "--target",
        choices=(*TARGET_NAMES, "all"),
        default="all",
        help="which target to run (default: all, one after the other)",
    )
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        help="atheris (libFuzzer) when importable, else hypothesis (the default choice)",
    )
    parser.add_argument(
        "--crash-dir",
        type=Path,
        help="where crashing inputs go (default: a new temporary directory)",
    )
    parser.add_argument(
        "--replay", type=Path, metavar="FILE", help="run --target on one input file and exit"
    )
    parser.add_argument(
        "--verbose", action="store_true", help="show libFuzzer's own output as it runs"
    )
    args = parser.parse_args(argv)
    if args.seconds < 1:
        parser.error("--seconds must be at least 1")
    if args.replay is not None and args.target == "all":
        parser.error("--replay needs --target")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.replay is not None:
        return replay(args.target, args.replay)
    engine = args.engine
    if engine is None:
        engine = "atheris" if atheris_available() else "hypothesis"
    elif engine == "atheris" and not atheris_available():
        print("fuzz: atheris is not installed for this Python", file=sys.stderr)
        return 2
    targets = TARGET_NAMES if args.target == "all" else (args.target,)
    crash_dir = args.crash_dir or Path(tempfile.mkdtemp(prefix="natswire-fuzz-crashes-"))
    why = "" if args.engine else (" (atheris not importable)" if engine == "hypothesis" else "")
    print(
        f"fuzz: engine {engine}{why}; {len(targets)} target(s) x {args.seconds} s; "
        f"crashes go to {crash_dir}",
        flush=True,
    )
    results: list[TargetResult] = []
    for target in targets:
        if engine == "atheris":
            result = run_atheris(target, args.seconds, crash_dir, args.verbose)
        else:
            result = run_hypothesis(target, args.seconds, crash_dir)
        results.append(result)
        rate = result.executions / result.seconds if result.seconds else 0.0
        status = "ok" if result.ok else "FAILED"
        extra = f"; {result.detail}" if result.ok and result.detail else ""
        print(
            f"fuzz: {target:8} {status:6} engine={result.engine} "
            f"executions={result.executions} ({rate:.0f}/s in {result.seconds:.1f} s){extra}",
            flush=True,
        )
        if not result.ok:
            print(result.detail, flush=True)
    failed = [result.target for result in results if not result.ok]
    if failed:
        print(f"fuzz: FAILED: {', '.join(failed)} (crashing inputs in {crash_dir})")
        return 1
    if args.crash_dir is None:
        shutil.rmtree(crash_dir, ignore_errors=True)
    total = sum(result.executions for result in results)
    print(f"fuzz: all targets passed ({total} executions, engine {engine})")
    return 0
