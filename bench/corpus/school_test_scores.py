"""Student achievement across schools.

Standardized maths scores of pupils nested in schools; predictors are prior attainment, free-
school-meal eligibility and class size. The question is how much of the variation is between
schools once intake is accounted for.

Models:
    complete_pooling: One regression for every pupil: ignores the schools entirely (the baseline).
    hierarchical_intercepts: Non-centered school intercepts: a = mu_a + sigma_a * a_raw.
    varying_slopes: Correlated school intercepts and slopes on the first predictor (LKJ prior on the
        correlation, non-centered effects), fixed effects for the remaining predictors.
    regularized_horseshoe: Regularized horseshoe (Piironen & Vehtari 2017) on all coefficients; no
        school effects.

Usage:
    python school_test_scores.py --models complete_pooling hierarchical_intercepts --num-samples 1000 --plot

Data: data/school_test_scores.csv; when the file is missing a simulated data set with the same
columns is used, so the script always runs end to end.
"""

import argparse
import json
import os
from collections import namedtuple
from datetime import datetime
from pathlib import Path
from time import perf_counter

import jax.numpy as jnp
import jax.random as jr
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from jax.scipy.special import logsumexp

import numpyro as npr
import numpyro.distributions as dist
from numpyro.infer import MCMC, NUTS, Predictive, log_likelihood

DATA_PATH = os.path.join(os.path.dirname(__file__), "data", "school_test_scores.csv")
FEATURES = ['prior_score', 'fsm', 'class_size', 'female']


def simulate_school_test_scores(n=2400, n_schools=120, seed=0):
    """Synthetic stand-in for school_test_scores.csv with the same columns and plausible effect sizes."""
    rng = np.random.default_rng(seed)
    school = rng.integers(0, n_schools, size=n)
    group_effect = rng.normal(0.0, 0.5, size=n_schools)
    frame = {"school": np.array([f"SC{g:03d}" for g in school])}
    linear = 0.0 + group_effect[school]
    for name, coef in zip(FEATURES, [0.6, -0.3, -0.05, 0.1]):
        frame[name] = rng.normal(size=n)
        linear = linear + coef * frame[name]
    frame["math_score"] = linear + rng.normal(0.0, 0.6, size=n)
    return pd.DataFrame(frame)


def standardize(X, mean=None, std=None):
    mean = X.mean(axis=0) if mean is None else mean
    std = X.std(axis=0) if std is None else std
    return (X - mean) / np.where(std > 0, std, 1.0), mean, std


def prepare_school_test_scores(df, features=FEATURES, test_fraction=0.2, seed=0):
    """Split by row, standardize with training statistics, code schools as integers."""
    df = df.dropna().reset_index(drop=True)
    df["school"] = df["school"].astype("category")
    codes = df["school"].cat.codes.to_numpy()
    rng = np.random.default_rng(seed)
    is_test = rng.random(len(df)) < test_fraction
    X_raw = df[list(features)].to_numpy(dtype=np.float32)
    X_train, mean, std = standardize(X_raw[~is_test])
    X_test, _, _ = standardize(X_raw[is_test], mean, std)
    y = df["math_score"].to_numpy(dtype=np.float32)
    data = {
        "X": jnp.asarray(X_train),
        "y": jnp.asarray(y[~is_test]),
        "group": jnp.asarray(codes[~is_test]),
        "n_groups": int(codes.max()) + 1,
        "levels": list(df["school"].cat.categories),
        "features": list(features),
        "X_test": jnp.asarray(X_test),
        "y_test": jnp.asarray(y[is_test]),
        "group_test": jnp.asarray(codes[is_test]),
    }
    return data


def load_school_test_scores(path=DATA_PATH, seed=0):
    """Read school_test_scores.csv if it is there; otherwise simulate data with the same layout."""
    if path is not None and os.path.exists(path):
        df = pd.read_csv(path)
    else:
        print(f"{path} not found: using simulated data")
        df = simulate_school_test_scores(seed=seed)
    return prepare_school_test_scores(df)


def complete_pooling(X, group, n_groups, y=None):
    """One regression for every pupil: ignores the schools entirely (the baseline)."""
    del group, n_groups
    intercept = npr.sample("intercept", dist.Normal(0.0, 2.0))
    with npr.plate("features", X.shape[1]):
        beta = npr.sample("beta", dist.Normal(0.0, 2.5))
    sigma = npr.sample("sigma", dist.Exponential(1.0))
    mu = intercept + X @ beta
    with npr.plate("pupils", X.shape[0]):
        npr.sample("math_score", dist.Normal(mu, sigma), obs=y)


def hierarchical_intercepts(X, group, n_groups, y=None):
    """Non-centered school intercepts: a = mu_a + sigma_a * a_raw."""
    mu_a = npr.sample("mu_a", dist.Normal(0.0, 5.0))
    sigma_a = npr.sample("sigma_a", dist.HalfNormal(0.5))
    with npr.plate("schools", n_groups):
        a_raw = npr.sample("a_raw", dist.Normal(0.0, 1.0))
    a = npr.deterministic("a", mu_a + sigma_a * a_raw)
    with npr.plate("features", X.shape[1]):
        beta = npr.sample("beta", dist.Normal(0.0, 1.0))
    sigma_y = npr.sample("sigma_y", dist.HalfNormal(2.0))
    mu = a[group] + X @ beta
    with npr.plate("pupils", X.shape[0]):
        npr.sample("math_score", dist.Normal(mu, sigma_y), obs=y)


def varying_slopes(X, group, n_groups, y=None):
    """Correlated school intercepts and slopes on the first predictor (LKJ prior on the
    correlation, non-centered effects), fixed effects for the remaining predictors."""
    n_eff = 2
    mu = npr.sample("mu", dist.Normal(0.0, 2.0).expand([n_eff]).to_event(1))
    tau = npr.sample("tau", dist.HalfNormal(1.0).expand([n_eff]).to_event(1))
    L_omega = npr.sample("L_omega", dist.LKJCholesky(n_eff, concentration=1.0))
    L = tau[..., None] * L_omega
    with npr.plate("schools", n_groups):
        z = npr.sample("z", dist.Normal(0.0, 1.0).expand([n_eff]).to_event(1))
    effects = npr.deterministic("effects", mu + z @ L.T)
    with npr.plate("other_features", X.shape[1] - 1):
        beta = npr.sample("beta", dist.Normal(0.0, 1.0))
    sigma = npr.sample("sigma", dist.HalfNormal(1.0))
    mu_y = effects[group, 0] + effects[group, 1] * X[:, 0] + X[:, 1:] @ beta
    with npr.plate("pupils", X.shape[0]):
        npr.sample("math_score", dist.Normal(mu_y, sigma), obs=y)
    npr.deterministic("Omega", L_omega @ L_omega.T)


def regularized_horseshoe(X, group, n_groups, y=None, expected_nonzero=3, slab_scale=1.0, slab_df=4.0):
    """Regularized horseshoe (Piironen & Vehtari 2017) on all coefficients; no school effects."""
    del group, n_groups
    n, p = X.shape
    sigma = npr.sample("sigma", dist.HalfNormal(1.0))
    tau0 = expected_nonzero / max(p - expected_nonzero, 1) * sigma / jnp.sqrt(n)
    tau = tau0 * npr.sample("tau_raw", dist.HalfCauchy(1.0))
    c2 = npr.sample("c2", dist.InverseGamma(0.5 * slab_df, 0.5 * slab_df * slab_scale**2))
    with npr.plate("features", p):
        lam = npr.sample("lambda", dist.HalfCauchy(1.0))
        z = npr.sample("z", dist.Normal(0.0, 1.0))
    lam_tilde = jnp.sqrt(c2) * lam / jnp.sqrt(c2 + tau**2 * lam**2)
    beta = npr.deterministic("beta", z * lam_tilde * tau)
    intercept = npr.sample("intercept", dist.Normal(0.0, 2.5))
    with npr.plate("pupils", n):
        npr.sample("math_score", dist.Normal(intercept + X @ beta, sigma), obs=y)


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
    """NUTS fit of `varying_slopes`; returns the posterior draws, deterministic sites included."""
    mcmc = run_mcmc(
        varying_slopes,
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


ModelSpec = namedtuple("ModelSpec", ["model", "fit", "args", "kwargs", "obs_site", "obs_key"])

MODELS = {
    "complete_pooling": ModelSpec(
        complete_pooling,
        fit_complete_pooling,
        lambda data: (data["X"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site="math_score",
        obs_key="y",
    ),
    "hierarchical_intercepts": ModelSpec(
        hierarchical_intercepts,
        fit_hierarchical_intercepts,
        lambda data: (data["X"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site="math_score",
        obs_key="y",
    ),
    "varying_slopes": ModelSpec(
        varying_slopes,
        fit_varying_slopes,
        lambda data: (data["X"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site="math_score",
        obs_key="y",
    ),
    "regularized_horseshoe": ModelSpec(
        regularized_horseshoe,
        fit_regularized_horseshoe,
        lambda data: (data["X"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site="math_score",
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
    """Posterior predictive checks against the observed data, where the model has an observed site."""
    metrics = {"model": name}
    print(f"== {name}")
    posterior_table(samples)
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
    """Forest plot of the per-school effects, sorted by posterior mean."""
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
    parser.add_argument("--num-warmup", type=int, default=1500)
    parser.add_argument("--num-chains", type=int, default=2)
    parser.add_argument("--target-accept", type=float, default=0.9)
    parser.add_argument("--max-tree-depth", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--out", default="results/school_test_scores")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main(settings):
    npr.set_platform(settings.device)
    npr.set_host_device_count(settings.num_chains)
    data = load_school_test_scores(settings.data, seed=settings.seed)
    out_dir = Path(settings.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng_key = jr.PRNGKey(settings.seed)
    results = {}
    for name in settings.models:
        spec = MODELS[name]
        rng_key, key_fit, key_eval = jr.split(rng_key, 3)
        samples = spec.fit(data, key_fit, settings)
        results[name] = evaluate(name, spec, samples, data, key_eval)
        if settings.plot:
            for site in ("a", "u", "eps", "effects"):
                plot_group_effects(samples, data.get("levels", []), site, out_dir)
            plot_trace(samples, out_dir / f"{name}_trace.png")
    save_results(results, out_dir)


if __name__ == "__main__":
    main(parse_args())
