"""Probability of default for retail loans.

Loan-level default indicator with borrower and loan characteristics, grouped by branch. Compares
a pooled logistic regression, branch effects, a horseshoe and a small Bayesian MLP.

Models:
    logistic_regression: Pooled logistic regression; the baseline every other model must beat.
    varying_intercept: Centered branch intercepts a_j ~ Normal(mu_a, sigma_a).
    regularized_horseshoe: Regularized horseshoe (Piironen & Vehtari 2017) on all coefficients; no
        branch effects.
    bayesian_mlp: One hidden layer with Normal priors on all weights, scaled by fan-in; trained with
        SVI.

Usage:
    python credit_default.py --models logistic_regression varying_intercept --num-samples 1000 --plot

Data: data/credit_default.csv; when the file is missing a simulated data set with the same
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

import numpyro
import numpyro.distributions as dist
from numpyro.diagnostics import summary
from numpyro.infer import MCMC, NUTS, Predictive, SVI, Trace_ELBO, init_to_median
from numpyro.infer.autoguide import AutoMultivariateNormal
from numpyro.optim import Adam

DATA_PATH = os.environ.get("CREDIT_DEFAULT_DATA", "data/credit_default.csv")
FEATURES = ['income', 'debt_to_income', 'loan_amount', 'credit_age', 'inquiries']


# -------- data ----------------------------------------------------------------------------------


def simulate_credit_default(n=3000, n_branches=25, seed=0):
    """Synthetic stand-in for credit_default.csv with the same columns and plausible effect sizes."""
    rng = np.random.default_rng(seed)
    branch = rng.integers(0, n_branches, size=n)
    group_effect = rng.normal(0.0, 0.5, size=n_branches)
    frame = {"branch": np.array([f"BR{g:03d}" for g in branch])}
    linear = -2.0 + group_effect[branch]
    for name, coef in zip(FEATURES, [-0.8, 1.0, 0.3, -0.4, 0.5]):
        frame[name] = rng.normal(size=n)
        linear = linear + coef * frame[name]
    frame["default"] = rng.binomial(1, 1.0 / (1.0 + np.exp(-linear)))
    return pd.DataFrame(frame)


def standardize(X, mean=None, std=None):
    mean = X.mean(axis=0) if mean is None else mean
    std = X.std(axis=0) if std is None else std
    return (X - mean) / np.where(std > 0, std, 1.0), mean, std


def prepare_credit_default(df, features=FEATURES, test_fraction=0.2, seed=0):
    """Split by row, standardize with training statistics, code branches as integers."""
    df = df.dropna().reset_index(drop=True)
    df["branch"] = df["branch"].astype("category")
    codes = df["branch"].cat.codes.to_numpy()
    rng = np.random.default_rng(seed)
    is_test = rng.random(len(df)) < test_fraction
    X_raw = df[list(features)].to_numpy(dtype=np.float32)
    X_train, mean, std = standardize(X_raw[~is_test])
    X_test, _, _ = standardize(X_raw[is_test], mean, std)
    y = df["default"].to_numpy(dtype=np.int32)
    data = {
        "X": jnp.asarray(X_train),
        "y": jnp.asarray(y[~is_test]),
        "group": jnp.asarray(codes[~is_test]),
        "n_groups": int(codes.max()) + 1,
        "levels": list(df["branch"].cat.categories),
        "features": list(features),
        "X_test": jnp.asarray(X_test),
        "y_test": jnp.asarray(y[is_test]),
        "group_test": jnp.asarray(codes[is_test]),
    }
    return data


def load_credit_default(path=DATA_PATH, seed=0):
    """Read credit_default.csv if it is there; otherwise simulate data with the same layout."""
    if path is not None and os.path.exists(path):
        df = pd.read_csv(path)
    else:
        print(f"{path} not found: using simulated data")
        df = simulate_credit_default(seed=seed)
    return prepare_credit_default(df)


# -------- models --------------------------------------------------------------------------------


def logistic_regression(X, group, n_groups, y=None):
    """Pooled logistic regression; the baseline every other model must beat."""
    del group, n_groups
    intercept = numpyro.sample("intercept", dist.Normal(0.0, 5.0))
    beta = numpyro.sample("beta", dist.Normal(jnp.zeros(X.shape[1]), 1.0).to_event(1))
    logits = numpyro.deterministic("logits", intercept + X @ beta)
    with numpyro.plate("loans", X.shape[0]):
        numpyro.sample("default", dist.Bernoulli(logits=logits), obs=y)


def varying_intercept(X, group, n_groups, y=None):
    """Centered branch intercepts a_j ~ Normal(mu_a, sigma_a)."""
    mu_a = numpyro.sample("mu_a", dist.Normal(0.0, 5.0))
    sigma_a = numpyro.sample("sigma_a", dist.HalfNormal(1.0))
    with numpyro.plate("branches", n_groups):
        a = numpyro.sample("a", dist.Normal(mu_a, sigma_a))
    with numpyro.plate("features", X.shape[1]):
        beta = numpyro.sample("beta", dist.Normal(0.0, 2.0))
    mu = a[group] + X @ beta
    with numpyro.plate("loans", X.shape[0]):
        numpyro.sample("default", dist.Bernoulli(logits=mu), obs=y)


def regularized_horseshoe(X, group, n_groups, y=None, expected_nonzero=1, slab_scale=3.0, slab_df=4.0):
    """Regularized horseshoe (Piironen & Vehtari 2017) on all coefficients; no branch effects."""
    del group, n_groups
    n, p = X.shape
    sigma = 2.0  # pseudo-variance for the logistic model (Piironen & Vehtari 2017)
    tau0 = expected_nonzero / max(p - expected_nonzero, 1) * sigma / jnp.sqrt(n)
    tau = tau0 * numpyro.sample("tau_raw", dist.HalfCauchy(1.0))
    c2 = numpyro.sample("c2", dist.InverseGamma(0.5 * slab_df, 0.5 * slab_df * slab_scale**2))
    print("c2:", c2)
    with numpyro.plate("features", p):
        lam = numpyro.sample("lambda", dist.HalfCauchy(1.0))
        z = numpyro.sample("z", dist.Normal(0.0, 1.0))
    lam_tilde = jnp.sqrt(c2) * lam / jnp.sqrt(c2 + tau**2 * lam**2)
    beta = numpyro.deterministic("beta", z * lam_tilde * tau)
    intercept = numpyro.sample("intercept", dist.Normal(0.0, 5.0))
    with numpyro.plate("loans", n):
        numpyro.sample("default", dist.Bernoulli(logits=intercept + X @ beta), obs=y)


def bayesian_mlp(X, group, n_groups, y=None, hidden=8):
    """One hidden layer with Normal priors on all weights, scaled by fan-in; trained with SVI."""
    del group, n_groups
    n, p = X.shape
    w1 = numpyro.sample("w1", dist.Normal(0.0, 1.0 / jnp.sqrt(p)).expand([p, hidden]).to_event(2))
    b1 = numpyro.sample("b1", dist.Normal(0.0, 1.0).expand([hidden]).to_event(1))
    w2 = numpyro.sample("w2", dist.Normal(0.0, 1.0 / jnp.sqrt(hidden)).expand([hidden]).to_event(1))
    b2 = numpyro.sample("b2", dist.Normal(0.0, 1.0))
    h = jnp.tanh(X @ w1 + b1)
    logits = h @ w2 + b2
    with numpyro.plate("loans", n, subsample_size=min(n, 512)) as idx:
        numpyro.sample("default", dist.Bernoulli(logits=logits[idx]), obs=None if y is None else y[idx])


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


def fit_logistic_regression(data, rng_key, settings):
    samples, losses = run_svi(logistic_regression, rng_key, settings, data["X"], data["group"], data["n_groups"], y=data["y"])
    print(f"logistic_regression: final loss {float(losses[-1]):.1f} after {len(losses)} steps")
    return samples


def fit_varying_intercept(data, rng_key, settings):
    samples, losses = run_svi(varying_intercept, rng_key, settings, data["X"], data["group"], data["n_groups"], y=data["y"])
    print(f"varying_intercept: final loss {float(losses[-1]):.1f} after {len(losses)} steps")
    return samples


def fit_regularized_horseshoe(data, rng_key, settings):
    mcmc = run_mcmc(regularized_horseshoe, rng_key, settings, data["X"], data["group"], data["n_groups"], y=data["y"])
    return mcmc.get_samples()


def fit_bayesian_mlp(data, rng_key, settings):
    samples, losses = run_svi(bayesian_mlp, rng_key, settings, data["X"], data["group"], data["n_groups"], y=data["y"])
    print(f"bayesian_mlp: final loss {float(losses[-1]):.1f} after {len(losses)} steps")
    return samples


# -------- evaluation and plots ------------------------------------------------------------------


ModelSpec = namedtuple("ModelSpec", ["model", "fit", "args", "kwargs", "obs_site", "obs_key"])

MODELS = {
    "logistic_regression": ModelSpec(
        logistic_regression,
        fit_logistic_regression,
        lambda data: (data["X"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site="default",
        obs_key="y",
    ),
    "varying_intercept": ModelSpec(
        varying_intercept,
        fit_varying_intercept,
        lambda data: (data["X"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site="default",
        obs_key="y",
    ),
    "regularized_horseshoe": ModelSpec(
        regularized_horseshoe,
        fit_regularized_horseshoe,
        lambda data: (data["X"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site="default",
        obs_key="y",
    ),
    "bayesian_mlp": ModelSpec(
        bayesian_mlp,
        fit_bayesian_mlp,
        lambda data: (data["X"], data["group"], data["n_groups"]),
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
    """Forest plot of the per-branch effects, sorted by posterior mean."""
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
    parser.add_argument("--num-chains", type=int, default=4)
    parser.add_argument("--target-accept", type=float, default=0.95)
    parser.add_argument("--max-tree-depth", type=int, default=10)
    parser.add_argument("--num-steps", type=int, default=10000)
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--num-particles", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--out", default="results/credit_default")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main(settings):
    numpyro.set_platform(settings.device)
    numpyro.set_host_device_count(settings.num_chains)
    data = load_credit_default(settings.data, seed=settings.seed)
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
