"""How fast asyncsafe-lint checks a real code base, next to flake8-async and ruff.

Builds a corpus from the Python source of installed packages of the async web stack
(Starlette, FastAPI, httpx, anyio, Uvicorn, aiohttp, pydantic, ...; their versions and
the line count are printed), copies it into a temporary directory, and times, in the
same run and on the same files:

  asyncsafe cold    `asyncsafe-lint check .` with no cache (it writes one)
  asyncsafe warm    the same again, no file changed: the run is replayed
  asyncsafe cached  the same again without the recorded runs: every file's results
                    come from the cache, as for a command that differs from the last
  ruff cold         `ruff check --select ASYNC,S113 --no-cache .`
  ruff warm         `ruff check --select ASYNC,S113 .` with its cache populated
  flake8-async      `flake8 --select ASYNC .` (flake8-async's checks; flake8 keeps no cache)

The linter's bytecode is compiled first, as installing a package does: with
PYTHONDONTWRITEBYTECODE set, an editable install would otherwise compile every module
of the linter again on each run.

Each is run `--rounds` times (flake8, by far the slowest, `--flake8-rounds` times) and
the medians are compared against the goals: cold at least 20 times faster than
flake8-async and at most 25 times slower than ruff; warm at most 3 times slower than
ruff's warm run.  A benchmark, not a test: it exits 0 on a miss too.

    .venv/bin/python bench/lint_speed.py [--rounds N] [--flake8-rounds N]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from meters import machine_cpu

from asyncsafe_lint import __version__

BIN = Path(sys.executable).parent
#: Import names of the packages the corpus is built from: the async web stack, so the
#: corpus holds plenty of `async def` code for the rules to look at.
CORPUS = ("aiohttp", "anyio", "fastapi", "h11", "httpcore", "httpx", "pydantic", "requests", "starlette",
          "urllib3", "uvicorn")  # fmt: skip
MIN_LINES = 100_000
#: /proc counts CPU time in ticks of 10 ms: over a shorter run, `other cpu` means nothing.
SHORTEST = 0.25
#: A finding as all three tools print it: `path:row:column: CODE message`.
FINDING = re.compile(r"^\S+:\d+:\d+: ", re.MULTILINE)

GOAL_COLD_VS_FLAKE8 = 20.0  # asyncsafe cold at least this many times faster than flake8-async
GOAL_COLD_VS_RUFF = 25.0  # asyncsafe cold at most this many times slower than ruff cold
GOAL_WARM_VS_RUFF = 3.0  # asyncsafe warm at most this many times slower than ruff warm


@dataclass
class Tool:
    label: str
    command: list[str]
    #: Removed before each run: the cache, for a cold start, or part of it.
    removed: str | None = None


@dataclass
class Run:
    seconds: float
    output: str
    #: CPU used meanwhile by everything but the tool, in % of one CPU (a busy run is a
    #: noisy one); NaN for a run too short for the kernel's counters to tell.
    other_percent: float


def build_corpus(directory: Path) -> tuple[int, int, str]:
    """Copies the corpus's Python files into `directory`; returns its files, lines and a digest."""
    digest = hashlib.blake2b(digest_size=8)
    files = lines = 0
    for name in CORPUS:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            sys.exit(f"lint_speed: package {name} is not installed (run `make`)")
        source = Path(next(iter(spec.submodule_search_locations)))
        for path in sorted(source.rglob("*.py*")):
            if path.suffix not in (".py", ".pyi") or "__pycache__" in path.parts:
                continue
            target = directory / name / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            content = path.read_bytes()
            target.write_bytes(content)
            digest.update(str(target.relative_to(directory)).encode() + b"\0" + content)
            files += 1
            lines += content.count(b"\n")
    return files, lines, digest.hexdigest()


def versions() -> str:
    distributions = importlib.metadata.packages_distributions()
    return ", ".join(f"{name} {importlib.metadata.version(distributions.get(name, [name])[0])}" for name in CORPUS)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(tool: Tool, corpus: Path) -> Run:
    if tool.removed is not None:
        shutil.rmtree(corpus / tool.removed, ignore_errors=True)
    machine, own = machine_cpu(), children_cpu()
    started = time.perf_counter()
    # Bounded: flake8 takes about 80 s on this corpus; a tool that hangs ends the benchmark.
    completed = subprocess.run(tool.command, cwd=corpus, capture_output=True, text=True, check=False, timeout=1200)
    seconds = time.perf_counter() - started
    other = (machine_cpu() - machine) - (children_cpu() - own)
    if completed.returncode not in (0, 1):
        sys.exit(f"lint_speed: `{' '.join(tool.command)}` failed ({completed.returncode}):\n{completed.stderr}")
    other_percent = max(0.0, other / seconds * 100) if seconds >= SHORTEST else float("nan")
    return Run(seconds, completed.stdout, other_percent)


def tools() -> dict[str, Tool]:
    asyncsafe = [str(BIN / "asyncsafe-lint"), "check", ".", "--exit-zero"]
    ruff = [str(BIN / "ruff"), "check", "--isolated", "--select", "ASYNC,S113", "--exit-zero", "--quiet",
            "--output-format", "concise", "."]  # fmt: skip
    return {
        "asyncsafe cold": Tool("asyncsafe cold", asyncsafe, ".asyncsafe_cache"),
        "asyncsafe warm": Tool("asyncsafe warm", asyncsafe),
        "asyncsafe cached": Tool("asyncsafe cached", asyncsafe, f".asyncsafe_cache/{__version__}/runs"),
        "ruff cold": Tool("ruff cold", [*ruff, "--no-cache"]),
        "ruff warm": Tool("ruff warm", ruff),
        "flake8-async": Tool("flake8-async", [str(BIN / "flake8"), "--isolated", "--select", "ASYNC", "."]),
    }


def compile_linter() -> None:
    spec = importlib.util.find_spec("asyncsafe_lint")
    assert spec is not None and spec.submodule_search_locations
    subprocess.run([sys.executable, "-m", "compileall", "-q", *spec.submodule_search_locations], check=True)


def measure(corpus: Path, rounds: int, flake8_rounds: int) -> dict[str, list[Run]]:
    every = tools()
    runs: dict[str, list[Run]] = {label: [] for label in every}
    run(every["ruff warm"], corpus)  # populates ruff's cache for its warm runs
    print(f"{'round':>5}  {'tool':<16} {'seconds':>9} {'findings':>9} {'other cpu':>10}")
    for number in range(1, max(rounds, flake8_rounds) + 1):
        # Warm right after cold: the cold run leaves the cache the warm one reads.
        labels = ["asyncsafe cold", "asyncsafe warm", "asyncsafe cached", "ruff cold", "ruff warm"]
        labels = labels if number <= rounds else []
        labels += ["flake8-async"] if number <= flake8_rounds else []
        for label in labels:
            result = run(every[label], corpus)
            runs[label].append(result)
            findings = len(FINDING.findall(result.output))
            print(f"{number:>5}  {label:<16} {result.seconds:>9.3f} {findings:>9} {result.other_percent:>9.0f}%",
                  flush=True)  # fmt: skip
    return runs


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def summarize(runs: dict[str, list[Run]]) -> None:
    median = {label: statistics.median(r.seconds for r in results) for label, results in runs.items()}
    print("\nmedians: " + ", ".join(f"{label} {seconds:.3f} s" for label, seconds in median.items()))
    versus_flake8 = median["flake8-async"] / median["asyncsafe cold"]
    cold_versus_ruff = median["asyncsafe cold"] / median["ruff cold"]
    warm_versus_ruff = median["asyncsafe warm"] / median["ruff warm"]
    print(f"cold vs flake8-async: {versus_flake8:.1f}x faster; goal >= {GOAL_COLD_VS_FLAKE8:g}x faster: "
          f"{verdict(versus_flake8 >= GOAL_COLD_VS_FLAKE8)}")  # fmt: skip
    print(f"cold vs ruff cold:    {cold_versus_ruff:.1f}x slower; goal <= {GOAL_COLD_VS_RUFF:g}x: "
          f"{verdict(cold_versus_ruff <= GOAL_COLD_VS_RUFF)}")  # fmt: skip
    print(f"warm vs ruff warm:    {warm_versus_ruff:.1f}x slower; goal <= {GOAL_WARM_VS_RUFF:g}x: "
          f"{verdict(warm_versus_ruff <= GOAL_WARM_VS_RUFF)}")  # fmt: skip
    cached_versus_ruff = median["asyncsafe cached"] / median["ruff warm"]
    print(f"cached vs ruff warm:  {cached_versus_ruff:.1f}x slower; no goal (a command other than the last one)")
    outputs = {r.output for label in ("asyncsafe cold", "asyncsafe warm", "asyncsafe cached") for r in runs[label]}
    if len(outputs) != 1:
        print("warning: asyncsafe-lint's output differs between runs (cold/warm/cached): the cache is wrong")
    busiest = max((r.other_percent for results in runs.values() for r in results if r.other_percent >= 0), default=0)
    if busiest >= 10:
        print(f"note: other work used up to {busiest:.0f}% of a CPU during some runs (other cpu column); a "
              "quieter machine gives steadier figures")  # fmt: skip


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="runs of asyncsafe-lint and ruff (default: 5)")
    parser.add_argument("--flake8-rounds", type=int, default=1,
                        help="runs of flake8, about a minute each (default: 1)")  # fmt: skip
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.platform()}")
    print(f"asyncsafe-lint {importlib.metadata.version('pytest-asyncsafe')}, "
          f"ruff {importlib.metadata.version('ruff')}, flake8 {importlib.metadata.version('flake8')}, "
          f"flake8-async {importlib.metadata.version('flake8-async')}")  # fmt: skip
    compile_linter()
    with tempfile.TemporaryDirectory(prefix="lint_speed-") as temporary:
        corpus = Path(temporary) / "corpus"
        files, lines, digest = build_corpus(corpus)
        print(f"corpus: {files} files, {lines} lines (digest {digest}) from {versions()}")
        if lines < MIN_LINES:
            print(f"warning: the corpus has fewer than {MIN_LINES} lines")
        summarize(measure(corpus, args.rounds, args.flake8_rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
