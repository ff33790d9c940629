"""Differential expression from RNA-seq counts.

Read counts for one gene across samples with library size as exposure, grouped by batch;
treatment and covariates as predictors. Negative binomial is the standard; zero inflation is
tested for.

Models:
    negative_binomial_glmm: Log-linear rate per unit of exposure with a random effect for each
        batch.
    zero_inflated_poisson: Log-linear rate per unit of exposure with a random effect for each batch.
    poisson_glmm: Log-linear rate per unit of exposure with a random effect for each batch.

Usage:
    python gene_expression_counts.py --models negative_binomial_glmm zero_inflated_poisson --num-samples 1000 --plot

Data: data/gene_expression_counts.csv; when the file is missing a simulated data set with the same
columns is used, so the script always runs end to end.
"""

import argparse
import json
import os
from collections import namedtuple
from pathlib import Path
from time import perf_counter

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from jax import random
from jax.scipy.special import logsumexp

import numpyro
import numpyro.distributions as dist
from numpyro.diagnostics import summary
from numpyro.infer import MCMC, NUTS, Predictive, init_to_median, log_likelihood

DATA_PATH = os.environ.get("GENE_EXPRESSION_COUNTS_DATA", "data/gene_expression_counts.csv")
FEATURES = ['treatment', 'rin', 'age']


def simulate_gene_expression_counts(n=800, n_batches=12, rho=0.3, seed=0):
    """Stand-in for gene_expression_counts.csv: correlated predictors (equicorrelation rho) and batches of
    very different sizes, as in the real data."""
    rng = np.random.default_rng(seed)
    p = len(FEATURES)
    cov = np.full((p, p), rho) + (1.0 - rho) * np.eye(p)
    X = rng.multivariate_normal(np.zeros(p), cov, size=n)
    sizes = rng.lognormal(0.0, 1.0, size=n_batches)
    batch = rng.choice(n_batches, size=n, p=sizes / sizes.sum())
    df = pd.DataFrame(X, columns=FEATURES)
    df.insert(0, "batch", [f"BA{g:03d}" for g in batch])
    df["library_size"] = rng.gamma(4.0, 0.25, size=n)
    effect = rng.normal(0.0, 0.5, size=n_batches)
    linear = 3.0 + effect[batch] + X @ np.asarray([0.8, 0.1, 0.05])
    df["reads"] = rng.poisson(df["library_size"].to_numpy() * np.exp(linear))
    return df


def prepare_gene_expression_counts(df, features=FEATURES):
    """Standardize the predictors and integer-code the batch column."""
    df = df.dropna(subset=list(features) + ["reads"]).reset_index(drop=True)
    codes, levels = pd.factorize(df["batch"], sort=True)
    X = df[list(features)].to_numpy(dtype=np.float32)
    X_mean, X_std = X.mean(axis=0), X.std(axis=0) + 1e-8
    return {
        "X": jnp.asarray((X - X_mean) / X_std),
        "y": jnp.asarray(df["reads"].to_numpy(dtype=np.int32)),
        "group": jnp.asarray(codes),
        "n_groups": len(levels),
        "levels": list(levels),
        "features": list(features),
        "X_mean": X_mean,
        "X_std": X_std,
        "exposure": jnp.asarray(df["library_size"].to_numpy(dtype=np.float32)),
    }


def load_gene_expression_counts(path=DATA_PATH, seed=0):
    """Read gene_expression_counts.csv if it is there; otherwise simulate data with the same layout."""
    if path is not None and os.path.exists(path):
        df = pd.read_csv(path)
    else:
        print(f"{path} not found: using simulated data")
        df = simulate_gene_expression_counts(seed=seed)
    return prepare_gene_expression_counts(df)


def negative_binomial_glmm(X, exposure, group, n_groups, y=None):
    """Log-linear rate per unit of exposure with a random effect for each batch."""
    intercept = numpyro.sample("intercept", dist.Normal(3.0, 1.0))
    with numpyro.plate("features", X.shape[1]):
        beta = numpyro.sample("beta", dist.Normal(0.0, 0.5))
    sigma_u = numpyro.sample("sigma_u", dist.HalfNormal(1.0))
    with numpyro.plate("batches", n_groups):
        u_raw = numpyro.sample("u_raw", dist.Normal(0.0, 1.0))
    u = sigma_u * u_raw
    phi = numpyro.sample("phi", dist.Exponential(1.0))
    log_rate = jnp.log(exposure) + intercept + X @ beta + u[group]
    rate = jnp.exp(jnp.clip(log_rate, -20.0, 20.0))
    with numpyro.plate("samples", X.shape[0]):
        numpyro.sample("reads", dist.NegativeBinomial2(rate, phi), obs=y)


def zero_inflated_poisson(X, exposure, group, n_groups, y=None):
    """Log-linear rate per unit of exposure with a random effect for each batch."""
    intercept = numpyro.sample("intercept", dist.Normal(3.0, 1.0))
    with numpyro.plate("features", X.shape[1]):
        beta = numpyro.sample("beta", dist.Normal(0.0, 0.5))
    sigma_u = numpyro.sample("sigma_u", dist.HalfNormal(0.5))
    with numpyro.plate("batches", n_groups):
        u_raw = numpyro.sample("u_raw", dist.Normal(0.0, 1.0))
    u = sigma_u * u_raw
    gate = numpyro.sample("gate", dist.Beta(1.0, 3.0))
    log_rate = jnp.log(exposure) + intercept + X @ beta + u[group]
    rate = jnp.exp(jnp.clip(log_rate, -20.0, 20.0))
    with numpyro.plate("samples", X.shape[0]):
        numpyro.sample("reads", dist.ZeroInflatedPoisson(gate, rate), obs=y)


def poisson_glmm(X, exposure, group, n_groups, y=None):
    """Log-linear rate per unit of exposure with a random effect for each batch."""
    intercept = numpyro.sample("intercept", dist.Normal(3.0, 1.0))
    with numpyro.plate("features", X.shape[1]):
        beta = numpyro.sample("beta", dist.Normal(0.0, 0.5))
    sigma_u = numpyro.sample("sigma_u", dist.HalfNormal(0.5))
    with numpyro.plate("batches", n_groups):
        u_raw = numpyro.sample("u_raw", dist.Normal(0.0, 1.0))
    u = sigma_u * u_raw
    log_rate = jnp.log(exposure) + intercept + X @ beta + u[group]
    rate = jnp.exp(jnp.clip(log_rate, -20.0, 20.0))
    with numpyro.plate("samples", X.shape[0]):
        numpyro.sample("reads", dist.Poisson(rate), obs=y)


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


def fit_negative_binomial_glmm(data, rng_key, settings):
    """NUTS fit of `negative_binomial_glmm`; returns the posterior draws, deterministic sites included."""
    mcmc = run_mcmc(
        negative_binomial_glmm,
        rng_key,
        settings,
        data["X"], data["exposure"], data["group"], data["n_groups"],
        y=data["y"],
    )
    return mcmc.get_samples()


def fit_zero_inflated_poisson(data, rng_key, settings):
    """NUTS fit of `zero_inflated_poisson`; returns the posterior draws, deterministic sites included."""
    mcmc = run_mcmc(
        zero_inflated_poisson,
        rng_key,
        settings,
        data["X"], data["exposure"], data["group"], data["n_groups"],
        y=data["y"],
    )
    return mcmc.get_samples()


def fit_poisson_glmm(data, rng_key, settings):
    mcmc = run_mcmc(poisson_glmm, rng_key, settings, data["X"], data["exposure"], data["group"], data["n_groups"], y=data["y"])
    return mcmc.get_samples()


ModelSpec = namedtuple("ModelSpec", ["model", "fit", "args", "kwargs", "obs_site", "obs_key"])

MODELS = {
    "negative_binomial_glmm": ModelSpec(
        negative_binomial_glmm,
        fit_negative_binomial_glmm,
        lambda data: (data["X"], data["exposure"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site="reads",
        obs_key="y",
    ),
    "zero_inflated_poisson": ModelSpec(
        zero_inflated_poisson,
        fit_zero_inflated_poisson,
        lambda data: (data["X"], data["exposure"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site="reads",
        obs_key="y",
    ),
    "poisson_glmm": ModelSpec(
        poisson_glmm,
        fit_poisson_glmm,
        lambda data: (data["X"], data["exposure"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site="reads",
        obs_key="y",
    ),
}


def posterior_table(samples, prob=0.9, max_width=8):
    """Posterior summaries as a DataFrame, one row per scalar component."""
    rows = {}
    for name, value in samples.items():
        flat = np.asarray(value).reshape(value.shape[0], -1)
        if flat.shape[1] > max_width:
            continue
        lo, hi = np.quantile(flat, [(1 - prob) / 2, (1 + prob) / 2], axis=0)
        for j in range(flat.shape[1]):
            key = name if flat.shape[1] == 1 else f"{name}[{j}]"
            rows[key] = {"mean": flat[:, j].mean(), "sd": flat[:, j].std(), "lo": lo[j], "hi": hi[j]}
    table = pd.DataFrame.from_dict(rows, orient="index")
    print(table.round(3).to_string())
    return table


def waic(model, samples, *model_args, **model_kwargs):
    """Widely applicable information criterion on the deviance scale (lower is better)."""
    loglik = log_likelihood(model, samples, *model_args, **model_kwargs)
    total = jnp.concatenate([v.reshape(v.shape[0], -1) for v in loglik.values()], axis=1)
    lppd = logsumexp(total, axis=0) - jnp.log(total.shape[0])
    p_waic = jnp.var(total, axis=0)
    return float(-2.0 * (lppd.sum() - p_waic.sum())), float(p_waic.sum())


def evaluate(name, spec, samples, data, rng_key, prob=0.9):
    """Summaries, interval coverage and posterior predictive p-values for the mean and sd."""
    print(f"\n{name}\n" + "-" * len(name))
    posterior_table(samples)
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
    try:
        metrics["waic"], metrics["p_waic"] = waic(spec.model, samples, *spec.args(data), **spec.kwargs(data))
    except (KeyError, TypeError) as err:
        print(f"{name}: WAIC not available ({err})")
    for key in ("coverage", "p_mean", "p_sd"):
        print(f"  {key:>8}: {metrics[key]:.3f}")
    return metrics


def save_results(results, out_dir):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "metrics.json", "w") as f:
        json.dump(results, f, indent=2, default=float)
    table = pd.DataFrame(results.values()).set_index("model")
    table.to_csv(out_dir / "metrics.csv")
    print(table.round(3).to_string())


def plot_group_effects(samples, levels, site, out_dir, max_groups=40):
    """Forest plot of the per-batch effects, sorted by posterior mean."""
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
    parser.add_argument("-n", "--num-samples", type=int, default=500)
    parser.add_argument("--num-warmup", type=int, default=500)
    parser.add_argument("--num-chains", type=int, default=1)
    parser.add_argument("--target-accept", type=float, default=0.9)
    parser.add_argument("--max-tree-depth", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--out", default="results/gene_expression_counts")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main():
    settings = parse_args()
    numpyro.set_platform(settings.device)
    if settings.num_chains > 1:
        numpyro.set_host_device_count(settings.num_chains)
    print(f"jax {jax.__version__}, numpyro {numpyro.__version__}, devices: {jax.devices()}")
    data = load_gene_expression_counts(settings.data, seed=settings.seed)
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
