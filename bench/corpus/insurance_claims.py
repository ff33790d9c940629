"""Motor insurance claim frequency.

Number of claims per policy with the policy-years of exposure as offset, grouped by region.
Compares Poisson, negative binomial, zero-inflated and hurdle models for the excess zeros.

Models:
    poisson_glmm: Log-linear rate per unit of exposure with a random effect for each region.
    negative_binomial_glmm: Log-linear rate per unit of exposure with a random effect for each
        region.
    zero_inflated_poisson: Log-linear rate per unit of exposure with a random effect for each
        region.
    hurdle_poisson: Zeros from a logistic hurdle, positives from a zero-truncated Poisson; the
        likelihood is added with `factor` because NumPyro has no truncated Poisson.

Usage:
    python insurance_claims.py --models poisson_glmm negative_binomial_glmm --num-samples 1000 --plot

Data: data/insurance_claims.csv; when the file is missing a simulated data set with the same
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
from jax import random as jrandom
from jax.scipy.special import logsumexp

import numpyro
import numpyro.distributions as nd
from numpyro.infer import MCMC, NUTS, Predictive, log_likelihood

DATA_PATH = os.environ.get("INSURANCE_CLAIMS_DATA", "data/insurance_claims.csv")
FEATURES = ['driver_age', 'vehicle_power', 'bonus_malus', 'urban_density']


def simulate_insurance_claims(n=4000, n_regions=22, seed=0):
    """Synthetic stand-in for insurance_claims.csv with the same columns and plausible effect sizes."""
    rng = np.random.default_rng(seed)
    region = rng.integers(0, n_regions, size=n)
    group_effect = rng.normal(0.0, 0.5, size=n_regions)
    frame = {"region": np.array([f"RE{g:03d}" for g in region])}
    exposure = rng.gamma(4.0, 0.25, size=n)
    frame["policy_years"] = exposure
    linear = -2.2 + group_effect[region]
    for name, coef in zip(FEATURES, [-0.2, 0.15, 0.5, 0.2]):
        frame[name] = rng.normal(size=n)
        linear = linear + coef * frame[name]
    frame["n_claims"] = rng.poisson(exposure * np.exp(linear))
    return pd.DataFrame(frame)


def prepare_insurance_claims(df, features=FEATURES):
    """Standardize the predictors and integer-code the region column."""
    df = df.dropna(subset=list(features) + ["n_claims"]).reset_index(drop=True)
    codes, levels = pd.factorize(df["region"], sort=True)
    X = df[list(features)].to_numpy(dtype=np.float32)
    X_mean, X_std = X.mean(axis=0), X.std(axis=0) + 1e-8
    return {
        "X": jnp.asarray((X - X_mean) / X_std),
        "y": jnp.asarray(df["n_claims"].to_numpy(dtype=np.int32)),
        "group": jnp.asarray(codes),
        "n_groups": len(levels),
        "levels": list(levels),
        "features": list(features),
        "X_mean": X_mean,
        "X_std": X_std,
        "exposure": jnp.asarray(df["policy_years"].to_numpy(dtype=np.float32)),
    }


def load_insurance_claims(path=DATA_PATH, seed=0):
    """Read insurance_claims.csv if it is there; otherwise simulate data with the same layout."""
    if path is not None and os.path.exists(path):
        df = pd.read_csv(path)
    else:
        print(f"{path} not found: using simulated data")
        df = simulate_insurance_claims(seed=seed)
    return prepare_insurance_claims(df)


def poisson_glmm(X, exposure, group, n_groups, y=None):
    """Log-linear rate per unit of exposure with a random effect for each region."""
    intercept = numpyro.sample("intercept", nd.Normal(-2.0, 1.0))
    with numpyro.plate("features", X.shape[1]):
        beta = numpyro.sample("beta", nd.Normal(0.0, 0.5))
    sigma_u = numpyro.sample("sigma_u", nd.HalfNormal(0.5))
    with numpyro.plate("regions", n_groups):
        u_raw = numpyro.sample("u_raw", nd.Normal(0.0, 1.0))
    u = sigma_u * u_raw
    log_rate = jnp.log(exposure) + intercept + X @ beta + u[group]
    rate = jnp.exp(jnp.clip(log_rate, -20.0, 20.0))
    with numpyro.plate("policies", X.shape[0]):
        numpyro.sample("n_claims", nd.Poisson(rate), obs=y)


def negative_binomial_glmm(X, exposure, group, n_groups, y=None):
    """Log-linear rate per unit of exposure with a random effect for each region."""
    intercept = numpyro.sample("intercept", nd.Normal(-2.0, 1.0))
    with numpyro.plate("features", X.shape[1]):
        beta = numpyro.sample("beta", nd.Normal(0.0, 1.0))
    sigma_u = numpyro.sample("sigma_u", nd.HalfNormal(1.0))
    with numpyro.plate("regions", n_groups):
        u_raw = numpyro.sample("u_raw", nd.Normal(0.0, 1.0))
    u = sigma_u * u_raw
    phi = numpyro.sample("phi", nd.Exponential(1.0))
    log_rate = jnp.log(exposure) + intercept + X @ beta + u[group]
    rate = jnp.exp(jnp.clip(log_rate, -20.0, 20.0))
    with numpyro.plate("policies", X.shape[0]):
        numpyro.sample("n_claims", nd.NegativeBinomial2(rate, phi), obs=y)


def zero_inflated_poisson(X, exposure, group, n_groups, y=None):
    """Log-linear rate per unit of exposure with a random effect for each region."""
    intercept = numpyro.sample("intercept", nd.Normal(-2.0, 1.0))
    with numpyro.plate("features", X.shape[1]):
        beta = numpyro.sample("beta", nd.Normal(0.0, 0.5))
    sigma_u = numpyro.sample("sigma_u", nd.HalfNormal(0.5))
    with numpyro.plate("regions", n_groups):
        u = numpyro.sample("u", nd.Normal(0.0, sigma_u))
    gate = numpyro.sample("gate", nd.Beta(1.0, 3.0))
    log_rate = jnp.log(exposure) + intercept + X @ beta + u[group]
    rate = jnp.exp(jnp.clip(log_rate, -20.0, 20.0))
    with numpyro.plate("policies", X.shape[0]):
        numpyro.sample("n_claims", nd.ZeroInflatedPoisson(gate, rate), obs=y)


def hurdle_poisson(X, exposure, group, n_groups, y=None):
    """Zeros from a logistic hurdle, positives from a zero-truncated Poisson; the likelihood
    is added with `factor` because NumPyro has no truncated Poisson."""
    del group, n_groups
    with numpyro.plate("features", X.shape[1]):
        beta_zero = numpyro.sample("beta_zero", nd.Normal(0.0, 1.0))
        beta_count = numpyro.sample("beta_count", nd.Normal(0.0, 1.0))
    a_zero = numpyro.sample("a_zero", nd.Normal(0.0, 1.5))
    a_count = numpyro.sample("a_count", nd.Normal(-2.0, 1.0))
    logit_zero = a_zero + X @ beta_zero
    rate = exposure * jnp.exp(a_count + X @ beta_count)
    if y is None:
        return
    log_p_zero = jax.nn.log_sigmoid(logit_zero)
    log_p_pos = jax.nn.log_sigmoid(-logit_zero)
    log_trunc = nd.Poisson(rate).log_prob(y) - jnp.log1p(-jnp.exp(-rate))
    numpyro.factor("hurdle_loglik", jnp.where(y == 0, log_p_zero, log_p_pos + log_trunc).sum())


def run_mcmc(model, rng_key, settings, *model_args, **model_kwargs):
    """NUTS with the settings from the command line; reports divergences."""
    kernel = NUTS(model, target_accept_prob=settings.target_accept)
    mcmc = MCMC(
        kernel,
        num_warmup=settings.num_warmup,
        num_samples=settings.num_samples,
        num_chains=settings.num_chains,
        progress_bar=settings.verbose,
    )
    start = perf_counter()
    mcmc.run(rng_key, *model_args, extra_fields=("diverging",), **model_kwargs)
    n_div = int(mcmc.get_extra_fields()["diverging"].sum())
    name = getattr(model, "__name__", type(model).__name__)
    print(f"{name}: {perf_counter() - start:.1f}s, {n_div} divergent transitions")
    return mcmc


def fit_poisson_glmm(data, rng_key, settings):
    """NUTS fit of `poisson_glmm`; returns the posterior draws, deterministic sites included."""
    mcmc = run_mcmc(
        poisson_glmm,
        rng_key,
        settings,
        data["X"], data["exposure"], data["group"], data["n_groups"],
        y=data["y"],
    )
    return mcmc.get_samples()


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


def fit_hurdle_poisson(data, rng_key, settings):
    mcmc = run_mcmc(hurdle_poisson, rng_key, settings, data["X"], data["exposure"], data["group"], data["n_groups"], y=data["y"])
    return mcmc.get_samples()


ModelSpec = namedtuple("ModelSpec", ["model", "fit", "args", "kwargs", "obs_site", "obs_key"])

MODELS = {
    "poisson_glmm": ModelSpec(
        poisson_glmm,
        fit_poisson_glmm,
        lambda data: (data["X"], data["exposure"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site="n_claims",
        obs_key="y",
    ),
    "negative_binomial_glmm": ModelSpec(
        negative_binomial_glmm,
        fit_negative_binomial_glmm,
        lambda data: (data["X"], data["exposure"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site="n_claims",
        obs_key="y",
    ),
    "zero_inflated_poisson": ModelSpec(
        zero_inflated_poisson,
        fit_zero_inflated_poisson,
        lambda data: (data["X"], data["exposure"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site="n_claims",
        obs_key="y",
    ),
    "hurdle_poisson": ModelSpec(
        hurdle_poisson,
        fit_hurdle_poisson,
        lambda data: (data["X"], data["exposure"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site=None,
        obs_key=None,
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
    """One JSON file per run, named by its start time, so reruns never overwrite results."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"metrics-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(results, indent=2, default=float))
    ranked = sorted(results.values(), key=lambda m: m.get("waic", -m.get("coverage", 0.0)))
    print(f"wrote {path}")
    for rank, metrics in enumerate(ranked, start=1):
        print(f"  {rank}. {metrics['model']}")


def prior_predictive_check(spec, data, rng_key, num_samples=200):
    """Do the priors generate data on the right scale? Prints prior predictive quantiles next to
    the observed range; run it before fitting anything new."""
    prior = Predictive(spec.model, num_samples=num_samples)(rng_key, *spec.args(data))
    if spec.obs_site is None or spec.obs_site not in prior:
        return None
    simulated = prior[spec.obs_site]
    observed = data[spec.obs_key]
    q = jnp.quantile(simulated, jnp.array([0.01, 0.5, 0.99]))
    print(f"prior predictive 1/50/99%: {q}, observed [{observed.min():.3g}, {observed.max():.3g}]")
    return simulated


def plot_group_effects(samples, levels, site, out_dir, max_groups=40):
    """Forest plot of the per-region effects, sorted by posterior mean."""
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
    parser.add_argument("-n", "--num-samples", type=int, default=1000)
    parser.add_argument("--num-warmup", type=int, default=500)
    parser.add_argument("--num-chains", type=int, default=4)
    parser.add_argument("--target-accept", type=float, default=0.8)
    parser.add_argument("--max-tree-depth", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--out", default="results/insurance_claims")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main(settings):
    numpyro.set_platform(settings.device)
    numpyro.set_host_device_count(settings.num_chains)
    data = load_insurance_claims(settings.data, seed=settings.seed)
    out_dir = Path(settings.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng_key = jrandom.PRNGKey(settings.seed)
    results = {}
    for name in settings.models:
        spec = MODELS[name]
        rng_key, key_fit, key_eval = jrandom.split(rng_key, 3)
        samples = spec.fit(data, key_fit, settings)
        results[name] = evaluate(name, spec, samples, data, key_eval)
        if settings.plot:
            for site in ("a", "u", "eps", "effects"):
                plot_group_effects(samples, data.get("levels", []), site, out_dir)
            plot_trace(samples, out_dir / f"{name}_trace.png")
    save_results(results, out_dir)


if __name__ == "__main__":
    main(parse_args())
