"""Hedonic regression of house prices.

Log sale prices of houses with many correlated characteristics; most coefficients should be near
zero, hence the shrinkage priors. Neighbourhoods form the groups.

Models:
    complete_pooling: One regression for every sale: ignores the neighbourhoods entirely (the
        baseline).
    regularized_horseshoe: Regularized horseshoe (Piironen & Vehtari 2017) on all coefficients; no
        neighbourhood effects.
    varying_intercept: Non-centered neighbourhood intercepts: a = mu_a + sigma_a * a_raw.
    errors_in_variables: The first predictor is measured with known noise `x_error`: its true value
        is latent.

Usage:
    python housing_prices.py --models complete_pooling regularized_horseshoe --num-samples 1000 --plot

Data: data/housing_prices.csv; when the file is missing a simulated data set with the same
columns is used, so the script always runs end to end.
"""

import argparse
import json
import os
from collections import namedtuple
from pathlib import Path

import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from jax import random
from jax.scipy.special import logsumexp

import numpyro as npr
import numpyro.distributions as D
from numpyro.diagnostics import hpdi, summary
from numpyro.infer import MCMC, NUTS, Predictive, SVI, Trace_ELBO, init_to_median, log_likelihood
from numpyro.infer.autoguide import AutoMultivariateNormal
from numpyro.optim import Adam

DATA_PATH = os.environ.get("HOUSING_PRICES_DATA", "data/housing_prices.csv")
FEATURES = ['living_area', 'lot_size', 'age', 'bathrooms', 'garage', 'distance_cbd', 'school_rating', 'noise_db']


# -------- data ----------------------------------------------------------------------------------


def simulate_housing_prices(n=1500, n_neighbourhoods=35, seed=0):
    """Synthetic stand-in for housing_prices.csv with the same columns and plausible effect sizes."""
    rng = np.random.default_rng(seed)
    neighbourhood = rng.integers(0, n_neighbourhoods, size=n)
    group_effect = rng.normal(0.0, 0.5, size=n_neighbourhoods)
    frame = {"neighbourhood": np.array([f"NE{g:03d}" for g in neighbourhood])}
    linear = 12.5 + group_effect[neighbourhood]
    for name, coef in zip(FEATURES, [0.5, 0.1, -0.2, 0.15, 0.05, -0.3, 0.2, 0.0]):
        frame[name] = rng.normal(size=n)
        linear = linear + coef * frame[name]
    frame["log_price"] = linear + rng.normal(0.0, 0.25, size=n)
    return pd.DataFrame(frame)


def standardize(X, mean=None, std=None):
    mean = X.mean(axis=0) if mean is None else mean
    std = X.std(axis=0) if std is None else std
    return (X - mean) / np.where(std > 0, std, 1.0), mean, std


def prepare_housing_prices(df, features=FEATURES, test_fraction=0.2, seed=0):
    """Split by row, standardize with training statistics, code neighbourhoods as integers."""
    df = df.dropna().reset_index(drop=True)
    df["neighbourhood"] = df["neighbourhood"].astype("category")
    codes = df["neighbourhood"].cat.codes.to_numpy()
    rng = np.random.default_rng(seed)
    is_test = rng.random(len(df)) < test_fraction
    X_raw = df[list(features)].to_numpy(dtype=np.float32)
    X_train, mean, std = standardize(X_raw[~is_test])
    X_test, _, _ = standardize(X_raw[is_test], mean, std)
    y = df["log_price"].to_numpy(dtype=np.float32)
    data = {
        "X": jnp.asarray(X_train),
        "y": jnp.asarray(y[~is_test]),
        "group": jnp.asarray(codes[~is_test]),
        "n_groups": int(codes.max()) + 1,
        "levels": list(df["neighbourhood"].cat.categories),
        "features": list(features),
        "X_test": jnp.asarray(X_test),
        "y_test": jnp.asarray(y[is_test]),
        "group_test": jnp.asarray(codes[is_test]),
    }
    return data


def load_housing_prices(path=DATA_PATH, seed=0):
    path = Path(path)
    if path.suffix == ".parquet" and path.exists():
        df = pd.read_parquet(path)
    elif path.exists():
        df = pd.read_csv(path, low_memory=False)
    else:
        df = simulate_housing_prices(seed=seed)
    df.columns = [c.strip().lower().replace(" ", "_") for c in df.columns]
    return prepare_housing_prices(df)


# -------- models --------------------------------------------------------------------------------


def complete_pooling(X, group, n_groups, y=None):
    """One regression for every sale: ignores the neighbourhoods entirely (the baseline)."""
    del group, n_groups
    intercept = npr.sample("intercept", D.Normal(12.5, 10.0))
    with npr.plate("features", X.shape[1]):
        beta = npr.sample("beta", D.Normal(0.0, 2.5))
    sigma = npr.sample("sigma", D.Exponential(1.0))
    nu = npr.sample("nu", D.Gamma(2.0, 0.1))
    mu = intercept + X @ beta
    with npr.plate("sales", X.shape[0]):
        npr.sample("log_price", D.StudentT(nu, mu, sigma), obs=y)


def regularized_horseshoe(X, group, n_groups, y=None, expected_nonzero=1, slab_scale=1.0, slab_df=4.0):
    """Regularized horseshoe (Piironen & Vehtari 2017) on all coefficients; no neighbourhood effects."""
    del group, n_groups
    n, p = X.shape
    sigma = npr.sample("sigma", D.HalfNormal(1.0))
    tau0 = expected_nonzero / max(p - expected_nonzero, 1) * sigma / jnp.sqrt(n)
    tau = tau0 * npr.sample("tau_raw", D.HalfCauchy(1.0))
    c2 = npr.sample("c2", D.InverseGamma(0.5 * slab_df, 0.5 * slab_df * slab_scale**2))
    with npr.plate("features", p):
        lam = npr.sample("lambda", D.HalfCauchy(1.0))
        z = npr.sample("z", D.Normal(0.0, 1.0))
    lam_tilde = jnp.sqrt(c2) * lam / jnp.sqrt(c2 + tau**2 * lam**2)
    beta = npr.deterministic("beta", z * lam_tilde * tau)
    intercept = npr.sample("intercept", D.Normal(0.0, 2.5))
    with npr.plate("sales", n):
        npr.sample("log_price", D.Normal(intercept + X @ beta, sigma), obs=y)


def varying_intercept(X, group, n_groups, y=None):
    """Non-centered neighbourhood intercepts: a = mu_a + sigma_a * a_raw."""
    mu_a = npr.sample("mu_a", D.Normal(12.5, 1.0))
    sigma_a = npr.sample("sigma_a", D.HalfNormal(2.0))
    with npr.plate("neighbourhoods", n_groups):
        a_raw = npr.sample("a_raw", D.Normal(0.0, 1.0))
    a = npr.deterministic("a", mu_a + sigma_a * a_raw)
    with npr.plate("features", X.shape[1]):
        beta = npr.sample("beta", D.Normal(0.0, 2.0))
    sigma_y = npr.sample("sigma_y", D.HalfNormal(1.0))
    mu = a[group] + X @ beta
    with npr.plate("sales", X.shape[0]):
        npr.sample("log_price", D.Normal(mu, sigma_y), obs=y)


def errors_in_variables(X, group, n_groups, y=None, x_error=0.5):
    """The first predictor is measured with known noise `x_error`: its true value is latent."""
    del group, n_groups
    n = X.shape[0]
    with npr.plate("sales", n):
        x_true = npr.sample("x_true", D.Normal(0.0, 1.0))
        npr.sample("x_measured", D.Normal(x_true, x_error), obs=X[:, 0])
    alpha = npr.sample("alpha", D.Normal(12.5, 2.0))
    slope = npr.sample("slope", D.Normal(0.0, 1.0))
    with npr.plate("other_features", X.shape[1] - 1):
        beta = npr.sample("beta", D.Normal(0.0, 1.0))
    sigma = npr.sample("sigma", D.HalfCauchy(0.5))
    with npr.plate("sales", n):
        npr.sample("log_price", D.Normal(alpha + slope * x_true + X[:, 1:] @ beta, sigma), obs=y)


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


def run_svi(model, rng_key, settings, *model_args, guide_class=AutoMultivariateNormal, **model_kwargs):
    """Fit an autoguide and return posterior draws in the same format as MCMC."""
    guide = guide_class(model)
    svi = SVI(model, guide, Adam(settings.learning_rate), Trace_ELBO(num_particles=settings.num_particles))
    rng_key, rng_key_post = random.split(rng_key)
    result = svi.run(rng_key, settings.num_steps, *model_args, progress_bar=False, **model_kwargs)
    samples = guide.sample_posterior(
        rng_key_post, result.params, *model_args, sample_shape=(settings.num_samples,), **model_kwargs
    )
    return samples, result.losses


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


def fit_regularized_horseshoe(data, rng_key, settings):
    """NUTS fit of `regularized_horseshoe`; returns the posterior draws, deterministic sites included."""
    mcmc = run_mcmc(
        regularized_horseshoe,
        rng_key,
        settings,
        data["X"], data["group"], data["n_groups"],
        y=data["y"],
    )
    return mcmc.get_samples()


def fit_varying_intercept(data, rng_key, settings):
    samples, losses = run_svi(varying_intercept, rng_key, settings, data["X"], data["group"], data["n_groups"], y=data["y"])
    print(f"varying_intercept: final loss {float(losses[-1]):.1f} after {len(losses)} steps")
    return samples


def fit_errors_in_variables(data, rng_key, settings):
    """NUTS fit of `errors_in_variables`; returns the posterior draws, deterministic sites included."""
    mcmc = run_mcmc(
        errors_in_variables,
        rng_key,
        settings,
        data["X"], data["group"], data["n_groups"],
        y=data["y"],
    )
    return mcmc.get_samples()


# -------- evaluation and plots ------------------------------------------------------------------


ModelSpec = namedtuple("ModelSpec", ["model", "fit", "args", "kwargs", "obs_site", "obs_key"])

MODELS = {
    "complete_pooling": ModelSpec(
        complete_pooling,
        fit_complete_pooling,
        lambda data: (data["X"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site="log_price",
        obs_key="y",
    ),
    "regularized_horseshoe": ModelSpec(
        regularized_horseshoe,
        fit_regularized_horseshoe,
        lambda data: (data["X"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site="log_price",
        obs_key="y",
    ),
    "varying_intercept": ModelSpec(
        varying_intercept,
        fit_varying_intercept,
        lambda data: (data["X"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site="log_price",
        obs_key="y",
    ),
    "errors_in_variables": ModelSpec(
        errors_in_variables,
        fit_errors_in_variables,
        lambda data: (data["X"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site="log_price",
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
    """Forest plot of the per-neighbourhood effects, sorted by posterior mean."""
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
    parser.add_argument("--num-warmup", type=int, default=500)
    parser.add_argument("--num-chains", type=int, default=1)
    parser.add_argument("--target-accept", type=float, default=0.8)
    parser.add_argument("--max-tree-depth", type=int, default=10)
    parser.add_argument("--num-steps", type=int, default=20000)
    parser.add_argument("--learning-rate", type=float, default=0.02)
    parser.add_argument("--num-particles", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--out", default="results/housing_prices")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main(settings):
    npr.set_platform(settings.device)
    npr.set_host_device_count(settings.num_chains)
    data = load_housing_prices(settings.data, seed=settings.seed)
    out_dir = Path(settings.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng_key = random.PRNGKey(settings.seed)
    results = {}
    for name in settings.models:
        spec = MODELS[name]
        rng_key, key_fit, key_eval = random.split(rng_key, 3)
        samples = spec.fit(data, key_fit, settings)
        results[name] = evaluate(name, spec, samples, data, key_eval)
        if settings.plot:
            for site in ("a", "u", "eps", "effects"):
                plot_group_effects(samples, data.get("levels", []), site, out_dir)
            plot_trace(samples, out_dir / f"{name}_trace.png")
    save_results(results, out_dir)


if __name__ == "__main__":
    main(parse_args())
