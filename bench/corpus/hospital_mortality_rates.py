"""Surgical mortality across hospitals.

Deaths out of operations per hospital with case-mix covariates; beta-binomial and logit-normal
models for the overdispersion (cf. the BUGS 'surgical' example).

Models:
    logit_normal_binomial: Binomial with a non-centered random effect per hospital for
        overdispersion.
    beta_binomial_regression: Beta-binomial: mean from a logistic regression, concentration kappa
        shared.

Usage:
    python hospital_mortality_rates.py --models logit_normal_binomial beta_binomial_regression --num-samples 1000 --plot

Data: data/hospital_mortality_rates.csv; when the file is missing a simulated data set with the same
columns is used, so the script always runs end to end.
"""

import argparse
import json
import os
from collections import namedtuple
from datetime import datetime
from pathlib import Path
from time import perf_counter

import jax
import jax.numpy as jnp
import jax.random as jr
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import numpyro as npr
import numpyro.distributions as dist
from numpyro.diagnostics import hpdi, summary
from numpyro.infer import MCMC, NUTS, Predictive, init_to_median

DATA_PATH = os.path.join(os.path.dirname(__file__), "data", "hospital_mortality_rates.csv")
FEATURES = ['case_mix', 'volume', 'teaching']


# -------- data ----------------------------------------------------------------------------------


def simulate_hospital_mortality_rates(n_hospitals=160, seed=0):
    """Aggregated counts: deaths out of operations per hospital, with extra-binomial noise."""
    rng = np.random.default_rng(seed)
    trials = rng.integers(20, 400, size=n_hospitals)
    frame = {"hospital": [f"HO{i:03d}" for i in range(n_hospitals)], "operations": trials}
    linear = np.full(n_hospitals, -3.0)
    for name, coef in zip(FEATURES, [0.3, -0.2, -0.1]):
        frame[name] = rng.normal(size=n_hospitals)
        linear += coef * frame[name]
    p = 1.0 / (1.0 + np.exp(-(linear + rng.normal(0.0, 0.3, size=n_hospitals))))
    frame["deaths"] = rng.binomial(trials, p)
    return pd.DataFrame(frame)


def prepare_hospital_mortality_rates(df, features=FEATURES):
    df = df[df["operations"] > 0].reset_index(drop=True)
    X = df[list(features)].to_numpy(dtype=np.float32)
    return {
        "X": jnp.asarray((X - X.mean(0)) / X.std(0)),
        "trials": jnp.asarray(df["operations"].to_numpy(dtype=np.int32)),
        "successes": jnp.asarray(df["deaths"].to_numpy(dtype=np.int32)),
        "n_groups": len(df),
        "levels": df["hospital"].tolist(),
        "features": list(features),
    }


def load_hospital_mortality_rates(path=DATA_PATH, seed=0):
    path = Path(path)
    if path.suffix == ".parquet" and path.exists():
        df = pd.read_parquet(path)
    elif path.exists():
        df = pd.read_csv(path, low_memory=False)
    else:
        df = simulate_hospital_mortality_rates(seed=seed)
    df.columns = [c.strip().lower().replace(" ", "_") for c in df.columns]
    return prepare_hospital_mortality_rates(df)


# -------- models --------------------------------------------------------------------------------


def logit_normal_binomial(X, trials, n_groups, successes=None):
    """Binomial with a non-centered random effect per hospital for overdispersion."""
    alpha = npr.sample("alpha", dist.Normal(-3.0, 1.5))
    with npr.plate("features", X.shape[1]):
        beta = npr.sample("beta", dist.Normal(0.0, 1.0))
    sigma = npr.sample("sigma", dist.HalfNormal(1.0))
    with npr.plate("hospitals", n_groups):
        eps = npr.sample("eps", dist.Normal(0.0, 1.0))
        logits = alpha + X @ beta + sigma * eps
        npr.sample("successes", dist.Binomial(trials, logits=logits), obs=successes)
        npr.deterministic("p", jax.nn.sigmoid(logits))


def beta_binomial_regression(X, trials, n_groups, successes=None):
    """Beta-binomial: mean from a logistic regression, concentration kappa shared."""
    alpha = npr.sample("alpha", dist.Normal(-3.0, 1.5))
    with npr.plate("features", X.shape[1]):
        beta = npr.sample("beta", dist.Normal(0.0, 1.0))
    kappa = npr.sample("kappa", dist.Pareto(1.0, 1.5))
    mean = jax.nn.sigmoid(alpha + X @ beta)
    with npr.plate("hospitals", n_groups):
        npr.sample(
            "successes",
            dist.BetaBinomial(mean * kappa, (1.0 - mean) * kappa, total_count=trials),
            obs=successes,
        )


# -------- inference -----------------------------------------------------------------------------


def run_mcmc(model, rng_key, settings, *model_args, **model_kwargs):
    kernel = NUTS(model, init_strategy=init_to_median(num_samples=15), max_tree_depth=settings.max_tree_depth)
    mcmc = MCMC(kernel, num_warmup=settings.num_warmup, num_samples=settings.num_samples,
                num_chains=settings.num_chains, chain_method="parallel", progress_bar=False)
    mcmc.run(rng_key, *model_args, **model_kwargs)
    if settings.verbose:
        mcmc.print_summary(exclude_deterministic=True)
    stats = summary(mcmc.get_samples(group_by_chain=True))
    worst = max(float(jnp.max(s["r_hat"])) for s in stats.values())
    if worst > 1.05:
        print(f"warning: max r_hat {worst:.3f} > 1.05, run longer or reparameterize")
    return mcmc


def fit_logit_normal_binomial(data, rng_key, settings):
    """NUTS fit of `logit_normal_binomial`; returns the posterior draws, deterministic sites included."""
    mcmc = run_mcmc(
        logit_normal_binomial,
        rng_key,
        settings,
        data["X"], data["trials"], data["n_groups"],
        successes=data["successes"],
    )
    return mcmc.get_samples()


def fit_beta_binomial_regression(data, rng_key, settings):
    mcmc = run_mcmc(beta_binomial_regression, rng_key, settings, data["X"], data["trials"], data["n_groups"], successes=data["successes"])
    return mcmc.get_samples()


# -------- evaluation and plots ------------------------------------------------------------------


ModelSpec = namedtuple("ModelSpec", ["model", "fit", "args", "kwargs", "obs_site", "obs_key"])

MODELS = {
    "logit_normal_binomial": ModelSpec(
        logit_normal_binomial,
        fit_logit_normal_binomial,
        lambda data: (data["X"], data["trials"], data["n_groups"]),
        lambda data: dict(successes=data["successes"]),
        obs_site="successes",
        obs_key="successes",
    ),
    "beta_binomial_regression": ModelSpec(
        beta_binomial_regression,
        fit_beta_binomial_regression,
        lambda data: (data["X"], data["trials"], data["n_groups"]),
        lambda data: dict(successes=data["successes"]),
        obs_site="successes",
        obs_key="successes",
    ),
}


def summarize(samples, sites=None, prob=0.9):
    """Mean, sd and highest-density interval for every scalar or vector site."""
    rows = []
    for name, value in samples.items():
        if sites is not None and name not in sites:
            continue
        value = jnp.reshape(value, (value.shape[0], -1))
        if value.shape[1] > 12:
            continue
        lo, hi = hpdi(value, prob)
        for j in range(value.shape[1]):
            label = name if value.shape[1] == 1 else f"{name}[{j}]"
            rows.append((label, float(value[:, j].mean()), float(value[:, j].std()), float(lo[j]), float(hi[j])))
    width = max((len(r[0]) for r in rows), default=4)
    print(f"{'site':>{width}} {'mean':>9} {'sd':>9} {'lo':>9} {'hi':>9}")
    for label, mean, sd, lo, hi in rows:
        print(f"{label:>{width}} {mean:9.3f} {sd:9.3f} {lo:9.3f} {hi:9.3f}")
    return rows


def evaluate(name, spec, samples, data, rng_key, prob=0.9):
    """Summaries, interval coverage and posterior predictive p-values for the mean and sd."""
    print(f"\n{name}\n" + "-" * len(name))
    summarize(samples)
    metrics = {"model": name, "n_draws": int(next(iter(samples.values())).shape[0])}
    if spec.obs_site is None:
        print("  no observed site to check")
        return metrics
    y_rep = np.asarray(Predictive(spec.model, samples)(rng_key, *spec.args(data))[spec.obs_site])
    y = np.asarray(data[spec.obs_key])[-y_rep.shape[1]:]
    lo, hi = np.quantile(y_rep, [(1 - prob) / 2, (1 + prob) / 2], axis=0)
    metrics["coverage"] = float(np.mean((lo <= y) & (y <= hi)))
    metrics["p_mean"] = float(np.mean(y_rep.mean(axis=1) > y.mean()))
    metrics["p_sd"] = float(np.mean(y_rep.std(axis=1) > y.std()))
    for key in ("coverage", "p_mean", "p_sd"):
        print(f"  {key:>8}: {metrics[key]:.3f}")
    return metrics


def save_results(results, out_dir):
    """One JSON file per run, named by its start time, so reruns never overwrite results."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"metrics-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(results, indent=2, default=float))
    ranked = sorted(results.values(), key=lambda m: m.get("waic", -m.get("coverage", 0.0)))
    print(f"wrote {path}")
    for rank, metrics in enumerate(ranked, start=1):
        print(f"  {rank}. {metrics['model']}")


def plot_group_effects(samples, levels, site, out_dir, max_groups=40):
    """Forest plot of the per-hospital effects, sorted by posterior mean."""
    if site not in samples or np.ndim(samples[site]) != 2:
        return
    values = np.asarray(samples[site])
    order = np.argsort(values.mean(0))[:max_groups]
    lo, hi = np.percentile(values[:, order], [5, 95], axis=0)
    fig, ax = plt.subplots(figsize=(6, 0.2 * len(order) + 1))
    ax.hlines(np.arange(len(order)), lo, hi, color="C0")
    ax.plot(values[:, order].mean(0), np.arange(len(order)), "o", color="C0")
    ax.set_yticks(np.arange(len(order)))
    ax.set_yticklabels([levels[i] for i in order], fontsize=7)
    ax.axvline(0.0, color="k", lw=0.5)
    ax.set_xlabel(site)
    fig.tight_layout()
    fig.savefig(Path(out_dir) / f"{site}_forest.png", dpi=150)
    plt.close(fig)


def plot_trace(samples, out_path, max_sites=6):
    """Trace and marginal histogram for the first few scalar sites."""
    scalars = [k for k, v in samples.items() if np.ndim(v) == 1][:max_sites]
    if not scalars:
        return
    fig, axes = plt.subplots(len(scalars), 2, figsize=(9, 1.8 * len(scalars)), squeeze=False)
    for row, name in zip(axes, scalars):
        row[0].plot(np.asarray(samples[name]), lw=0.5)
        row[0].set_ylabel(name)
        row[1].hist(np.asarray(samples[name]), bins=40, density=True, color="C0", alpha=0.7)
    fig.tight_layout()
    fig.savefig(out_path, dpi=120)
    plt.close(fig)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--data", default=DATA_PATH, help="input file (simulated when missing)")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("-n", "--num-samples", type=int, default=2000)
    parser.add_argument("--num-warmup", type=int, default=1000)
    parser.add_argument("--num-chains", type=int, default=2)
    parser.add_argument("--target-accept", type=float, default=0.8)
    parser.add_argument("--max-tree-depth", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--out", default="results/hospital_mortality_rates")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main():
    settings = parse_args()
    npr.set_platform(settings.device)
    if settings.num_chains > 1:
        npr.set_host_device_count(settings.num_chains)
    print(f"jax {jax.__version__}, numpyro {npr.__version__}, devices: {jax.devices()}")
    data = load_hospital_mortality_rates(settings.data, seed=settings.seed)
    keys = jr.split(jr.PRNGKey(settings.seed), 2 * len(settings.models))
    out_dir = Path(settings.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = {}
    for i, name in enumerate(settings.models):
        spec = MODELS[name]
        start = perf_counter()
        samples = spec.fit(data, keys[2 * i], settings)
        metrics = evaluate(name, spec, samples, data, keys[2 * i + 1])
        metrics["seconds"] = perf_counter() - start
        results[name] = metrics
        if settings.plot:
            for site in ("a", "u", "eps", "effects"):
                plot_group_effects(samples, data.get("levels", []), site, out_dir)
            plot_trace(samples, out_dir / f"{name}_trace.png")
    save_results(results, out_dir)
    return results


if __name__ == "__main__":
    main()
