"""Variety trials: wheat yield across farms.

Plot-level yields (t/ha) from on-farm variety trials, grouped by farm, with nitrogen rate,
sowing date and rainfall anomaly as predictors. Spline terms capture the nitrogen response.

Models:
    complete_pooling: One regression for every plot: ignores the farms entirely (the baseline).
    varying_intercept: Non-centered farm intercepts: a = mu_a + sigma_a * a_raw.
    pspline: P-spline in the first predictor: random-walk prior on the basis weights, plus linear
        terms for the others.
    errors_in_variables: The first predictor is measured with known noise `x_error`: its true value
        is latent.

Usage:
    python crop_yield_trials.py --models complete_pooling varying_intercept --num-samples 1000 --plot

Data: data/crop_yield_trials.csv; when the file is missing a simulated data set with the same
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
import jax.random as random
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import numpyro
from numpyro import distributions as D
from numpyro.diagnostics import hpdi, summary
from numpyro.infer import MCMC, NUTS, Predictive, init_to_median

DATA_PATH = os.path.join(os.path.dirname(__file__), "data", "crop_yield_trials.csv")
FEATURES = ['nitrogen', 'sowing_day', 'rain_anomaly']


def simulate_crop_yield_trials(n=900, n_farms=60, seed=0):
    """Synthetic stand-in for crop_yield_trials.csv with the same columns and plausible effect sizes."""
    rng = np.random.default_rng(seed)
    farm = rng.integers(0, n_farms, size=n)
    group_effect = rng.normal(0.0, 0.5, size=n_farms)
    frame = {"farm": np.array([f"FA{g:03d}" for g in farm])}
    linear = 6.5 + group_effect[farm]
    for name, coef in zip(FEATURES, [0.4, -0.2, 0.3]):
        frame[name] = rng.normal(size=n)
        linear = linear + coef * frame[name]
    frame["yield_t_ha"] = linear + rng.normal(0.0, 0.7, size=n)
    return pd.DataFrame(frame)


def standardize(X, mean=None, std=None):
    mean = X.mean(axis=0) if mean is None else mean
    std = X.std(axis=0) if std is None else std
    return (X - mean) / np.where(std > 0, std, 1.0), mean, std


def prepare_crop_yield_trials(df, features=FEATURES, test_fraction=0.2, seed=0):
    """Split by row, standardize with training statistics, code farms as integers."""
    df = df.dropna().reset_index(drop=True)
    df["farm"] = df["farm"].astype("category")
    codes = df["farm"].cat.codes.to_numpy()
    rng = np.random.default_rng(seed)
    is_test = rng.random(len(df)) < test_fraction
    X_raw = df[list(features)].to_numpy(dtype=np.float32)
    X_train, mean, std = standardize(X_raw[~is_test])
    X_test, _, _ = standardize(X_raw[is_test], mean, std)
    y = df["yield_t_ha"].to_numpy(dtype=np.float32)
    data = {
        "X": jnp.asarray(X_train),
        "y": jnp.asarray(y[~is_test]),
        "group": jnp.asarray(codes[~is_test]),
        "n_groups": int(codes.max()) + 1,
        "levels": list(df["farm"].cat.categories),
        "features": list(features),
        "X_test": jnp.asarray(X_test),
        "y_test": jnp.asarray(y[is_test]),
        "group_test": jnp.asarray(codes[is_test]),
    }
    return data


def load_crop_yield_trials(path=DATA_PATH, seed=0):
    """Read crop_yield_trials.csv if it is there; otherwise simulate data with the same layout."""
    if path is not None and os.path.exists(path):
        df = pd.read_csv(path)
    else:
        print(f"{path} not found: using simulated data")
        df = simulate_crop_yield_trials(seed=seed)
    return prepare_crop_yield_trials(df)


def complete_pooling(X, group, n_groups, y=None):
    """One regression for every plot: ignores the farms entirely (the baseline)."""
    del group, n_groups
    intercept = numpyro.sample("intercept", D.Normal(6.5, 5.0))
    with numpyro.plate("features", X.shape[1]):
        beta = numpyro.sample("beta", D.Normal(0.0, 1.0))
    sigma = numpyro.sample("sigma", D.HalfNormal(2.0))
    mu = intercept + X @ beta
    with numpyro.plate("plots", X.shape[0]):
        numpyro.sample("yield_t_ha", D.Normal(mu, sigma), obs=y)


def varying_intercept(X, group, n_groups, y=None):
    """Non-centered farm intercepts: a = mu_a + sigma_a * a_raw."""
    mu_a = numpyro.sample("mu_a", D.Normal(6.5, 1.0))
    sigma_a = numpyro.sample("sigma_a", D.HalfNormal(2.0))
    with numpyro.plate("farms", n_groups):
        a_raw = numpyro.sample("a_raw", D.Normal(0.0, 1.0))
    a = numpyro.deterministic("a", mu_a + sigma_a * a_raw)
    with numpyro.plate("features", X.shape[1]):
        beta = numpyro.sample("beta", D.Normal(0.0, 2.0))
    sigma_y = numpyro.sample("sigma_y", D.HalfNormal(1.0))
    mu = a[group] + X @ beta
    with numpyro.plate("plots", X.shape[0]):
        numpyro.sample("yield_t_ha", D.Normal(mu, sigma_y), obs=y)


def bspline_basis(x, n_knots=8, degree=3):
    """B-spline design matrix (Cox-de Boor recursion) with knots at quantiles of x."""
    x = np.asarray(x, dtype=np.float64)
    inner = np.quantile(x, np.linspace(0, 1, n_knots))
    knots = np.concatenate([[inner[0]] * degree, inner, [inner[-1]] * degree])
    basis = np.array([(knots[i] <= x) & (x < knots[i + 1]) for i in range(len(knots) - 1)], dtype=float).T
    basis[x == inner[-1], n_knots + degree - 2] = 1.0
    for d in range(1, degree + 1):
        new = np.zeros((x.shape[0], len(knots) - d - 1))
        for i in range(len(knots) - d - 1):
            left_den = knots[i + d] - knots[i]
            right_den = knots[i + d + 1] - knots[i + 1]
            left = (x - knots[i]) / left_den * basis[:, i] if left_den > 0 else 0.0
            right = (knots[i + d + 1] - x) / right_den * basis[:, i + 1] if right_den > 0 else 0.0
            new[:, i] = left + right
        basis = new
    return jnp.asarray(basis, dtype=jnp.float32)


def pspline(B, X_rest, y=None):
    """P-spline in the first predictor: random-walk prior on the basis weights, plus linear
    terms for the others."""
    alpha = numpyro.sample("alpha", D.Normal(6.5, 2.0))
    tau = numpyro.sample("tau", D.HalfNormal(1.0))
    with numpyro.plate("basis", B.shape[1]):
        delta = numpyro.sample("delta", D.Normal(0.0, 1.0))
    w = numpyro.deterministic("w", jnp.cumsum(tau * delta))
    with numpyro.plate("linear", X_rest.shape[1]):
        beta = numpyro.sample("beta", D.Normal(0.0, 1.0))
    sigma = numpyro.sample("sigma", D.Exponential(1.0))
    f = B @ (w - w.mean())
    with numpyro.plate("plots", B.shape[0]):
        numpyro.deterministic("f", f)
        numpyro.sample("yield_t_ha", D.Normal(alpha + f + X_rest @ beta, sigma), obs=y)


def errors_in_variables(X, group, n_groups, y=None, x_error=0.2):
    """The first predictor is measured with known noise `x_error`: its true value is latent."""
    del group, n_groups
    n = X.shape[0]
    with numpyro.plate("plots", n):
        x_true = numpyro.sample("x_true", D.Normal(0.0, 1.0))
        numpyro.sample("x_measured", D.Normal(x_true, x_error), obs=X[:, 0])
    alpha = numpyro.sample("alpha", D.Normal(6.5, 2.0))
    slope = numpyro.sample("slope", D.Normal(0.0, 1.0))
    with numpyro.plate("other_features", X.shape[1] - 1):
        beta = numpyro.sample("beta", D.Normal(0.0, 1.0))
    sigma = numpyro.sample("sigma", D.HalfNormal(0.5))
    with numpyro.plate("plots", n):
        numpyro.sample("yield_t_ha", D.Normal(alpha + slope * x_true + X[:, 1:] @ beta, sigma), obs=y)


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
    mcmc = run_mcmc(complete_pooling, rng_key, settings, data["X"], data["group"], data["n_groups"], y=data["y"])
    return mcmc.get_samples()


def fit_varying_intercept(data, rng_key, settings):
    mcmc = run_mcmc(varying_intercept, rng_key, settings, data["X"], data["group"], data["n_groups"], y=data["y"])
    return mcmc.get_samples()


def fit_pspline(data, rng_key, settings):
    mcmc = run_mcmc(pspline, rng_key, settings, bspline_basis(data["X"][:, 0]), data["X"][:, 1:], y=data["y"])
    return mcmc.get_samples()


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


ModelSpec = namedtuple("ModelSpec", ["model", "fit", "args", "kwargs", "obs_site", "obs_key"])

MODELS = {
    "complete_pooling": ModelSpec(
        complete_pooling,
        fit_complete_pooling,
        lambda data: (data["X"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site="yield_t_ha",
        obs_key="y",
    ),
    "varying_intercept": ModelSpec(
        varying_intercept,
        fit_varying_intercept,
        lambda data: (data["X"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site="yield_t_ha",
        obs_key="y",
    ),
    "pspline": ModelSpec(
        pspline,
        fit_pspline,
        lambda data: (bspline_basis(data["X"][:, 0]), data["X"][:, 1:]),
        lambda data: dict(y=data["y"]),
        obs_site="yield_t_ha",
        obs_key="y",
    ),
    "errors_in_variables": ModelSpec(
        errors_in_variables,
        fit_errors_in_variables,
        lambda data: (data["X"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site="yield_t_ha",
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
    """Forest plot of the per-farm effects, sorted by posterior mean."""
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
    parser.add_argument("--target-accept", type=float, default=0.9)
    parser.add_argument("--max-tree-depth", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--out", default="results/crop_yield_trials")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main():
    settings = parse_args()
    numpyro.set_platform(settings.device)
    if settings.num_chains > 1:
        numpyro.set_host_device_count(settings.num_chains)
    print(f"jax {jax.__version__}, numpyro {numpyro.__version__}, devices: {jax.devices()}")
    data = load_crop_yield_trials(settings.data, seed=settings.seed)
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
