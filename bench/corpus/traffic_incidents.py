"""Traffic incidents per day on a motorway network.

Daily incident counts; did the new speed limit change the rate? A change-point model against a
dynamic Poisson level.

Models:
    changepoint_model: One change in the Poisson rate at an unknown day, summed out exactly.
    dynamic_poisson: Counts whose log rate is a local level plus a fixed weekly pattern.

Usage:
    python traffic_incidents.py --models changepoint_model dynamic_poisson --num-samples 1000 --plot

Data: data/incidents.csv; when the file is missing a simulated data set with the same
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
from numpyro.contrib.control_flow import scan
from numpyro.infer import MCMC, NUTS, Predictive, log_likelihood

DATA_PATH = os.environ.get("TRAFFIC_INCIDENTS_DATA", "data/incidents.csv")


def simulate_traffic_incidents(T=365, period=7, seed=0):
    """Counts from one wave: the log rate rises, peaks and decays, under a weekday
    reporting pattern and negative-binomial noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    log_rate = 1.5 + 2.0 * np.exp(-0.5 * ((t - 0.4 * T) / (0.15 * T)) ** 2)
    reporting = np.array([1.0, 1.05, 1.1, 1.05, 1.0, 0.7, 0.6])[t % 7]
    mean = reporting * np.exp(log_rate)
    counts = rng.negative_binomial(20, 20 / (20 + mean))
    return pd.DataFrame({"date": pd.date_range("2020-09-01", periods=T, freq="D"), "incidents": counts})


def prepare_traffic_incidents(df, holdout=14):
    """Sort by date, fill gaps by interpolation and keep the last `holdout` points for testing."""
    df = df.sort_values("date").reset_index(drop=True)
    df["incidents"] = df["incidents"].interpolate(limit_direction="both")
    y = df["incidents"].to_numpy(dtype=np.int32)
    return {
        "y": jnp.asarray(y[:-holdout]),
        "y_test": jnp.asarray(y[-holdout:]),
        "dates": df["date"].to_numpy(),
        "T": len(y) - holdout,
        "holdout": holdout,
        "period": 7,
    }


def load_traffic_incidents(path=DATA_PATH, seed=0):
    path = Path(path)
    if path.suffix == ".parquet" and path.exists():
        df = pd.read_parquet(path)
    elif path.exists():
        df = pd.read_csv(path, low_memory=False)
    else:
        df = simulate_traffic_incidents(seed=seed)
    df.columns = [c.strip().lower().replace(" ", "_") for c in df.columns]
    return prepare_traffic_incidents(df)


def changepoint_model(T, y=None):
    """One change in the Poisson rate at an unknown day, summed out exactly."""
    rate_before = npr.sample("rate_before", D.Gamma(2.0, 0.1))
    rate_after = npr.sample("rate_after", D.Gamma(2.0, 0.1))
    t = jnp.arange(T)
    if y is None:
        tau = npr.sample("tau", D.Categorical(logits=jnp.zeros(T)))
        with npr.plate("days", T):
            npr.sample("y", D.Poisson(jnp.where(t < tau, rate_before, rate_after)))
        return
    log_before = jnp.cumsum(D.Poisson(rate_before).log_prob(y))
    log_after = jnp.cumsum(D.Poisson(rate_after).log_prob(y)[::-1])[::-1]
    log_lik = jnp.concatenate([log_after[:1], log_before[:-1] + log_after[1:]])
    npr.factor("marginal", logsumexp(log_lik) - jnp.log(T))
    npr.deterministic("tau_posterior", jax.nn.softmax(log_lik))


def dynamic_poisson(T, y=None, period=7):
    """Counts whose log rate is a local level plus a fixed weekly pattern."""
    sigma = npr.sample("sigma", D.HalfNormal(0.1))
    level_0 = npr.sample("level_0", D.Normal(1.5, 1.0))
    with npr.plate("weekdays", period):
        weekday = npr.sample("weekday", D.Normal(0.0, 0.5))

    def transition(level, inputs):
        t, y_t = inputs
        level = level + sigma * npr.sample("eps", D.Normal(0.0, 1.0))
        npr.sample("y", D.Poisson(jnp.exp(level + weekday[t % period])), obs=y_t)
        return level, level

    _, log_level = scan(transition, level_0, (jnp.arange(T), y), length=T)
    npr.deterministic("rate", jnp.exp(log_level))


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


def fit_changepoint_model(data, rng_key, settings):
    """NUTS fit of `changepoint_model`; returns the posterior draws, deterministic sites included."""
    mcmc = run_mcmc(
        changepoint_model,
        rng_key,
        settings,
        data["T"],
        y=data["y"],
    )
    return mcmc.get_samples()


def fit_dynamic_poisson(data, rng_key, settings):
    mcmc = run_mcmc(dynamic_poisson, rng_key, settings, data["T"], y=data["y"])
    return mcmc.get_samples()


ModelSpec = namedtuple("ModelSpec", ["model", "fit", "args", "kwargs", "obs_site", "obs_key"])

MODELS = {
    "changepoint_model": ModelSpec(
        changepoint_model,
        fit_changepoint_model,
        lambda data: (data["T"],),
        lambda data: dict(y=data["y"]),
        obs_site=None,
        obs_key=None,
    ),
    "dynamic_poisson": ModelSpec(
        dynamic_poisson,
        fit_dynamic_poisson,
        lambda data: (data["T"],),
        lambda data: dict(y=data["y"]),
        obs_site="y",
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


def plot_fit(y, mu_samples, out_path, title=""):
    """Observed series with the posterior mean and a 90% band of the fitted mean."""
    mu = np.asarray(mu_samples)
    if mu.ndim != 2:
        return
    lo, hi = np.percentile(mu, [5, 95], axis=0)
    t = np.arange(len(y))
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.plot(t, np.asarray(y), ".", ms=2, color="k", label="observed")
    ax.plot(t[: mu.shape[1]], mu.mean(0), color="C1", label="posterior mean")
    ax.fill_between(t[: mu.shape[1]], lo, hi, color="C1", alpha=0.3)
    ax.set_title(title)
    ax.legend(loc="upper left")
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
    parser.add_argument("--num-warmup", type=int, default=1500)
    parser.add_argument("--num-chains", type=int, default=1)
    parser.add_argument("--target-accept", type=float, default=0.9)
    parser.add_argument("--max-tree-depth", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--out", default="results/traffic_incidents")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main():
    settings = parse_args()
    npr.set_platform(settings.device)
    if settings.num_chains > 1:
        npr.set_host_device_count(settings.num_chains)
    print(f"jax {jax.__version__}, numpyro {npr.__version__}, devices: {jax.devices()}")
    data = load_traffic_incidents(settings.data, seed=settings.seed)
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
            for site in ("mu", "level", "rate", "infections", "volatility", "conditional_volatility"):
                if site in samples:
                    plot_fit(data["y"], samples[site], out_dir / f"{name}_{site}.png", title=name)
                    break
            plot_trace(samples, out_dir / f"{name}_trace.png")
    save_results(results, out_dir)
    return results


if __name__ == "__main__":
    main()
