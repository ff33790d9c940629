"""Marketing mix model for weekly sales.

Weekly sales (log scale) against spend in four media channels, with geometric adstock and Hill
saturation, compared with a linear baseline.

Models:
    media_mix: Sales = baseline + seasonality + sum_c beta_c * hill(adstock(spend_c)).
    linear_media: No carry-over and no saturation: the model most teams start from.

Usage:
    python marketing_mix.py --models media_mix linear_media --num-samples 1000 --plot

Data: data/weekly_media.csv; when the file is missing a simulated data set with the same
columns is used, so the script always runs end to end.
"""

import argparse
import json
import os
from collections import namedtuple
from datetime import datetime
from pathlib import Path

import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from jax import random as jrandom

import numpyro
import numpyro.distributions as nd
from numpyro.diagnostics import hpdi, summary
from numpyro.infer import MCMC, NUTS, Predictive, init_to_median

DATA_PATH = os.environ.get("MARKETING_MIX_DATA", "data/weekly_media.csv")
CHANNELS = ["tv", "radio", "paid_search", "social"]


def simulate_marketing_mix(n_weeks=156, seed=0):
    """Weekly spend per channel and log weekly sales with carry-over and diminishing returns."""
    rng = np.random.default_rng(seed)
    spend = rng.gamma(2.0, 1.0, size=(n_weeks, len(CHANNELS))) * (rng.random((n_weeks, len(CHANNELS))) > 0.2)
    effect = np.zeros(n_weeks)
    for c, (decay, half) in enumerate(zip([0.5, 0.3, 0.7, 0.2][: len(CHANNELS)], [1.0, 2.0, 1.5, 0.8])):
        carried = np.zeros(n_weeks)
        for t in range(n_weeks):
            carried[t] = spend[t, c] + (decay * carried[t - 1] if t else 0.0)
        effect += 0.8 * carried / (carried + half)
    week = np.arange(n_weeks)
    y = 5.0 + effect + 0.3 * np.sin(2 * np.pi * week / 52) + rng.normal(0.0, 0.2, n_weeks)
    df = pd.DataFrame(spend, columns=CHANNELS)
    df["log_sales"] = y
    return df


def prepare_marketing_mix(df):
    spend = df[CHANNELS].to_numpy(dtype=np.float32)
    week = np.arange(len(df))
    fourier = np.column_stack([f(2 * np.pi * k * week / 52) for k in (1, 2) for f in (np.sin, np.cos)])
    return {
        "spend": jnp.asarray(spend / spend.mean(0)),
        "fourier": jnp.asarray(fourier.astype(np.float32)),
        "y": jnp.asarray(df["log_sales"].to_numpy(dtype=np.float32)),
        "channels": list(CHANNELS),
    }


def load_marketing_mix(path=DATA_PATH, seed=0):
    path = Path(path)
    if path.suffix == ".parquet" and path.exists():
        df = pd.read_parquet(path)
    elif path.exists():
        df = pd.read_csv(path, low_memory=False)
    else:
        df = simulate_marketing_mix(seed=seed)
    df.columns = [c.strip().lower().replace(" ", "_") for c in df.columns]
    return prepare_marketing_mix(df)


def geometric_adstock(spend, decay, max_lag=6):
    """Carry-over: sum_l decay^l * spend[t - l], normalized, per channel."""
    lags = jnp.arange(max_lag)
    weights = decay[None, :] ** lags[:, None]
    weights = weights / weights.sum(0)
    padded = jnp.concatenate([jnp.zeros((max_lag - 1, spend.shape[1])), spend])
    windows = jnp.stack([padded[max_lag - 1 - l : padded.shape[0] - l] for l in range(max_lag)])
    return jnp.einsum("ltc,lc->tc", windows, weights)


def hill(x, half_saturation, slope):
    return x**slope / (x**slope + half_saturation**slope)


def media_mix(spend, fourier, y=None):
    """Sales = baseline + seasonality + sum_c beta_c * hill(adstock(spend_c))."""
    n_channels = spend.shape[1]
    with numpyro.plate("channels", n_channels):
        decay = numpyro.sample("decay", nd.Beta(3.0, 3.0))
        half = numpyro.sample("half_saturation", nd.Gamma(2.0, 2.0))
        slope = numpyro.sample("slope", nd.Gamma(3.0, 2.0))
        beta = numpyro.sample("beta", nd.HalfNormal(1.0))
    with numpyro.plate("seasonal_terms", fourier.shape[1]):
        gamma = numpyro.sample("gamma", nd.Normal(0.0, 0.5))
    base = numpyro.sample("base", nd.Normal(5.0, 2.0))
    sigma = numpyro.sample("sigma", nd.HalfNormal(0.5))
    contributions = numpyro.deterministic("contributions", beta * hill(geometric_adstock(spend, decay), half, slope))
    mu = base + fourier @ gamma + contributions.sum(-1)
    with numpyro.plate("weeks", spend.shape[0]):
        numpyro.sample("y", nd.Normal(mu, sigma), obs=y)


def linear_media(spend, fourier, y=None):
    """No carry-over and no saturation: the model most teams start from."""
    with numpyro.plate("channels", spend.shape[1]):
        beta = numpyro.sample("beta", nd.HalfNormal(1.0))
    with numpyro.plate("seasonal_terms", fourier.shape[1]):
        gamma = numpyro.sample("gamma", nd.Normal(0.0, 0.5))
    base = numpyro.sample("base", nd.Normal(5.0, 2.0))
    sigma = numpyro.sample("sigma", nd.HalfNormal(0.5))
    with numpyro.plate("weeks", spend.shape[0]):
        numpyro.sample("y", nd.Normal(base + fourier @ gamma + spend @ beta, sigma), obs=y)


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


def fit_media_mix(data, rng_key, settings):
    mcmc = run_mcmc(media_mix, rng_key, settings, data["spend"], data["fourier"], y=data["y"])
    return mcmc.get_samples()


def fit_linear_media(data, rng_key, settings):
    """NUTS fit of `linear_media`; returns the posterior draws, deterministic sites included."""
    mcmc = run_mcmc(
        linear_media,
        rng_key,
        settings,
        data["spend"], data["fourier"],
        y=data["y"],
    )
    return mcmc.get_samples()


ModelSpec = namedtuple("ModelSpec", ["model", "fit", "args", "kwargs", "obs_site", "obs_key"])

MODELS = {
    "media_mix": ModelSpec(
        media_mix,
        fit_media_mix,
        lambda data: (data["spend"], data["fourier"]),
        lambda data: dict(y=data["y"]),
        obs_site="y",
        obs_key="y",
    ),
    "linear_media": ModelSpec(
        linear_media,
        fit_linear_media,
        lambda data: (data["spend"], data["fourier"]),
        lambda data: dict(y=data["y"]),
        obs_site="y",
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
    parser.add_argument("--num-chains", type=int, default=2)
    parser.add_argument("--target-accept", type=float, default=0.9)
    parser.add_argument("--max-tree-depth", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--out", default="results/marketing_mix")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main(settings):
    numpyro.set_platform(settings.device)
    numpyro.set_host_device_count(settings.num_chains)
    data = load_marketing_mix(settings.data, seed=settings.seed)
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
            plot_trace(samples, out_dir / f"{name}_trace.png")
    save_results(results, out_dir)


if __name__ == "__main__":
    main(parse_args())
