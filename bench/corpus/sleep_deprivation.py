"""Reaction times under sleep deprivation.

Average reaction time per day of sleep restriction for each subject (sleepstudy-like data).
Subjects differ in baseline and in how fast they deteriorate: varying slopes are the point.

Models:
    complete_pooling: One regression for every session: ignores the subjects entirely (the
        baseline).
    varying_slopes: Correlated subject intercepts and slopes on the first predictor (LKJ prior on
        the correlation, non-centered effects), fixed effects for the remaining predictors.
    hierarchical_intercepts: Written centered; LocScaleReparam makes the sampler see a_decentered ~
        Normal(0, 1).

Usage:
    python sleep_deprivation.py --models complete_pooling varying_slopes --num-samples 1000 --plot

Data: data/sleep_deprivation.csv; when the file is missing a simulated data set with the same
columns is used, so the script always runs end to end.
"""

import argparse
import json
import os
from collections import namedtuple
from pathlib import Path
from time import perf_counter

import arviz as az
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from jax import random as jrandom
from jax.scipy.special import logsumexp

import numpyro
import numpyro.distributions as nd
from numpyro import handlers
from numpyro.diagnostics import hpdi
from numpyro.infer import MCMC, NUTS, Predictive, log_likelihood
from numpyro.infer.reparam import LocScaleReparam

DATA_PATH = os.path.join(os.path.dirname(__file__), "data", "sleep_deprivation.csv")
FEATURES = ['days', 'caffeine', 'age']


# -------- data ----------------------------------------------------------------------------------


def simulate_sleep_deprivation(n=540, n_subjects=54, seed=0):
    """Synthetic stand-in for sleep_deprivation.csv with the same columns and plausible effect sizes."""
    rng = np.random.default_rng(seed)
    subject = rng.integers(0, n_subjects, size=n)
    group_effect = rng.normal(0.0, 0.4, size=n_subjects)
    frame = {"subject": np.array([f"SU{g:03d}" for g in subject])}
    linear = 2.5 + group_effect[subject]
    for name, coef in zip(FEATURES, [1.0, -0.2, 0.1]):
        frame[name] = rng.normal(size=n)
        linear = linear + coef * frame[name]
    frame["reaction_ms"] = linear + rng.normal(0.0, 0.3, size=n)
    return pd.DataFrame(frame)


def standardize(X, mean=None, std=None):
    mean = X.mean(axis=0) if mean is None else mean
    std = X.std(axis=0) if std is None else std
    return (X - mean) / np.where(std > 0, std, 1.0), mean, std


def prepare_sleep_deprivation(df, features=FEATURES, test_fraction=0.2, seed=0):
    """Split by row, standardize with training statistics, code subjects as integers."""
    df = df.dropna().reset_index(drop=True)
    df["subject"] = df["subject"].astype("category")
    codes = df["subject"].cat.codes.to_numpy()
    rng = np.random.default_rng(seed)
    is_test = rng.random(len(df)) < test_fraction
    X_raw = df[list(features)].to_numpy(dtype=np.float32)
    X_train, mean, std = standardize(X_raw[~is_test])
    X_test, _, _ = standardize(X_raw[is_test], mean, std)
    y = df["reaction_ms"].to_numpy(dtype=np.float32)
    data = {
        "X": jnp.asarray(X_train),
        "y": jnp.asarray(y[~is_test]),
        "group": jnp.asarray(codes[~is_test]),
        "n_groups": int(codes.max()) + 1,
        "levels": list(df["subject"].cat.categories),
        "features": list(features),
        "X_test": jnp.asarray(X_test),
        "y_test": jnp.asarray(y[is_test]),
        "group_test": jnp.asarray(codes[is_test]),
    }
    return data


def load_sleep_deprivation(path=DATA_PATH, seed=0):
    path = Path(path)
    if path.suffix == ".parquet" and path.exists():
        df = pd.read_parquet(path)
    elif path.exists():
        df = pd.read_csv(path, low_memory=False)
    else:
        df = simulate_sleep_deprivation(seed=seed)
    df.columns = [c.strip().lower().replace(" ", "_") for c in df.columns]
    return prepare_sleep_deprivation(df)


# -------- models --------------------------------------------------------------------------------


def complete_pooling(X, group, n_groups, y=None):
    """One regression for every session: ignores the subjects entirely (the baseline)."""
    del group, n_groups
    intercept = numpyro.sample("intercept", nd.Normal(2.5, 5.0))
    with numpyro.plate("features", X.shape[1]):
        beta = numpyro.sample("beta", nd.Normal(0.0, 1.0))
    sigma = numpyro.sample("sigma", nd.Exponential(1.0))
    nu = numpyro.sample("nu", nd.Gamma(2.0, 0.1))
    mu = intercept + X @ beta
    with numpyro.plate("sessions", X.shape[0]):
        numpyro.sample("reaction_ms", nd.StudentT(nu, mu, sigma), obs=y)


def varying_slopes(X, group, n_groups, y=None):
    """Correlated subject intercepts and slopes on the first predictor (LKJ prior on the
    correlation, non-centered effects), fixed effects for the remaining predictors."""
    n_eff = 2
    mu = numpyro.sample("mu", nd.Normal(0.0, 2.0).expand([n_eff]).to_event(1))
    tau = numpyro.sample("tau", nd.HalfNormal(1.0).expand([n_eff]).to_event(1))
    L_omega = numpyro.sample("L_omega", nd.LKJCholesky(n_eff, concentration=1.0))
    L = tau[..., None] * L_omega
    with numpyro.plate("subjects", n_groups):
        z = numpyro.sample("z", nd.Normal(0.0, 1.0).expand([n_eff]).to_event(1))
    effects = numpyro.deterministic("effects", mu + z @ L.T)
    with numpyro.plate("other_features", X.shape[1] - 1):
        beta = numpyro.sample("beta", nd.Normal(0.0, 1.0))
    sigma = numpyro.sample("sigma", nd.HalfCauchy(0.5))
    mu_y = effects[group, 0] + effects[group, 1] * X[:, 0] + X[:, 1:] @ beta
    with numpyro.plate("sessions", X.shape[0]):
        numpyro.sample("reaction_ms", nd.Normal(mu_y, sigma), obs=y)
    numpyro.deterministic("Omega", L_omega @ L_omega.T)


@handlers.reparam(config={"a": LocScaleReparam(centered=0)})
def hierarchical_intercepts(X, group, n_groups, y=None):
    """Written centered; LocScaleReparam makes the sampler see a_decentered ~ Normal(0, 1)."""
    mu_a = numpyro.sample("mu_a", nd.Normal(2.5, 2.0))
    sigma_a = numpyro.sample("sigma_a", nd.HalfNormal(1.0))
    with numpyro.plate("subjects", n_groups):
        a = numpyro.sample("a", nd.Normal(mu_a, sigma_a))
    with numpyro.plate("features", X.shape[1]):
        beta = numpyro.sample("beta", nd.Normal(0.0, 2.0))
    sigma_y = numpyro.sample("sigma_y", nd.HalfNormal(2.0))
    mu = a[group] + X @ beta
    with numpyro.plate("sessions", X.shape[0]):
        numpyro.sample("reaction_ms", nd.Normal(mu, sigma_y), obs=y)


# -------- inference -----------------------------------------------------------------------------


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


def fit_complete_pooling(data, rng_key, settings):
    mcmc = run_mcmc(complete_pooling, rng_key, settings, data["X"], data["group"], data["n_groups"], y=data["y"])
    return mcmc.get_samples()


def fit_varying_slopes(data, rng_key, settings):
    mcmc = run_mcmc(varying_slopes, rng_key, settings, data["X"], data["group"], data["n_groups"], y=data["y"])
    return mcmc.get_samples()


def fit_hierarchical_intercepts(data, rng_key, settings):
    mcmc = run_mcmc(hierarchical_intercepts, rng_key, settings, data["X"], data["group"], data["n_groups"], y=data["y"])
    return mcmc.get_samples()


# -------- evaluation and plots ------------------------------------------------------------------


ModelSpec = namedtuple("ModelSpec", ["model", "fit", "args", "kwargs", "obs_site", "obs_key"])

MODELS = {
    "complete_pooling": ModelSpec(
        complete_pooling,
        fit_complete_pooling,
        lambda data: (data["X"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site="reaction_ms",
        obs_key="y",
    ),
    "varying_slopes": ModelSpec(
        varying_slopes,
        fit_varying_slopes,
        lambda data: (data["X"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site="reaction_ms",
        obs_key="y",
    ),
    "hierarchical_intercepts": ModelSpec(
        hierarchical_intercepts,
        fit_hierarchical_intercepts,
        lambda data: (data["X"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site="reaction_ms",
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
    """Forest plot of the per-subject effects, sorted by posterior mean."""
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
    parser.add_argument("-n", "--num-samples", type=int, default=500)
    parser.add_argument("--num-warmup", type=int, default=500)
    parser.add_argument("--num-chains", type=int, default=1)
    parser.add_argument("--target-accept", type=float, default=0.8)
    parser.add_argument("--max-tree-depth", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--out", default="results/sleep_deprivation")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main(settings):
    numpyro.set_platform(settings.device)
    numpyro.set_host_device_count(settings.num_chains)
    data = load_sleep_deprivation(settings.data, seed=settings.seed)
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
