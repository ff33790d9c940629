"""Occupancy and abundance of an amphibian species.

Repeated visits to ponds: detection/non-detection histories for occupancy, and counts for an
N-mixture abundance model; habitat quality and survey effort as covariates.

Models:
    site_occupancy: MacKenzie et al.
    n_mixture: Royle (2004) N-mixture: abundance N_i ~ Poisson(lambda_i), counts ~ Binomial(N_i, p),
        with N_i summed out up to n_max.

Usage:
    python species_occupancy.py --models site_occupancy n_mixture --num-samples 1000 --plot

Data: data/pond_surveys.csv; when the file is missing a simulated data set with the same
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
from jax import random
from jax.scipy.special import logsumexp

import numpyro as npr
import numpyro.distributions as D
from numpyro.diagnostics import summary
from numpyro.infer import MCMC, NUTS, Predictive, log_likelihood

DATA_PATH = os.path.join(os.path.dirname(__file__), "data", "pond_surveys.csv")


def simulate_species_occupancy(n_sites=200, n_visits=4, seed=0):
    """Detection histories: a species present at a site is seen on each visit with prob p."""
    rng = np.random.default_rng(seed)
    habitat = rng.normal(size=n_sites)
    effort = rng.normal(size=(n_sites, n_visits))
    psi = 1.0 / (1.0 + np.exp(-(0.2 + 1.0 * habitat)))
    occupied = rng.random(n_sites) < psi
    p = 1.0 / (1.0 + np.exp(-(-0.5 + 0.6 * effort)))
    detections = (rng.random((n_sites, n_visits)) < p) & occupied[:, None]
    abundance = rng.poisson(np.exp(1.0 + 0.5 * habitat))
    counts = rng.binomial(abundance[:, None], 0.4, size=(n_sites, n_visits))
    df = pd.DataFrame(detections.astype(int), columns=[f"visit_{v + 1}" for v in range(n_visits)])
    df["habitat"] = habitat
    for v in range(n_visits):
        df[f"effort_{v + 1}"] = effort[:, v]
        df[f"count_{v + 1}"] = counts[:, v]
    return df


def prepare_species_occupancy(df):
    visit_cols = sorted(c for c in df.columns if c.startswith("visit_"))
    effort_cols = sorted(c for c in df.columns if c.startswith("effort_"))
    count_cols = sorted(c for c in df.columns if c.startswith("count_"))
    return {
        "detections": jnp.asarray(df[visit_cols].to_numpy(dtype=np.int32)),
        "habitat": jnp.asarray(df["habitat"].to_numpy(dtype=np.float32)),
        "effort": jnp.asarray(df[effort_cols].to_numpy(dtype=np.float32)),
        "counts": jnp.asarray(df[count_cols].to_numpy(dtype=np.int32)),
        "n_sites": len(df),
        "n_visits": len(visit_cols),
    }


def load_species_occupancy(path=DATA_PATH, seed=0):
    path = Path(path)
    if path.suffix == ".parquet" and path.exists():
        df = pd.read_parquet(path)
    elif path.exists():
        df = pd.read_csv(path, low_memory=False)
    else:
        df = simulate_species_occupancy(seed=seed)
    df.columns = [c.strip().lower().replace(" ", "_") for c in df.columns]
    return prepare_species_occupancy(df)


def site_occupancy(habitat, effort, detections=None):
    """MacKenzie et al. (2002): occupancy z_i is summed out of the likelihood."""
    a_psi = npr.sample("a_psi", D.Normal(0.0, 1.5))
    b_psi = npr.sample("b_psi", D.Normal(0.0, 1.0))
    a_p = npr.sample("a_p", D.Normal(0.0, 1.5))
    b_p = npr.sample("b_p", D.Normal(0.0, 1.0))
    psi = jax.nn.sigmoid(a_psi + b_psi * habitat)
    p = jax.nn.sigmoid(a_p + b_p * effort)
    npr.deterministic("psi", psi)
    if detections is None:
        return
    log_detect = jnp.sum(D.Bernoulli(probs=p).log_prob(detections), axis=-1)
    never_seen = detections.sum(-1) == 0
    ll = jnp.where(
        never_seen,
        jnp.logaddexp(jnp.log(psi) + log_detect, jnp.log1p(-psi)),
        jnp.log(psi) + log_detect,
    )
    npr.factor("occupancy_loglik", ll.sum())


def n_mixture(habitat, effort, counts=None, n_max=50):
    """Royle (2004) N-mixture: abundance N_i ~ Poisson(lambda_i), counts ~ Binomial(N_i, p),
    with N_i summed out up to n_max."""
    a_lam = npr.sample("a_lam", D.Normal(0.0, 2.0))
    b_lam = npr.sample("b_lam", D.Normal(0.0, 1.0))
    a_p = npr.sample("a_p", D.Normal(0.0, 1.5))
    lam = jnp.exp(a_lam + b_lam * habitat)
    p = jax.nn.sigmoid(a_p + 0.0 * effort)
    if counts is None:
        return
    N = jnp.arange(n_max + 1)
    log_prior = D.Poisson(lam[:, None]).log_prob(N[None, :])
    log_obs = D.Binomial(N[None, :, None], probs=p[:, None, :]).log_prob(counts[:, None, :]).sum(-1)
    valid = N[None, :] >= counts.max(-1, keepdims=True)
    ll = logsumexp(jnp.where(valid, log_prior + log_obs, -jnp.inf), axis=-1)
    npr.factor("nmixture_loglik", ll.sum())


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


def fit_site_occupancy(data, rng_key, settings):
    mcmc = run_mcmc(site_occupancy, rng_key, settings, data["habitat"], data["effort"], detections=data["detections"])
    return mcmc.get_samples()


def fit_n_mixture(data, rng_key, settings):
    """NUTS fit of `n_mixture`; returns the posterior draws, deterministic sites included."""
    mcmc = run_mcmc(
        n_mixture,
        rng_key,
        settings,
        data["habitat"], data["effort"],
        counts=data["counts"],
    )
    return mcmc.get_samples()


ModelSpec = namedtuple("ModelSpec", ["model", "fit", "args", "kwargs", "obs_site", "obs_key"])

MODELS = {
    "site_occupancy": ModelSpec(
        site_occupancy,
        fit_site_occupancy,
        lambda data: (data["habitat"], data["effort"]),
        lambda data: dict(detections=data["detections"]),
        obs_site=None,
        obs_key=None,
    ),
    "n_mixture": ModelSpec(
        n_mixture,
        fit_n_mixture,
        lambda data: (data["habitat"], data["effort"]),
        lambda data: dict(counts=data["counts"]),
        obs_site=None,
        obs_key=None,
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
    parser.add_argument("--num-chains", type=int, default=4)
    parser.add_argument("--target-accept", type=float, default=0.9)
    parser.add_argument("--max-tree-depth", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--out", default="results/species_occupancy")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main(settings):
    npr.set_platform(settings.device)
    npr.set_host_device_count(settings.num_chains)
    data = load_species_occupancy(settings.data, seed=settings.seed)
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
            plot_trace(samples, out_dir / f"{name}_trace.png")
    save_results(results, out_dir)


if __name__ == "__main__":
    main(parse_args())
