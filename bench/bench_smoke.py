"""Benchmark the smoke runner on centered eight schools: time from save to each stage's diagnostics.

    python bench/bench_smoke.py [--repeats N] [--warmup 300 --samples 300] [--json FILE]

Scenarios, each with a new runner process (what a new server start gets):
  cold            empty JAX compilation cache, runner started at the save (imports included)
  cold, ready     empty compilation cache, runner started and ready before the save
  warm            the compilation cache the cold run left, runner ready before the save
  cache hit       a comment-only edit saved after the warm run (no run at all)
For each: seconds from the save to the prior-predictive diagnostics, to the divergence diagnostics
(NPL901), to the measured-advice rerun (NPL501), and to the end of the prior-recovery run (NPL907);
NPL907's extra time is the recovery stage's duration. Medians over the repeats, in wall seconds and in
CPU seconds of the runner process (which a busy machine does not inflate; on an idle one the two agree
within the few multi-threaded parts).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from numpyro_lint.config import Settings, SmokeSettings  # noqa: E402
from numpyro_lint.runner.client import SmokeRunner  # noqa: E402

MODEL = ROOT / "tests" / "fixtures" / "smoke" / "eight_schools.py"


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process so far (0 when there is none): a load-independent measure."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Stages:
    """When each stage's diagnostics arrived (from the on_diagnostics callback): wall seconds since the
    save, and CPU seconds the runner process spent since the save."""

    def __init__(self) -> None:
        self.runner: SmokeRunner | None = None
        self.start = time.perf_counter()
        self.cpu_start = 0.0
        self.arrivals: list[tuple[float, float, tuple[str, ...]]] = []

    def begin(self, runner: SmokeRunner) -> None:
        self.runner = runner
        self.arrivals.clear()
        self.cpu_start = cpu_seconds(runner.child_pid)
        self.start = time.perf_counter()

    def now(self) -> tuple[float, float]:
        pid = self.runner.child_pid if self.runner else None
        return time.perf_counter() - self.start, cpu_seconds(pid) - self.cpu_start

    def __call__(self, path: str, diagnostics) -> None:
        self.arrivals.append((*self.now(), tuple(sorted(d.code for d in diagnostics))))

    def first(self, predicate) -> tuple[float, float] | tuple[None, None]:
        return next(((wall, cpu) for wall, cpu, codes in self.arrivals if predicate(codes)), (None, None))


async def save(runner: SmokeRunner, stages: Stages, text: str, settings: Settings) -> dict:
    stages.begin(runner)
    diagnostics = await runner.run(str(MODEL), text, settings)
    total, total_cpu = stages.arrivals[-1][:2] if stages.arrivals else stages.now()
    prior = stages.arrivals[0][:2] if stages.arrivals else (None, None)
    nuts = stages.first(lambda codes: "NPL901" in codes)
    advice = stages.first(lambda codes: "NPL501" in codes)
    before = stages.arrivals[-2][:2] if len(stages.arrivals) >= 2 else None
    result = {"codes": sorted({d.code for d in diagnostics})}
    for name, (wall, cpu) in {"prior": prior, "divergences": nuts, "advice": advice,
                              "total": (total, total_cpu)}.items():
        result[name], result[f"{name} cpu"] = wall, cpu
    if before is not None:
        result["recovery_stage"], result["recovery_stage cpu"] = total - before[0], total_cpu - before[1]
    return result


async def scenario(cache: Path, text: str, settings: Settings, ready_first: bool) -> dict:
    stages = Stages()
    runner = SmokeRunner(settings.smoke, on_diagnostics=stages)
    try:
        if ready_first:
            await runner.ready()
        else:
            runner.warm_up()  # at the save: the imports count (CPU measured from the process start)
        return await save(runner, stages, text, settings)
    finally:
        runner.close()


async def one_repeat(smoke: SmokeSettings) -> dict[str, dict]:
    text = MODEL.read_text(encoding="utf-8")
    results = {}
    with tempfile.TemporaryDirectory() as first, tempfile.TemporaryDirectory() as second:
        cold = Settings(smoke=replace(smoke, cache_dir=first))
        results["cold"] = await scenario(Path(first), text, cold, ready_first=False)
        ready = Settings(smoke=replace(smoke, cache_dir=second))
        results["cold, ready"] = await scenario(Path(second), text, ready, ready_first=True)
        stages = Stages()
        runner = SmokeRunner(ready.smoke, on_diagnostics=stages)
        try:
            await runner.ready()
            results["warm"] = await save(runner, stages, text, ready)
            edited = "# a comment-only edit\n" + text
            stages.begin(runner)
            await runner.run(str(MODEL), edited, ready)
            wall, cpu = stages.now()
            results["cache hit"] = {"total": wall, "total cpu": cpu}
        finally:
            runner.close()
    return results


BASELINE = """
import json, sys, time
wall0, cpu0 = time.perf_counter(), time.process_time()
import jax
jax.config.update("jax_compilation_cache_dir", sys.argv[1])
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
import jax.numpy as jnp, numpyro, numpyro.distributions as dist
from numpyro.infer import MCMC, NUTS, Predictive
J, y = 8, jnp.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
sigma = jnp.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])
def model(J, sigma, y=None):
    mu = numpyro.sample("mu", dist.Normal(0, 5))
    tau = numpyro.sample("tau", dist.HalfCauchy(5))
    with numpyro.plate("J", J):
        theta = numpyro.sample("theta", dist.Normal(mu, tau))
        numpyro.sample("obs", dist.Normal(theta, sigma), obs=y)
imported = time.perf_counter(), time.process_time()
jax.block_until_ready(Predictive(model, num_samples=600)(jax.random.PRNGKey(1), J, sigma))
predictive = time.perf_counter(), time.process_time()
mcmc = MCMC(NUTS(model), num_warmup=int(sys.argv[2]), num_samples=int(sys.argv[3]), num_chains=int(sys.argv[4]),
            chain_method="vectorized", progress_bar=False)
mcmc.run(jax.random.PRNGKey(0), J, sigma, y=y)
jax.block_until_ready(mcmc.get_samples())
done = time.perf_counter(), time.process_time()
print(json.dumps({"imports": [imported[0] - wall0, imported[1] - cpu0],
                  "Predictive": [predictive[0] - imported[0], predictive[1] - imported[1]],
                  "MCMC.run": [done[0] - predictive[0], done[1] - predictive[1]]}))
"""


def baseline(smoke: SmokeSettings) -> dict[str, dict]:
    """Plain NumPyro in a fresh process on the same machine: Predictive then MCMC.run, cold and with
    the persistent compilation cache warm: the floor to compare the runner's figures with."""
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for name in ("numpyro cold", "numpyro warm"):
            out = subprocess.run([sys.executable, "-c", BASELINE, folder, str(smoke.warmup), str(smoke.samples),
                                  str(smoke.chains)], capture_output=True, text=True, check=True).stdout
            results[name] = json.loads(out.strip().splitlines()[-1])
    return results


def median(values) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def main() -> int:
    # As users run it: runner processes (which inherit this environment) keep bytecode caches; this
    # machine sets PYTHONDONTWRITEBYTECODE, which would time compiling our modules in every new runner.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the raw timings here")
    args = parser.parse_args()
    smoke = SmokeSettings(chains=args.chains, warmup=args.warmup, samples=args.samples, recycle_after=0,
                          timeout_s=600)
    runs = [asyncio.run(one_repeat(smoke)) for _ in range(args.repeats)]
    floors = [baseline(smoke) for _ in range(args.repeats)]
    print(f"centered eight schools, {args.chains} chains x {args.warmup} warmup x {args.samples} samples, "
          f"medians of {args.repeats} (seconds from save)")
    columns = ("prior", "divergences", "advice", "total", "recovery_stage")
    for unit, suffix in (("wall seconds", ""), ("runner CPU seconds", " cpu")):
        print(f"\n{unit}\n{'scenario':<14}" + "".join(f"{c:>16}" for c in columns))
        for name in runs[0]:
            cells = []
            for column in columns:
                value = median(run[name].get(column + suffix) for run in runs)
                cells.append(f"{value:>16.2f}" if value is not None else f"{'-':>16}")
            print(f"{name:<14}" + "".join(cells))
    print("\nplain NumPyro in a fresh process (wall / CPU seconds)")
    for name in floors[0]:
        cells = []
        for step in floors[0][name]:
            wall, cpu = (median(f[name][step][i] for f in floors) for i in (0, 1))
            cells.append(f"{step} {wall:.2f} / {cpu:.2f}")
        print(f"{name:<14}  " + "   ".join(cells))
    print(f"\nload average during the runs: {os.getloadavg()[0]:.1f} (on {os.cpu_count()} cores)")
    print("codes:", runs[0]["warm"]["codes"])
    if args.json:
        args.json.write_text(json.dumps({"runner": runs, "numpyro": floors}, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
