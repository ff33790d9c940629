"""Cell populations in flow cytometry.

Two fluorescence channels and forward/side scatter per cell (log scale); populations are mixture
components, and the enumerated version gives per-cell responsibilities.

Models:
    gmm_diagonal: K Gaussian components with diagonal covariance; labels marginalized.
    gmm_enumerated: Explicit assignments z_n, enumerated in parallel by TraceEnum_ELBO (needs
        funsor).
    dirichlet_process_mixture: Truncated DP mixture; the concentration alpha is learned.

Usage:
    python cell_populations.py --models gmm_diagonal gmm_enumerated --num-samples 1000 --plot

Data: data/cytometry.csv; when the file is missing a simulated data set with the same
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
import jax.numpy as jnp
import jax.random as jr
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import numpyro as npr
import numpyro.distributions as dist
from numpyro import handlers
from numpyro.contrib.funsor import config_enumerate
from numpyro.diagnostics import summary
from numpyro.infer import MCMC, NUTS, Predictive, SVI, TraceEnum_ELBO, Trace_ELBO
from numpyro.infer.autoguide import AutoDelta, AutoLowRankMultivariateNormal
from numpyro.optim import Adam, ClippedAdam

DATA_PATH = os.path.join(os.path.dirname(__file__), "data", "cytometry.csv")
FEATURES = ['fsc', 'ssc', 'cd4', 'cd8']


def simulate_cell_populations(n=3000, n_clusters=5, seed=0):
    """Clusters of cells in the space of scatter and two fluorescence markers."""
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


def prepare_cell_populations(df, features=FEATURES):
    X = df[list(features)].to_numpy(dtype=np.float32)
    center, scale = np.median(X, axis=0), X.std(axis=0)
    return {
        "x": jnp.asarray((X - center) / scale),
        "labels": df["true_cluster"].to_numpy() if "true_cluster" in df else None,
        "features": list(features),
    }


def load_cell_populations(path=DATA_PATH, seed=0):
    """Read cytometry.csv if it is there; otherwise simulate data with the same layout."""
    if path is not None and os.path.exists(path):
        df = pd.read_csv(path)
    else:
        print(f"{path} not found: using simulated data")
        df = simulate_cell_populations(seed=seed)
    return prepare_cell_populations(df)


def gmm_diagonal(x, K=5):
    """K Gaussian components with diagonal covariance; labels marginalized."""
    N, D = x.shape
    weights = npr.sample("weights", dist.Dirichlet(jnp.full(K, 1.0)))
    with npr.plate("components", K, dim=-2), npr.plate("dims", D, dim=-1):
        locs = npr.sample("locs", dist.Normal(0.0, 3.0))
        scales = npr.sample("scales", dist.LogNormal(0.0, 0.5))
    components = dist.Normal(locs, scales).to_event(1)
    mixture = dist.MixtureSameFamily(dist.Categorical(probs=weights), components)
    with npr.plate("cells", N):
        npr.sample("x", mixture, obs=x)


@config_enumerate
def gmm_enumerated(x, K=5):
    """Explicit assignments z_n, enumerated in parallel by TraceEnum_ELBO (needs funsor)."""
    N, D = x.shape
    weights = npr.sample("weights", dist.Dirichlet(0.5 * jnp.ones(K)))
    with npr.plate("components", K):
        locs = npr.sample("locs", dist.Normal(0.0, 3.0).expand([D]).to_event(1))
        scale = npr.sample("scale", dist.LogNormal(0.0, 1.0))
    with npr.plate("cells", N):
        z = npr.sample("z", dist.Categorical(weights))
        npr.sample("x", dist.Normal(locs[z], scale[z][..., None]).to_event(1), obs=x)


def fit_gmm_enumerated_map(data, rng_key, settings):
    """MAP for the global parameters, then posterior responsibilities for every cell."""
    guide = AutoDelta(handlers.block(gmm_enumerated, hide=["z"]))
    svi = SVI(gmm_enumerated, guide, Adam(settings.learning_rate), TraceEnum_ELBO(max_plate_nesting=1))
    result = svi.run(rng_key, settings.num_steps, data["x"], progress_bar=False)
    # A single "draw" (leading axis of size 1) so the evaluation code can treat it like samples.
    return {name: value[None] for name, value in guide.median(result.params).items()}


def mix_weights(beta):
    """Stick-breaking: w_k = beta_k * prod_{j<k} (1 - beta_j)."""
    beta1m_cumprod = jnp.cumprod(1.0 - beta, axis=-1)
    return jnp.pad(beta, (0, 1), constant_values=1.0) * jnp.pad(beta1m_cumprod, (1, 0), constant_values=1.0)


def dirichlet_process_mixture(x, truncation=10):
    """Truncated DP mixture; the concentration alpha is learned."""
    N, D = x.shape
    alpha = npr.sample("alpha", dist.Gamma(1.0, 1.0))
    with npr.plate("sticks", truncation - 1):
        beta = npr.sample("beta", dist.Beta(1.0, alpha))
    weights = npr.deterministic("weights", mix_weights(beta))
    with npr.plate("components", truncation):
        locs = npr.sample("locs", dist.Normal(0.0, 3.0).expand([D]).to_event(1))
        scale = npr.sample("scale", dist.LogNormal(-0.5, 0.5))
    components = dist.Normal(locs, scale[:, None]).to_event(1)
    with npr.plate("cells", N):
        npr.sample("x", dist.MixtureSameFamily(dist.Categorical(probs=weights), components), obs=x)


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


def run_svi(model, rng_key, settings, *model_args, guide_class=AutoLowRankMultivariateNormal, **model_kwargs):
    """Fit an autoguide and return posterior draws in the same format as MCMC."""
    guide = guide_class(model)
    svi = SVI(model, guide, ClippedAdam(settings.learning_rate), Trace_ELBO(num_particles=settings.num_particles))
    rng_key, rng_key_post = jr.split(rng_key)
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
    "gmm_enumerated": ModelSpec(
        gmm_enumerated,
        fit_gmm_enumerated_map,
        lambda data: (data["x"],),
        lambda data: dict(),
        obs_site=None,
        obs_key=None,
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
    """NumPyro's own summary (mean, sd, interval, n_eff, r_hat) for the small sites."""
    if next(iter(samples.values())).shape[0] < 4:  # a point estimate (MAP), not draws
        for name, value in samples.items():
            print(f"{name:>16}: {jnp.round(value[0], 3)}")
        return {}
    chosen = {
        name: value for name, value in samples.items()
        if (sites is None or name in sites) and jnp.size(value[0]) <= 10
    }
    stats = summary(chosen, prob=prob, group_by_chain=False)
    for name, s in stats.items():
        mean = jnp.atleast_1d(s["mean"])
        n_eff = jnp.atleast_1d(s["n_eff"])
        print(f"{name:>16}: mean {jnp.round(mean, 3)}  min n_eff {float(n_eff.min()):.0f}")
    return stats


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
    parser.add_argument("--num-chains", type=int, default=4)
    parser.add_argument("--target-accept", type=float, default=0.9)
    parser.add_argument("--max-tree-depth", type=int, default=10)
    parser.add_argument("--num-steps", type=int, default=5000)
    parser.add_argument("--learning-rate", type=float, default=0.005)
    parser.add_argument("--num-particles", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--out", default="results/cell_populations")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main(settings):
    npr.set_platform(settings.device)
    npr.set_host_device_count(settings.num_chains)
    data = load_cell_populations(settings.data, seed=settings.seed)
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
            if "locs" in samples:
                plot_clusters(data["x"], samples, out_dir / f"{name}_clusters.png")
            plot_trace(samples, out_dir / f"{name}_trace.png")
    save_results(results, out_dir)


if __name__ == "__main__":
    main(parse_args())
