"""Thirty-day readmission after discharge.

Binary readmission within 30 days for discharges from many hospitals. Hospital-level intercepts
are what a hospital-comparison report needs.

Models:
    logistic_regression: Pooled logistic regression; the baseline every other model must beat.
    partial_pooling: Non-centered hospital intercepts: a = mu_a + sigma_a * a_raw.
    regularized_horseshoe: Regularized horseshoe (Piironen & Vehtari 2017) on all coefficients; no
        hospital effects.

Usage:
    python hospital_readmission.py --models logistic_regression partial_pooling --num-samples 1000 --plot

Data: data/hospital_readmission.csv; when the file is missing a simulated data set with the same
columns is used, so the script always runs end to end.
"""

import argparse
import json
import os
from collections import namedtuple
from pathlib import Path

import arviz as az
import jax.numpy as jnp
import jax.random as jr
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from jax.scipy.special import logsumexp

import numpyro as npr
import numpyro.distributions as dist
from numpyro.diagnostics import hpdi, summary
from numpyro.infer import MCMC, NUTS, Predictive, SVI, Trace_ELBO, init_to_median, log_likelihood
from numpyro.infer.autoguide import AutoNormal
from numpyro.optim import Adam

DATA_PATH = os.environ.get("HOSPITAL_READMISSION_DATA", "data/hospital_readmission.csv")
FEATURES = ['age', 'n_prior_admissions', 'length_of_stay', 'comorbidity_index']


def simulate_hospital_readmission(n=4000, n_hospitals=80, rho=0.3, seed=0):
    """Stand-in for hospital_readmission.csv: correlated predictors (equicorrelation rho) and hospitals of
    very different sizes, as in the real data."""
    rng = np.random.default_rng(seed)
    p = len(FEATURES)
    cov = np.full((p, p), rho) + (1.0 - rho) * np.eye(p)
    X = rng.multivariate_normal(np.zeros(p), cov, size=n)
    sizes = rng.lognormal(0.0, 1.0, size=n_hospitals)
    hospital = rng.choice(n_hospitals, size=n, p=sizes / sizes.sum())
    df = pd.DataFrame(X, columns=FEATURES)
    df.insert(0, "hospital", [f"HO{g:03d}" for g in hospital])
    effect = rng.normal(0.0, 0.5, size=n_hospitals)
    linear = -1.7 + effect[hospital] + X @ np.asarray([0.2, 0.6, 0.3, 0.4])
    df["readmitted"] = rng.binomial(1, 1.0 / (1.0 + np.exp(-linear)))
    return df


def prepare_hospital_readmission(df, features=FEATURES):
    """Standardize the predictors and integer-code the hospital column."""
    df = df.dropna(subset=list(features) + ["readmitted"]).reset_index(drop=True)
    codes, levels = pd.factorize(df["hospital"], sort=True)
    X = df[list(features)].to_numpy(dtype=np.float32)
    X_mean, X_std = X.mean(axis=0), X.std(axis=0) + 1e-8
    return {
        "X": jnp.asarray((X - X_mean) / X_std),
        "y": jnp.asarray(df["readmitted"].to_numpy(dtype=np.int32)),
        "group": jnp.asarray(codes),
        "n_groups": len(levels),
        "levels": list(levels),
        "features": list(features),
        "X_mean": X_mean,
        "X_std": X_std,
    }


def load_hospital_readmission(path=DATA_PATH, seed=0):
    """Read hospital_readmission.csv if it is there; otherwise simulate data with the same layout."""
    if path is not None and os.path.exists(path):
        df = pd.read_csv(path)
    else:
        print(f"{path} not found: using simulated data")
        df = simulate_hospital_readmission(seed=seed)
    return prepare_hospital_readmission(df)


def logistic_regression(X, group, n_groups, y=None):
    """Pooled logistic regression; the baseline every other model must beat."""
    del group, n_groups
    intercept = npr.sample("intercept", dist.Normal(0.0, 1.5))
    beta = npr.sample("beta", dist.Normal(jnp.zeros(X.shape[1]), 1.0).to_event(1))
    logits = npr.deterministic("logits", intercept + X @ beta)
    with npr.plate("discharges", X.shape[0]):
        npr.sample("readmitted", dist.Bernoulli(logits=logits), obs=y)


def partial_pooling(X, group, n_groups, y=None):
    """Non-centered hospital intercepts: a = mu_a + sigma_a * a_raw."""
    mu_a = npr.sample("mu_a", dist.Normal(0.0, 5.0))
    sigma_a = npr.sample("sigma_a", dist.HalfNormal(2.0))
    with npr.plate("hospitals", n_groups):
        a_raw = npr.sample("a_raw", dist.Normal(0.0, 1.0))
    a = npr.deterministic("a", mu_a + sigma_a * a_raw)
    with npr.plate("features", X.shape[1]):
        beta = npr.sample("beta", dist.Normal(0.0, 2.0))
    mu = a[group] + X @ beta
    with npr.plate("discharges", X.shape[0]):
        npr.sample("readmitted", dist.Bernoulli(logits=mu), obs=y)


def regularized_horseshoe(X, group, n_groups, y=None, expected_nonzero=3, slab_scale=2.0, slab_df=4.0):
    """Regularized horseshoe (Piironen & Vehtari 2017) on all coefficients; no hospital effects."""
    del group, n_groups
    n, p = X.shape
    sigma = 2.0  # pseudo-variance for the logistic model (Piironen & Vehtari 2017)
    tau0 = expected_nonzero / max(p - expected_nonzero, 1) * sigma / jnp.sqrt(n)
    tau = tau0 * npr.sample("tau_raw", dist.HalfCauchy(1.0))
    c2 = npr.sample("c2", dist.InverseGamma(0.5 * slab_df, 0.5 * slab_df * slab_scale**2))
    with npr.plate("features", p):
        lam = npr.sample("lambda", dist.HalfCauchy(1.0))
        z = npr.sample("z", dist.Normal(0.0, 1.0))
    lam_tilde = jnp.sqrt(c2) * lam / jnp.sqrt(c2 + tau**2 * lam**2)
    beta = npr.deterministic("beta", z * lam_tilde * tau)
    intercept = npr.sample("intercept", dist.Normal(0.0, 5.0))
    with npr.plate("discharges", n):
        npr.sample("readmitted", dist.Bernoulli(logits=intercept + X @ beta), obs=y)


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


def run_svi(model, rng_key, settings, *model_args, guide_class=AutoNormal, **model_kwargs):
    """Fit an autoguide and return posterior draws in the same format as MCMC."""
    guide = guide_class(model)
    svi = SVI(model, guide, Adam(settings.learning_rate), Trace_ELBO(num_particles=settings.num_particles))
    rng_key, rng_key_post = jr.split(rng_key)
    result = svi.run(rng_key, settings.num_steps, *model_args, progress_bar=False, **model_kwargs)
    samples = guide.sample_posterior(
        rng_key_post, result.params, *model_args, sample_shape=(settings.num_samples,), **model_kwargs
    )
    return samples, result.losses


def fit_logistic_regression(data, rng_key, settings):
    samples, losses = run_svi(logistic_regression, rng_key, settings, data["X"], data["group"], data["n_groups"], y=data["y"])
    print(f"logistic_regression: final loss {float(losses[-1]):.1f} after {len(losses)} steps")
    return samples


def fit_partial_pooling(data, rng_key, settings):
    """NUTS fit of `partial_pooling`; returns the posterior draws, deterministic sites included."""
    mcmc = run_mcmc(
        partial_pooling,
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
    "logistic_regression": ModelSpec(
        logistic_regression,
        fit_logistic_regression,
        lambda data: (data["X"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site="readmitted",
        obs_key="y",
    ),
    "partial_pooling": ModelSpec(
        partial_pooling,
        fit_partial_pooling,
        lambda data: (data["X"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site="readmitted",
        obs_key="y",
    ),
    "regularized_horseshoe": ModelSpec(
        regularized_horseshoe,
        fit_regularized_horseshoe,
        lambda data: (data["X"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site="readmitted",
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
    parser.add_argument("--target-accept", type=float, default=0.9)
    parser.add_argument("--max-tree-depth", type=int, default=10)
    parser.add_argument("--num-steps", type=int, default=10000)
    parser.add_argument("--learning-rate", type=float, default=0.005)
    parser.add_argument("--num-particles", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--out", default="results/hospital_readmission")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main(settings):
    npr.set_platform(settings.device)
    npr.set_host_device_count(settings.num_chains)
    data = load_hospital_readmission(settings.data, seed=settings.seed)
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
