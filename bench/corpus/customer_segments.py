"""Customer segmentation from spending patterns.

Standardized recency, frequency and monetary value per customer; how many segments, and how
separated? Finite Gaussian mixtures and a truncated Dirichlet process.

Models:
    gmm_diagonal: K Gaussian components with diagonal covariance; labels marginalized.
    gmm_full_covariance: Full covariance per component through an LKJ Cholesky factor and per-
        dimension scales.
    dirichlet_process_mixture: Truncated DP mixture; the concentration alpha is learned.

Usage:
    python customer_segments.py --models gmm_diagonal gmm_full_covariance --num-samples 1000 --plot

Data: data/rfm.csv; when the file is missing a simulated data set with the same
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
from numpyro.diagnostics import hpdi, summary
from numpyro.infer import MCMC, NUTS, Predictive, SVI, Trace_ELBO, init_to_median, log_likelihood
from numpyro.infer.autoguide import AutoLowRankMultivariateNormal
from numpyro.optim import ClippedAdam

DATA_PATH = os.environ.get("CUSTOMER_SEGMENTS_DATA", "data/rfm.csv")
FEATURES = ['recency', 'frequency', 'monetary', 'tenure']


def simulate_customer_segments(n=1500, n_clusters=4, seed=0):
    """Clusters of customers in the space of recency, frequency, monetary value and tenure."""
    rng = np.random.default_rng(seed)
    dim = len(FEATURES)
    centers = rng.normal(0.0, 3.0, size=(n_clusters, dim))
    weights = rng.dirichlet(np.full(n_clusters, 3.0))
    z = rng.choice(n_clusters, size=n, p=weights)
    spread = rng.uniform(0.5, 1.2, size=(n_clusters, dim))
    X = centers[z] + spread[z] * rng.normal(size=(n, dim))
    df = pd.DataFrame(X, columns=FEATURES)
    df["true_cluster"] = z
    return df


def prepare_customer_segments(df, features=FEATURES):
    X = df[list(features)].to_numpy(dtype=np.float32)
    center, scale = np.median(X, axis=0), X.std(axis=0)
    return {
        "x": jnp.asarray((X - center) / scale),
        "labels": df["true_cluster"].to_numpy() if "true_cluster" in df else None,
        "features": list(features),
    }


def load_customer_segments(path=DATA_PATH, seed=0):
    path = Path(path)
    if path.suffix == ".parquet" and path.exists():
        df = pd.read_parquet(path)
    elif path.exists():
        df = pd.read_csv(path, low_memory=False)
    else:
        df = simulate_customer_segments(seed=seed)
    df.columns = [c.strip().lower().replace(" ", "_") for c in df.columns]
    return prepare_customer_segments(df)


def gmm_diagonal(x, K=4):
    """K Gaussian components with diagonal covariance; labels marginalized."""
    N, D = x.shape
    weights = numpyro.sample("weights", dist.Dirichlet(jnp.full(K, 2.0)))
    with numpyro.plate("components", K, dim=-2), numpyro.plate("dims", D, dim=-1):
        locs = numpyro.sample("locs", dist.Normal(0.0, 3.0))
        scales = numpyro.sample("scales", dist.LogNormal(0.0, 0.5))
    components = dist.Normal(locs, scales).to_event(1)
    mixture = dist.MixtureSameFamily(dist.Categorical(probs=weights), components)
    with numpyro.plate("customers", N):
        numpyro.sample("x", mixture, obs=x)


def gmm_full_covariance(x, K=4):
    """Full covariance per component through an LKJ Cholesky factor and per-dimension scales."""
    N, D = x.shape
    weights = numpyro.sample("weights", dist.Dirichlet(jnp.ones(K)))
    with numpyro.plate("components", K):
        locs = numpyro.sample("locs", dist.Normal(0.0, 3.0).expand([D]).to_event(1))
        scales = numpyro.sample("scales", dist.HalfNormal(1.0).expand([D]).to_event(1))
        L_omega = numpyro.sample("L_omega", dist.LKJCholesky(D, concentration=2.0))
    scale_tril = scales[..., None] * L_omega
    mixture = dist.MixtureSameFamily(
        dist.Categorical(probs=weights), dist.MultivariateNormal(locs, scale_tril=scale_tril)
    )
    with numpyro.plate("customers", N):
        numpyro.sample("x", mixture, obs=x)


def mix_weights(beta):
    """Stick-breaking: w_k = beta_k * prod_{j<k} (1 - beta_j)."""
    beta1m_cumprod = jnp.cumprod(1.0 - beta, axis=-1)
    return jnp.pad(beta, (0, 1), constant_values=1.0) * jnp.pad(beta1m_cumprod, (1, 0), constant_values=1.0)


def dirichlet_process_mixture(x, truncation=20):
    """Truncated DP mixture; the concentration alpha is learned."""
    N, D = x.shape
    alpha = numpyro.sample("alpha", dist.Gamma(1.0, 1.0))
    with numpyro.plate("sticks", truncation - 1):
        beta = numpyro.sample("beta", dist.Beta(1.0, alpha))
    weights = numpyro.deterministic("weights", mix_weights(beta))
    with numpyro.plate("components", truncation):
        locs = numpyro.sample("locs", dist.Normal(0.0, 3.0).expand([D]).to_event(1))
        scale = numpyro.sample("scale", dist.LogNormal(-0.5, 0.5))
    components = dist.Normal(locs, scale[:, None]).to_event(1)
    with numpyro.plate("customers", N):
        numpyro.sample("x", dist.MixtureSameFamily(dist.Categorical(probs=weights), components), obs=x)


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


def run_svi(model, rng_key, settings, *model_args, guide_class=AutoLowRankMultivariateNormal, **model_kwargs):
    """Fit an autoguide and return posterior draws in the same format as MCMC."""
    guide = guide_class(model)
    svi = SVI(model, guide, ClippedAdam(settings.learning_rate), Trace_ELBO(num_particles=settings.num_particles))
    rng_key, rng_key_post = random.split(rng_key)
    result = svi.run(rng_key, settings.num_steps, *model_args, progress_bar=False, **model_kwargs)
    samples = guide.sample_posterior(
        rng_key_post, result.params, *model_args, sample_shape=(settings.num_samples,), **model_kwargs
    )
    return samples, result.losses


def fit_gmm_diagonal(data, rng_key, settings):
    """NUTS fit of `gmm_diagonal`; returns the posterior draws, deterministic sites included."""
    mcmc = run_mcmc(
        gmm_diagonal,
        rng_key,
        settings,
        data["x"],
    )
    return mcmc.get_samples()


def fit_gmm_full_covariance(data, rng_key, settings):
    mcmc = run_mcmc(gmm_full_covariance, rng_key, settings, data["x"])
    return mcmc.get_samples()


def fit_dirichlet_process_mixture(data, rng_key, settings):
    samples, losses = run_svi(dirichlet_process_mixture, rng_key, settings, data["x"])
    print(f"dirichlet_process_mixture: final loss {float(losses[-1]):.1f} after {len(losses)} steps")
    return samples


ModelSpec = namedtuple("ModelSpec", ["model", "fit", "args", "kwargs", "obs_site", "obs_key"])

MODELS = {
    "gmm_diagonal": ModelSpec(
        gmm_diagonal,
        fit_gmm_diagonal,
        lambda data: (data["x"],),
        lambda data: dict(),
        obs_site="x",
        obs_key="x",
    ),
    "gmm_full_covariance": ModelSpec(
        gmm_full_covariance,
        fit_gmm_full_covariance,
        lambda data: (data["x"],),
        lambda data: dict(),
        obs_site="x",
        obs_key="x",
    ),
    "dirichlet_process_mixture": ModelSpec(
        dirichlet_process_mixture,
        fit_dirichlet_process_mixture,
        lambda data: (data["x"],),
        lambda data: dict(),
        obs_site="x",
        obs_key="x",
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


def plot_clusters(x, samples, out_path):
    """First two dimensions coloured by the most probable component under the posterior mean."""
    x = np.asarray(x)
    locs = np.asarray(samples["locs"]).mean(0)
    d2 = ((x[:, None, :2] - locs[None, :, :2]) ** 2).sum(-1)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(x[:, 0], x[:, 1], c=d2.argmin(1), s=4, cmap="tab10")
    ax.scatter(locs[:, 0], locs[:, 1], marker="x", s=80, color="k")
    fig.savefig(out_path, dpi=150, bbox_inches="tight")
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
    parser.add_argument("--num-warmup", type=int, default=1000)
    parser.add_argument("--num-chains", type=int, default=2)
    parser.add_argument("--target-accept", type=float, default=0.95)
    parser.add_argument("--max-tree-depth", type=int, default=10)
    parser.add_argument("--num-steps", type=int, default=20000)
    parser.add_argument("--learning-rate", type=float, default=0.02)
    parser.add_argument("--num-particles", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--out", default="results/customer_segments")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main():
    settings = parse_args()
    numpyro.set_platform(settings.device)
    if settings.num_chains > 1:
        numpyro.set_host_device_count(settings.num_chains)
    print(f"jax {jax.__version__}, numpyro {numpyro.__version__}, devices: {jax.devices()}")
    data = load_customer_segments(settings.data, seed=settings.seed)
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
            if "locs" in samples:
                plot_clusters(data["x"], samples, out_dir / f"{name}_clusters.png")
            plot_trace(samples, out_dir / f"{name}_trace.png")
    save_results(results, out_dir)
    return results


if __name__ == "__main__":
    main()
