"""Conversion rates for many page variants.

Conversions out of visitors for each variant across several experiments, with design features of
the variant as predictors; partial pooling keeps small variants honest.

Models:
    beta_binomial_regression: Beta-binomial: mean from a logistic regression, concentration kappa
        shared.
    logit_normal_binomial: Binomial with a non-centered random effect per variant for
        overdispersion.

Usage:
    python ab_test_conversions.py --models beta_binomial_regression logit_normal_binomial --num-samples 1000 --plot

Data: data/ab_test_conversions.csv; when the file is missing a simulated data set with the same
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
from jax.scipy.special import logsumexp

import numpyro
from numpyro import distributions as D
from numpyro.diagnostics import hpdi
from numpyro.infer import MCMC, NUTS, Predictive, log_likelihood

DATA_PATH = os.path.join(os.path.dirname(__file__), "data", "ab_test_conversions.csv")
FEATURES = ['hero_image', 'price_shown', 'cta_length', 'mobile_share']


def simulate_ab_test_conversions(n_variants=240, seed=0):
    """Aggregated counts: conversions out of visitors per variant, with extra-binomial noise."""
    rng = np.random.default_rng(seed)
    trials = rng.integers(20, 400, size=n_variants)
    frame = {"variant": [f"VA{i:03d}" for i in range(n_variants)], "visitors": trials}
    linear = np.full(n_variants, -2.5)
    for name, coef in zip(FEATURES, [0.1, -0.2, 0.05, -0.1]):
        frame[name] = rng.normal(size=n_variants)
        linear += coef * frame[name]
    p = 1.0 / (1.0 + np.exp(-(linear + rng.normal(0.0, 0.3, size=n_variants))))
    frame["conversions"] = rng.binomial(trials, p)
    return pd.DataFrame(frame)


def prepare_ab_test_conversions(df, features=FEATURES):
    df = df[df["visitors"] > 0].reset_index(drop=True)
    X = df[list(features)].to_numpy(dtype=np.float32)
    return {
        "X": jnp.asarray((X - X.mean(0)) / X.std(0)),
        "trials": jnp.asarray(df["visitors"].to_numpy(dtype=np.int32)),
        "successes": jnp.asarray(df["conversions"].to_numpy(dtype=np.int32)),
        "n_groups": len(df),
        "levels": df["variant"].tolist(),
        "features": list(features),
    }


def load_ab_test_conversions(path=DATA_PATH, seed=0):
    """Read ab_test_conversions.csv if it is there; otherwise simulate data with the same layout."""
    if path is not None and os.path.exists(path):
        df = pd.read_csv(path)
    else:
        print(f"{path} not found: using simulated data")
        df = simulate_ab_test_conversions(seed=seed)
    return prepare_ab_test_conversions(df)


def beta_binomial_regression(X, trials, n_groups, successes=None):
    """Beta-binomial: mean from a logistic regression, concentration kappa shared."""
    alpha = numpyro.sample("alpha", D.Normal(-2.5, 1.5))
    with numpyro.plate("features", X.shape[1]):
        beta = numpyro.sample("beta", D.Normal(0.0, 1.0))
    kappa = numpyro.sample("kappa", D.Pareto(1.0, 1.5))
    mean = jax.nn.sigmoid(alpha + X @ beta)
    with numpyro.plate("variants", n_groups):
        numpyro.sample(
            "successes",
            D.BetaBinomial(mean * kappa, (1.0 - mean) * kappa, total_count=trials),
            obs=successes,
        )


def logit_normal_binomial(X, trials, n_groups, successes=None):
    """Binomial with a non-centered random effect per variant for overdispersion."""
    alpha = numpyro.sample("alpha", D.Normal(-2.5, 1.5))
    with numpyro.plate("features", X.shape[1]):
        beta = numpyro.sample("beta", D.Normal(0.0, 1.0))
    sigma = numpyro.sample("sigma", D.HalfNormal(1.0))
    with numpyro.plate("variants", n_groups):
        eps = numpyro.sample("eps", D.Normal(0.0, 1.0))
        logits = alpha + X @ beta + sigma * eps
        numpyro.sample("successes", D.Binomial(trials, logits=logits), obs=successes)
        numpyro.deterministic("p", jax.nn.sigmoid(logits))


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


def fit_beta_binomial_regression(data, rng_key, settings):
    mcmc = run_mcmc(beta_binomial_regression, rng_key, settings, data["X"], data["trials"], data["n_groups"], successes=data["successes"])
    return mcmc.get_samples()


def fit_logit_normal_binomial(data, rng_key, settings):
    """NUTS fit of `logit_normal_binomial`; returns the posterior draws, deterministic sites included."""
    mcmc = run_mcmc(
        logit_normal_binomial,
        rng_key,
        settings,
        data["X"], data["trials"], data["n_groups"],
        successes=data["successes"],
    )
    return mcmc.get_samples()


ModelSpec = namedtuple("ModelSpec", ["model", "fit", "args", "kwargs", "obs_site", "obs_key"])

MODELS = {
    "beta_binomial_regression": ModelSpec(
        beta_binomial_regression,
        fit_beta_binomial_regression,
        lambda data: (data["X"], data["trials"], data["n_groups"]),
        lambda data: dict(successes=data["successes"]),
        obs_site="successes",
        obs_key="successes",
    ),
    "logit_normal_binomial": ModelSpec(
        logit_normal_binomial,
        fit_logit_normal_binomial,
        lambda data: (data["X"], data["trials"], data["n_groups"]),
        lambda data: dict(successes=data["successes"]),
        obs_site="successes",
        obs_key="successes",
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
    """Forest plot of the per-variant effects, sorted by posterior mean."""
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
    parser.add_argument("--num-warmup", type=int, default=1000)
    parser.add_argument("--num-chains", type=int, default=1)
    parser.add_argument("--target-accept", type=float, default=0.9)
    parser.add_argument("--max-tree-depth", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--out", default="results/ab_test_conversions")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main():
    settings = parse_args()
    numpyro.set_platform(settings.device)
    if settings.num_chains > 1:
        numpyro.set_host_device_count(settings.num_chains)
    print(f"jax {jax.__version__}, numpyro {numpyro.__version__}, devices: {jax.devices()}")
    data = load_ab_test_conversions(settings.data, seed=settings.seed)
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
