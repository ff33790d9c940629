"""Benchmark `numpyro-lint check` against Fixit (also LibCST-based) and ruff on the same files.

    python bench/bench_check.py [--runs N] [--baseline REV] [--also-select CODES] [FOLDER]

Peers are installed into their own virtual environment (bench/.venv-peers), never beside ours: Fixit pins
an older pygls. Prints lines/s for each tool and the ratios, all from one run. `--baseline REV` also
times `check` as the source tree of git revision REV had it (an earlier issue's figure, same corpus, same
run); the rules and flags are whatever REV had. `--also-select NPL0,NPL1` also times `check` with only
those rules (to compare like with like against REV).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEERS = HERE / ".venv-peers"
PEER_PACKAGES = ["fixit==2.2.1", "ruff==0.17.5"]


def ensure_peers() -> Path:
    bin_dir = PEERS / "bin"
    if not (bin_dir / "fixit").exists() or not (bin_dir / "ruff").exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS)], check=True)
        subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", *PEER_PACKAGES], check=True)
    return bin_dir


def baseline_command(revision: str, folder: Path, into: Path) -> list[str]:
    """`check` as run by the package of `revision`, extracted from git into `into`."""
    archive = subprocess.run(["git", "archive", revision, "src"], cwd=HERE.parent, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    launcher = f"import sys; sys.path.insert(0, {str(into / 'src')!r}); from numpyro_lint.cli import main; sys.exit(main())"
    return [sys.executable, "-c", launcher, "check", "--isolated", "--exit-zero", str(folder)]


def count_lines(folder: Path) -> tuple[int, int]:
    files = sorted(folder.rglob("*.py"))
    return len(files), sum(len(path.read_text(encoding="utf-8").splitlines()) for path in files)


#: As users run it: with bytecode caches (this machine sets PYTHONDONTWRITEBYTECODE, which would time
#: compiling our modules on every start).
ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def time_command(command: list[str], runs: int, cwd: Path) -> float:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def time_interleaved(commands: dict[str, list[str]], runs: int, cwd: Path) -> dict[str, float]:
    """Median seconds per command, the commands taking turns (a drifting machine load hits all alike)."""
    timings: dict[str, list[float]] = {name: [] for name in commands}
    for command in commands.values():  # untimed: writes the bytecode caches
        time_command(command, 1, cwd)
    for _ in range(runs):
        for name, command in commands.items():
            timings[name].append(time_command(command, 1, cwd))
    return {name: statistics.median(values) for name, values in timings.items()}


def time_in_process(folder: Path, runs: int) -> float:
    """Median seconds for lint_text over all files in one process (no start-up, no parallelism)."""
    from numpyro_lint.linter import lint_text

    texts = [(str(p), p.read_text(encoding="utf-8")) for p in sorted(folder.rglob("*.py"))]
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        for path, text in texts:
            lint_text(text, path)
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", nargs="?", type=Path, default=HERE / "corpus")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--peer-runs", type=int, default=3)
    parser.add_argument("--baseline", help="also time `check` at this git revision")
    parser.add_argument("--also-select", help="also time `check --select` with these codes")
    args = parser.parse_args()
    folder = args.folder.resolve()
    n_files, n_lines = count_lines(folder)
    peers = ensure_peers()
    ours = [sys.executable, "-m", "numpyro_lint", "check", "--isolated", "--exit-zero", str(folder)]
    ruff = [str(peers / "ruff"), "check", "--select", "ALL", "--no-cache", "--isolated", "--exit-zero", str(folder)]
    commands = {"numpyro-lint check": ours, "ruff check --select ALL": ruff}
    if args.also_select:
        commands[f"numpyro-lint check --select {args.also_select}"] = [*ours[:-1], "--select", args.also_select,
                                                                         ours[-1]]
    with tempfile.TemporaryDirectory() as tree:
        if args.baseline:
            commands[f"numpyro-lint check @ {args.baseline}"] = baseline_command(args.baseline, folder, Path(tree))
        results = time_interleaved(commands, args.runs, folder)
    results["numpyro-lint (in-process, 1 core)"] = time_in_process(folder, args.runs)
    results["fixit lint"] = time_command([str(peers / "fixit"), "lint", str(folder)], args.peer_runs, folder)
    print(f"corpus: {folder} ({n_files} files, {n_lines} lines)\n")
    print(f"{'tool':36} {'seconds':>9} {'lines/s':>10}")
    for tool, seconds in results.items():
        print(f"{tool:36} {seconds:9.3f} {n_lines / seconds:10.0f}")
    check = results["numpyro-lint check"]
    print()
    print(f"numpyro-lint check vs fixit lint: {results['fixit lint'] / check:.1f}x faster (goal >= 5x)")
    print(f"numpyro-lint check vs ruff:       {check / results['ruff check --select ALL']:.1f}x slower")
    if args.baseline:
        baseline = results[f"numpyro-lint check @ {args.baseline}"]
        print(f"numpyro-lint check vs itself at {args.baseline}: {check / baseline:.2f}x the time")
        if args.also_select:
            selected = results[f"numpyro-lint check --select {args.also_select}"]
            print(f"numpyro-lint check --select {args.also_select} vs {args.baseline}: {selected / baseline:.2f}x the time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
