"""Bird counts along transects.

Counts of a focal species per transect walk with survey effort as exposure, grouped by site;
habitat covariates from land-cover maps.

Models:
    poisson_glmm: Log-linear rate per unit of exposure with a random effect for each site.
    negative_binomial_glmm: Log-linear rate per unit of exposure with a random effect for each site.
    zero_inflated_poisson: Log-linear rate per unit of exposure with a random effect for each site.

Usage:
    python species_abundance.py --models poisson_glmm negative_binomial_glmm --num-samples 1000 --plot

Data: data/species_abundance.csv; when the file is missing a simulated data set with the same
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
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from jax import random
from jax.scipy.special import logsumexp

import numpyro as npr
import numpyro.distributions as D
from numpyro.diagnostics import summary
from numpyro.infer import MCMC, NUTS, Predictive, init_to_median, log_likelihood

DATA_PATH = os.environ.get("SPECIES_ABUNDANCE_DATA", "data/species_abundance.csv")
FEATURES = ['forest_cover', 'elevation', 'temperature']


# -------- data ----------------------------------------------------------------------------------


def simulate_species_abundance(n=1500, n_sites=90, seed=0):
    """Synthetic stand-in for species_abundance.csv with the same columns and plausible effect sizes."""
    rng = np.random.default_rng(seed)
    site = rng.integers(0, n_sites, size=n)
    group_effect = rng.normal(0.0, 0.5, size=n_sites)
    frame = {"site": np.array([f"SI{g:03d}" for g in site])}
    exposure = rng.gamma(4.0, 0.25, size=n)
    frame["effort_hours"] = exposure
    linear = 0.5 + group_effect[site]
    for name, coef in zip(FEATURES, [0.6, -0.3, 0.2]):
        frame[name] = rng.normal(size=n)
        linear = linear + coef * frame[name]
    frame["count"] = rng.poisson(exposure * np.exp(linear))
    return pd.DataFrame(frame)


def standardize(X, mean=None, std=None):
    mean = X.mean(axis=0) if mean is None else mean
    std = X.std(axis=0) if std is None else std
    return (X - mean) / np.where(std > 0, std, 1.0), mean, std


def prepare_species_abundance(df, features=FEATURES, test_fraction=0.2, seed=0):
    """Split by row, standardize with training statistics, code sites as integers."""
    df = df.dropna().reset_index(drop=True)
    df["site"] = df["site"].astype("category")
    codes = df["site"].cat.codes.to_numpy()
    rng = np.random.default_rng(seed)
    is_test = rng.random(len(df)) < test_fraction
    X_raw = df[list(features)].to_numpy(dtype=np.float32)
    X_train, mean, std = standardize(X_raw[~is_test])
    X_test, _, _ = standardize(X_raw[is_test], mean, std)
    y = df["count"].to_numpy(dtype=np.int32)
    data = {
        "X": jnp.asarray(X_train),
        "y": jnp.asarray(y[~is_test]),
        "group": jnp.asarray(codes[~is_test]),
        "n_groups": int(codes.max()) + 1,
        "levels": list(df["site"].cat.categories),
        "features": list(features),
        "X_test": jnp.asarray(X_test),
        "y_test": jnp.asarray(y[is_test]),
        "group_test": jnp.asarray(codes[is_test]),
    }
    exposure = df["effort_hours"].to_numpy(dtype=np.float32)
    data["exposure"] = jnp.asarray(exposure[~is_test])
    data["exposure_test"] = jnp.asarray(exposure[is_test])
    return data


def load_species_abundance(path=DATA_PATH, seed=0):
    path = Path(path)
    if path.suffix == ".parquet" and path.exists():
        df = pd.read_parquet(path)
    elif path.exists():
        df = pd.read_csv(path, low_memory=False)
    else:
        df = simulate_species_abundance(seed=seed)
    df.columns = [c.strip().lower().replace(" ", "_") for c in df.columns]
    return prepare_species_abundance(df)


# -------- models --------------------------------------------------------------------------------


def poisson_glmm(X, exposure, group, n_groups, y=None):
    """Log-linear rate per unit of exposure with a random effect for each site."""
    intercept = npr.sample("intercept", D.Normal(0.5, 1.0))
    with npr.plate("features", X.shape[1]):
        beta = npr.sample("beta", D.Normal(0.0, 0.5))
    sigma_u = npr.sample("sigma_u", D.HalfNormal(1.0))
    with npr.plate("sites", n_groups):
        u = npr.sample("u", D.Normal(0.0, sigma_u))
    log_rate = jnp.log(exposure) + intercept + X @ beta + u[group]
    rate = jnp.exp(jnp.clip(log_rate, -20.0, 20.0))
    with npr.plate("walks", X.shape[0]):
        npr.sample("count", D.Poisson(rate), obs=y)


def negative_binomial_glmm(X, exposure, group, n_groups, y=None):
    """Log-linear rate per unit of exposure with a random effect for each site."""
    intercept = npr.sample("intercept", D.Normal(0.5, 1.0))
    with npr.plate("features", X.shape[1]):
        beta = npr.sample("beta", D.Normal(0.0, 0.5))
    sigma_u = npr.sample("sigma_u", D.HalfNormal(0.5))
    with npr.plate("sites", n_groups):
        u = npr.sample("u", D.Normal(0.0, sigma_u))
    phi = npr.sample("phi", D.Exponential(1.0))
    log_rate = jnp.log(exposure) + intercept + X @ beta + u[group]
    rate = jnp.exp(jnp.clip(log_rate, -20.0, 20.0))
    with npr.plate("walks", X.shape[0]):
        npr.sample("count", D.NegativeBinomial2(rate, phi), obs=y)


def zero_inflated_poisson(X, exposure, group, n_groups, y=None):
    """Log-linear rate per unit of exposure with a random effect for each site."""
    intercept = npr.sample("intercept", D.Normal(0.5, 1.0))
    with npr.plate("features", X.shape[1]):
        beta = npr.sample("beta", D.Normal(0.0, 1.0))
    sigma_u = npr.sample("sigma_u", D.HalfNormal(0.5))
    with npr.plate("sites", n_groups):
        u_raw = npr.sample("u_raw", D.Normal(0.0, 1.0))
    u = sigma_u * u_raw
    gate = npr.sample("gate", D.Beta(1.0, 3.0))
    log_rate = jnp.log(exposure) + intercept + X @ beta + u[group]
    rate = jnp.exp(jnp.clip(log_rate, -20.0, 20.0))
    with npr.plate("walks", X.shape[0]):
        npr.sample("count", D.ZeroInflatedPoisson(gate, rate), obs=y)


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


def fit_poisson_glmm(data, rng_key, settings):
    mcmc = run_mcmc(poisson_glmm, rng_key, settings, data["X"], data["exposure"], data["group"], data["n_groups"], y=data["y"])
    return mcmc.get_samples()


def fit_negative_binomial_glmm(data, rng_key, settings):
    mcmc = run_mcmc(negative_binomial_glmm, rng_key, settings, data["X"], data["exposure"], data["group"], data["n_groups"], y=data["y"])
    return mcmc.get_samples()


def fit_zero_inflated_poisson(data, rng_key, settings):
    mcmc = run_mcmc(zero_inflated_poisson, rng_key, settings, data["X"], data["exposure"], data["group"], data["n_groups"], y=data["y"])
    return mcmc.get_samples()


# -------- evaluation and plots ------------------------------------------------------------------


ModelSpec = namedtuple("ModelSpec", ["model", "fit", "args", "kwargs", "obs_site", "obs_key"])

MODELS = {
    "poisson_glmm": ModelSpec(
        poisson_glmm,
        fit_poisson_glmm,
        lambda data: (data["X"], data["exposure"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site="count",
        obs_key="y",
    ),
    "negative_binomial_glmm": ModelSpec(
        negative_binomial_glmm,
        fit_negative_binomial_glmm,
        lambda data: (data["X"], data["exposure"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site="count",
        obs_key="y",
    ),
    "zero_inflated_poisson": ModelSpec(
        zero_inflated_poisson,
        fit_zero_inflated_poisson,
        lambda data: (data["X"], data["exposure"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site="count",
        obs_key="y",
    ),
}


def summarize(samples, sites=None, prob=0.9):
    """NumPyro's own summary (mean, sd, interval, n_eff, r_hat) for the small sites."""
    if next(iter(samples.values())).shape[0] < 4:  # a point estimate (MAP), not draws
        for name, value in samples.items():
            print(f"{name:>16}: {jnp.round(value[0], 3)}")
        return {}
    chosen = {
        name: value for name, value in samples.items()
        if (sites is None or name in sites) and jnp.size(value[0]) <= 10
    }
    stats = summary(chosen, prob=prob, group_by_chain=False)
    for name, s in stats.items():
        mean = jnp.atleast_1d(s["mean"])
        n_eff = jnp.atleast_1d(s["n_eff"])
        print(f"{name:>16}: mean {jnp.round(mean, 3)}  min n_eff {float(n_eff.min()):.0f}")
    return stats


def waic(model, samples, *model_args, **model_kwargs):
    """Widely applicable information criterion on the deviance scale (lower is better)."""
    loglik = log_likelihood(model, samples, *model_args, **model_kwargs)
    total = jnp.concatenate([v.reshape(v.shape[0], -1) for v in loglik.values()], axis=1)
    lppd = logsumexp(total, axis=0) - jnp.log(total.shape[0])
    p_waic = jnp.var(total, axis=0)
    return float(-2.0 * (lppd.sum() - p_waic.sum())), float(p_waic.sum())


def evaluate(name, spec, samples, data, rng_key, prob=0.9):
    """Posterior predictive checks against the observed data, where the model has an observed site."""
    metrics = {"model": name}
    print(f"== {name}")
    summarize(samples)
    if spec.obs_site is None:
        return metrics
    predictive = Predictive(spec.model, samples, return_sites=[spec.obs_site])
    y_rep = predictive(rng_key, *spec.args(data))[spec.obs_site]
    y = data[spec.obs_key]
    if y.shape[0] != y_rep.shape[1]:
        y = y[-y_rep.shape[1]:]  # models that condition on the first observations
    lo, hi = jnp.quantile(y_rep, jnp.array([(1 - prob) / 2, (1 + prob) / 2]), axis=0)
    metrics["coverage"] = float(jnp.mean((y >= lo) & (y <= hi)))
    metrics["rmse"] = float(jnp.sqrt(jnp.mean((y_rep.mean(0) - y) ** 2)))
    metrics["mean_rep"] = float(y_rep.mean())
    metrics["mean_obs"] = float(jnp.mean(y))
    try:
        metrics["waic"], metrics["p_waic"] = waic(spec.model, samples, *spec.args(data), **spec.kwargs(data))
    except (KeyError, TypeError) as err:
        print(f"{name}: WAIC not available ({err})")
    print(f"{name}: coverage {metrics['coverage']:.2f} (target {prob}), rmse {metrics['rmse']:.3f}")
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
    """Forest plot of the per-site effects, sorted by posterior mean."""
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
    parser.add_argument("-n", "--num-samples", type=int, default=1000)
    parser.add_argument("--num-warmup", type=int, default=1500)
    parser.add_argument("--num-chains", type=int, default=1)
    parser.add_argument("--target-accept", type=float, default=0.8)
    parser.add_argument("--max-tree-depth", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--out", default="results/species_abundance")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main():
    settings = parse_args()
    npr.set_platform(settings.device)
    if settings.num_chains > 1:
        npr.set_host_device_count(settings.num_chains)
    print(f"jax {jax.__version__}, numpyro {npr.__version__}, devices: {jax.devices()}")
    data = load_species_abundance(settings.data, seed=settings.seed)
    keys = random.split(random.PRNGKey(settings.seed), 2 * len(settings.models))
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
