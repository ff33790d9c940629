"""Multilevel models of household radon in Minnesota.

Log radon measured in homes, grouped by county, with the floor of the measurement and the
county's soil uranium as predictors. Gelman & Hill (2007), chapters 12-13.

Models:
    complete_pooling: One regression for every household: ignores the counties entirely (the
        baseline).
    hierarchical_intercepts: Non-centered county intercepts: a = mu_a + sigma_a * a_raw.
    varying_slopes: Correlated county intercepts and slopes on the first predictor (LKJ prior on the
        correlation, non-centered effects), fixed effects for the remaining predictors.
    errors_in_variables: The first predictor is measured with known noise `x_error`: its true value
        is latent.

Usage:
    python radon_multilevel.py --models complete_pooling hierarchical_intercepts --num-samples 1000 --plot

Data: data/radon_multilevel.csv; when the file is missing a simulated data set with the same
columns is used, so the script always runs end to end.
"""

import argparse
import json
import os
from collections import namedtuple
from datetime import datetime
from pathlib import Path
from time import perf_counter

import arviz as az
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from jax import random
from jax.scipy.special import logsumexp

import numpyro
import numpyro.distributions as dist
from numpyro.diagnostics import hpdi, summary
from numpyro.infer import MCMC, NUTS, Predictive, init_to_median, log_likelihood

DATA_PATH = os.path.join(os.path.dirname(__file__), "data", "radon_multilevel.csv")
FEATURES = ['floor', 'log_uranium', 'basement_age']


# -------- data ----------------------------------------------------------------------------------


def simulate_radon_multilevel(n=919, n_counties=85, seed=0):
    """Synthetic stand-in for radon_multilevel.csv with the same columns and plausible effect sizes."""
    rng = np.random.default_rng(seed)
    county = rng.integers(0, n_counties, size=n)
    group_effect = rng.normal(0.0, 0.5, size=n_counties)
    frame = {"county": np.array([f"CO{g:03d}" for g in county])}
    linear = 1.3 + group_effect[county]
    for name, coef in zip(FEATURES, [-0.7, 0.7, 0.05]):
        frame[name] = rng.normal(size=n)
        linear = linear + coef * frame[name]
    frame["log_radon"] = linear + rng.normal(0.0, 0.75, size=n)
    return pd.DataFrame(frame)


def prepare_radon_multilevel(df, features=FEATURES):
    """Standardize the predictors and integer-code the county column."""
    df = df.dropna(subset=list(features) + ["log_radon"]).reset_index(drop=True)
    codes, levels = pd.factorize(df["county"], sort=True)
    X = df[list(features)].to_numpy(dtype=np.float32)
    X_mean, X_std = X.mean(axis=0), X.std(axis=0) + 1e-8
    return {
        "X": jnp.asarray((X - X_mean) / X_std),
        "y": jnp.asarray(df["log_radon"].to_numpy(dtype=np.float32)),
        "group": jnp.asarray(codes),
        "n_groups": len(levels),
        "levels": list(levels),
        "features": list(features),
        "X_mean": X_mean,
        "X_std": X_std,
    }


def load_radon_multilevel(path=DATA_PATH, seed=0):
    """Read radon_multilevel.csv if it is there; otherwise simulate data with the same layout."""
    if path is not None and os.path.exists(path):
        df = pd.read_csv(path)
    else:
        print(f"{path} not found: using simulated data")
        df = simulate_radon_multilevel(seed=seed)
    return prepare_radon_multilevel(df)


# -------- models --------------------------------------------------------------------------------


def complete_pooling(X, group, n_groups, y=None):
    """One regression for every household: ignores the counties entirely (the baseline)."""
    del group, n_groups
    intercept = numpyro.sample("intercept", dist.Normal(1.3, 5.0))
    with numpyro.plate("features", X.shape[1]):
        beta = numpyro.sample("beta", dist.Normal(0.0, 1.0))
    sigma = numpyro.sample("sigma", dist.HalfNormal(0.5))
    nu = numpyro.sample("nu", dist.Gamma(2.0, 0.1))
    mu = intercept + X @ beta
    with numpyro.plate("households", X.shape[0]):
        numpyro.sample("log_radon", dist.StudentT(nu, mu, sigma), obs=y)


def hierarchical_intercepts(X, group, n_groups, y=None):
    """Non-centered county intercepts: a = mu_a + sigma_a * a_raw."""
    mu_a = numpyro.sample("mu_a", dist.Normal(1.3, 5.0))
    sigma_a = numpyro.sample("sigma_a", dist.HalfNormal(0.5))
    with numpyro.plate("counties", n_groups):
        a_raw = numpyro.sample("a_raw", dist.Normal(0.0, 1.0))
    a = numpyro.deterministic("a", mu_a + sigma_a * a_raw)
    with numpyro.plate("features", X.shape[1]):
        beta = numpyro.sample("beta", dist.Normal(0.0, 1.0))
    sigma_y = numpyro.sample("sigma_y", dist.HalfNormal(1.0))
    mu = a[group] + X @ beta
    with numpyro.plate("households", X.shape[0]):
        numpyro.sample("log_radon", dist.Normal(mu, sigma_y), obs=y)


def varying_slopes(X, group, n_groups, y=None):
    """Correlated county intercepts and slopes on the first predictor (LKJ prior on the
    correlation, non-centered effects), fixed effects for the remaining predictors."""
    n_eff = 2
    mu = numpyro.sample("mu", dist.Normal(0.0, 2.0).expand([n_eff]).to_event(1))
    tau = numpyro.sample("tau", dist.HalfNormal(1.0).expand([n_eff]).to_event(1))
    L_omega = numpyro.sample("L_omega", dist.LKJCholesky(n_eff, concentration=4.0))
    L = tau[..., None] * L_omega
    with numpyro.plate("counties", n_groups):
        z = numpyro.sample("z", dist.Normal(0.0, 1.0).expand([n_eff]).to_event(1))
    effects = numpyro.deterministic("effects", mu + z @ L.T)
    with numpyro.plate("other_features", X.shape[1] - 1):
        beta = numpyro.sample("beta", dist.Normal(0.0, 1.0))
    sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
    mu_y = effects[group, 0] + effects[group, 1] * X[:, 0] + X[:, 1:] @ beta
    with numpyro.plate("households", X.shape[0]):
        numpyro.sample("log_radon", dist.Normal(mu_y, sigma), obs=y)
    numpyro.deterministic("Omega", L_omega @ L_omega.T)


def errors_in_variables(X, group, n_groups, y=None, x_error=0.2):
    """The first predictor is measured with known noise `x_error`: its true value is latent."""
    del group, n_groups
    n = X.shape[0]
    with numpyro.plate("households", n):
        x_true = numpyro.sample("x_true", dist.Normal(0.0, 1.0))
        numpyro.sample("x_measured", dist.Normal(x_true, x_error), obs=X[:, 0])
    alpha = numpyro.sample("alpha", dist.Normal(1.3, 5.0))
    slope = numpyro.sample("slope", dist.Normal(0.0, 1.0))
    with numpyro.plate("other_features", X.shape[1] - 1):
        beta = numpyro.sample("beta", dist.Normal(0.0, 1.0))
    sigma = numpyro.sample("sigma", dist.HalfCauchy(1.0))
    with numpyro.plate("households", n):
        numpyro.sample("log_radon", dist.Normal(alpha + slope * x_true + X[:, 1:] @ beta, sigma), obs=y)


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


def fit_complete_pooling(data, rng_key, settings):
    """NUTS fit of `complete_pooling`; returns the posterior draws, deterministic sites included."""
    mcmc = run_mcmc(
        complete_pooling,
        rng_key,
        settings,
        data["X"], data["group"], data["n_groups"],
        y=data["y"],
    )
    return mcmc.get_samples()


def fit_hierarchical_intercepts(data, rng_key, settings):
    """NUTS fit of `hierarchical_intercepts`; returns the posterior draws, deterministic sites included."""
    mcmc = run_mcmc(
        hierarchical_intercepts,
        rng_key,
        settings,
        data["X"], data["group"], data["n_groups"],
        y=data["y"],
    )
    return mcmc.get_samples()


def fit_varying_slopes(data, rng_key, settings):
    mcmc = run_mcmc(varying_slopes, rng_key, settings, data["X"], data["group"], data["n_groups"], y=data["y"])
    return mcmc.get_samples()


def fit_errors_in_variables(data, rng_key, settings):
    mcmc = run_mcmc(errors_in_variables, rng_key, settings, data["X"], data["group"], data["n_groups"], y=data["y"])
    return mcmc.get_samples()


# -------- evaluation and plots ------------------------------------------------------------------


ModelSpec = namedtuple("ModelSpec", ["model", "fit", "args", "kwargs", "obs_site", "obs_key"])

MODELS = {
    "complete_pooling": ModelSpec(
        complete_pooling,
        fit_complete_pooling,
        lambda data: (data["X"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site="log_radon",
        obs_key="y",
    ),
    "hierarchical_intercepts": ModelSpec(
        hierarchical_intercepts,
        fit_hierarchical_intercepts,
        lambda data: (data["X"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site="log_radon",
        obs_key="y",
    ),
    "varying_slopes": ModelSpec(
        varying_slopes,
        fit_varying_slopes,
        lambda data: (data["X"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site="log_radon",
        obs_key="y",
    ),
    "errors_in_variables": ModelSpec(
        errors_in_variables,
        fit_errors_in_variables,
        lambda data: (data["X"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site="log_radon",
        obs_key="y",
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
    """Forest plot of the per-county effects, sorted by posterior mean."""
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
    """ArviZ trace plot of the first few scalar sites (one chain of draws)."""
    scalars = {k: np.asarray(v)[None] for k, v in samples.items() if np.ndim(v) == 1}
    if not scalars:
        return
    idata = az.from_dict(posterior=dict(list(scalars.items())[:max_sites]))
    axes = az.plot_trace(idata, compact=True, figsize=(10, 1.8 * min(len(scalars), max_sites)))
    axes.ravel()[0].figure.savefig(out_path, dpi=120, bbox_inches="tight")
    plt.close("all")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--data", default=DATA_PATH, help="input file (simulated when missing)")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("-n", "--num-samples", type=int, default=2000)
    parser.add_argument("--num-warmup", type=int, default=1000)
    parser.add_argument("--num-chains", type=int, default=1)
    parser.add_argument("--target-accept", type=float, default=0.95)
    parser.add_argument("--max-tree-depth", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--out", default="results/radon_multilevel")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main():
    settings = parse_args()
    numpyro.set_platform(settings.device)
    if settings.num_chains > 1:
        numpyro.set_host_device_count(settings.num_chains)
    print(f"jax {jax.__version__}, numpyro {numpyro.__version__}, devices: {jax.devices()}")
    data = load_radon_multilevel(settings.data, seed=settings.seed)
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
