"""Daily demand forecasting for a retail product.

Daily units sold (log scale) for one product: trend, yearly and weekly seasonality, and a 28-day
holdout to compare forecasts.

Models:
    ar_model: AR(p) around a constant, conditioned on the first p observations.
    local_linear_trend: Level and slope follow random walks; innovations are non-centered.
    trend_seasonal: Piecewise-linear trend with Laplace-distributed rate changes plus Fourier
        seasonality and Student-t noise (the structure of Prophet).
    holt_winters: Additive Holt-Winters smoothing as a state-space model: the smoothing weights are
        the parameters, the states are deterministic given them.

Usage:
    python retail_demand.py --models ar_model local_linear_trend --num-samples 1000 --plot

Data: data/retail_demand.csv; when the file is missing a simulated data set with the same
columns is used, so the script always runs end to end.
"""

import argparse
import json
import os
from collections import namedtuple
from datetime import datetime
from pathlib import Path

import arviz as az
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from jax import random as jrandom
from jax.scipy.special import logsumexp

import numpyro
import numpyro.distributions as nd
from numpyro.contrib.control_flow import scan
from numpyro.diagnostics import hpdi, summary
from numpyro.infer import MCMC, NUTS, Predictive, init_to_median, log_likelihood

DATA_PATH = os.path.join(os.path.dirname(__file__), "data", "retail_demand.csv")


def simulate_retail_demand(T=730, period=7, seed=0):
    """log daily units: trend, seasonality with the given period and AR(1) noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    noise = np.zeros(T)
    for i in range(1, T):
        noise[i] = 0.6 * noise[i - 1] + rng.normal(0.0, 0.2)
    y = 3.0 + 0.01 * t + np.sin(2 * np.pi * t / period) + noise
    dates = pd.date_range("2015-01-01", periods=T, freq="D")
    return pd.DataFrame({"date": dates, "log_units": y})


def prepare_retail_demand(df, holdout=28):
    """Sort by date, fill gaps by interpolation and keep the last `holdout` points for testing."""
    df = df.sort_values("date").reset_index(drop=True)
    df["log_units"] = df["log_units"].interpolate(limit_direction="both")
    y = df["log_units"].to_numpy(dtype=np.float32)
    return {
        "y": jnp.asarray(y[:-holdout]),
        "y_test": jnp.asarray(y[-holdout:]),
        "dates": df["date"].to_numpy(),
        "T": len(y) - holdout,
        "holdout": holdout,
        "period": 7,
    }


def load_retail_demand(path=DATA_PATH, seed=0):
    """Read retail_demand.csv if it is there; otherwise simulate data with the same layout."""
    if path is not None and os.path.exists(path):
        df = pd.read_csv(path)
    else:
        print(f"{path} not found: using simulated data")
        df = simulate_retail_demand(seed=seed)
    return prepare_retail_demand(df)


def ar_model(T, y=None, p=1):
    """AR(p) around a constant, conditioned on the first p observations."""
    alpha = numpyro.sample("alpha", nd.Normal(0.0, 1.0))
    with numpyro.plate("lags", p):
        phi = numpyro.sample("phi", nd.Normal(0.0, 0.5))
    sigma = numpyro.sample("sigma", nd.HalfCauchy(2.0))
    init = y[:p] if y is not None else jnp.zeros(p)

    def transition(window, y_t):
        mu = alpha + jnp.dot(phi, window[::-1])
        y_t = numpyro.sample("y", nd.Normal(mu, sigma), obs=y_t)
        return jnp.concatenate([window[1:], jnp.atleast_1d(y_t)]), mu

    _, mu = scan(transition, init, y[p:] if y is not None else None, length=T - p)
    numpyro.deterministic("mu", mu)


def forecast_ar(samples, y, horizon, rng_key, p=1):
    """Simulate `horizon` steps ahead for every posterior draw (pure JAX, no NumPyro)."""
    def one_draw(alpha, phi, sigma, key):
        def step(window, eps):
            y_next = alpha + jnp.dot(phi, window[::-1]) + sigma * eps
            return jnp.concatenate([window[1:], y_next[None]]), y_next
        eps = jrandom.normal(key, (horizon,))
        return jax.lax.scan(step, y[-p:], eps)[1]

    n = samples["alpha"].shape[0]
    keys = jrandom.split(rng_key, n)
    return jax.vmap(one_draw)(samples["alpha"], samples["phi"], samples["sigma"], keys)


def local_linear_trend(T, y=None):
    """Level and slope follow random walks; innovations are non-centered."""
    sigma_level = numpyro.sample("sigma_level", nd.HalfNormal(0.5))
    sigma_slope = numpyro.sample("sigma_slope", nd.HalfNormal(0.05))
    sigma_obs = numpyro.sample("sigma_obs", nd.HalfNormal(1.0))
    level_0 = numpyro.sample("level_0", nd.Normal(0.0, 5.0))
    slope_0 = numpyro.sample("slope_0", nd.Normal(0.0, 0.1))

    def transition(carry, y_t):
        level, slope = carry
        eps_level = numpyro.sample("eps_level", nd.Normal(0.0, 1.0))
        eps_slope = numpyro.sample("eps_slope", nd.Normal(0.0, 1.0))
        level = level + slope + sigma_level * eps_level
        slope = slope + sigma_slope * eps_slope
        numpyro.sample("y", nd.Normal(level, sigma_obs), obs=y_t)
        return (level, slope), level

    _, levels = scan(transition, (level_0, slope_0), y, length=T)
    numpyro.deterministic("level", levels)


def fourier_features(t, period, order):
    t = jnp.asarray(t, dtype=jnp.float32)
    k = jnp.arange(1, order + 1)
    angles = 2.0 * jnp.pi * k * t[:, None] / period
    return jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=-1)


def trend_seasonal(T, y=None, period=7, order=3, n_changepoints=25):
    """Piecewise-linear trend with Laplace-distributed rate changes plus Fourier seasonality
    and Student-t noise (the structure of Prophet)."""
    t = jnp.arange(T) / T
    s = jnp.linspace(0.0, 0.8, n_changepoints)
    A = (t[:, None] >= s[None, :]).astype(jnp.float32)
    k = numpyro.sample("k", nd.Normal(0.0, 5.0))
    m = numpyro.sample("m", nd.Normal(0.0, 5.0))
    with numpyro.plate("changepoints", n_changepoints):
        delta = numpyro.sample("delta", nd.Laplace(0.0, 0.5))
    trend = (k + A @ delta) * t + (m + A @ (-s * delta))
    F = fourier_features(jnp.arange(T), period, order)
    with numpyro.plate("fourier_terms", F.shape[1]):
        beta = numpyro.sample("beta", nd.Normal(0.0, 2.0))
    sigma = numpyro.sample("sigma", nd.HalfNormal(0.5))
    nu = numpyro.sample("nu", nd.Gamma(5.0, 0.5))
    mu = numpyro.deterministic("mu", trend + F @ beta)
    with numpyro.plate("time", T):
        numpyro.sample("y", nd.StudentT(nu, mu, sigma), obs=y)


def holt_winters(T, y=None, period=7):
    """Additive Holt-Winters smoothing as a state-space model: the smoothing weights are
    the parameters, the states are deterministic given them."""
    level_sm = numpyro.sample("level_smoothing", nd.Beta(1.0, 2.0))
    trend_sm = numpyro.sample("trend_smoothing", nd.Beta(1.0, 4.0))
    season_sm = numpyro.sample("season_smoothing", nd.Beta(1.0, 3.0))
    with numpyro.plate("season_init", period):
        season_0 = numpyro.sample("season_0", nd.Normal(0.0, 1.0))
    level_0 = numpyro.sample("level_0", nd.Normal(0.0, 5.0))
    sigma = numpyro.sample("sigma", nd.HalfNormal(1.0))

    def transition(carry, y_t):
        level, trend, season = carry
        mu = level + trend + season[0]
        y_t = numpyro.sample("y", nd.Normal(mu, sigma), obs=y_t)
        new_level = level_sm * (y_t - season[0]) + (1 - level_sm) * (level + trend)
        new_trend = trend_sm * (new_level - level) + (1 - trend_sm) * trend
        new_season = season_sm * (y_t - new_level) + (1 - season_sm) * season[0]
        season = jnp.concatenate([season[1:], new_season[None]])
        return (new_level, new_trend, season), mu

    _, mu = scan(transition, (level_0, 0.0, season_0), y, length=T)
    numpyro.deterministic("mu", mu)


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


def fit_ar_model(data, rng_key, settings):
    mcmc = run_mcmc(ar_model, rng_key, settings, data["T"], y=data["y"])
    return mcmc.get_samples()


def fit_local_linear_trend(data, rng_key, settings):
    """NUTS fit of `local_linear_trend`; returns the posterior draws, deterministic sites included."""
    mcmc = run_mcmc(
        local_linear_trend,
        rng_key,
        settings,
        data["T"],
        y=data["y"],
    )
    return mcmc.get_samples()


def fit_trend_seasonal(data, rng_key, settings):
    """NUTS fit of `trend_seasonal`; returns the posterior draws, deterministic sites included."""
    mcmc = run_mcmc(
        trend_seasonal,
        rng_key,
        settings,
        data["T"],
        y=data["y"],
    )
    return mcmc.get_samples()


def fit_holt_winters(data, rng_key, settings):
    mcmc = run_mcmc(holt_winters, rng_key, settings, data["T"], y=data["y"])
    return mcmc.get_samples()


ModelSpec = namedtuple("ModelSpec", ["model", "fit", "args", "kwargs", "obs_site", "obs_key"])

MODELS = {
    "ar_model": ModelSpec(
        ar_model,
        fit_ar_model,
        lambda data: (data["T"],),
        lambda data: dict(y=data["y"]),
        obs_site="y",
        obs_key="y",
    ),
    "local_linear_trend": ModelSpec(
        local_linear_trend,
        fit_local_linear_trend,
        lambda data: (data["T"],),
        lambda data: dict(y=data["y"]),
        obs_site="y",
        obs_key="y",
    ),
    "trend_seasonal": ModelSpec(
        trend_seasonal,
        fit_trend_seasonal,
        lambda data: (data["T"],),
        lambda data: dict(y=data["y"]),
        obs_site="y",
        obs_key="y",
    ),
    "holt_winters": ModelSpec(
        holt_winters,
        fit_holt_winters,
        lambda data: (data["T"],),
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
    parser.add_argument("-n", "--num-samples", type=int, default=2000)
    parser.add_argument("--num-warmup", type=int, default=1500)
    parser.add_argument("--num-chains", type=int, default=2)
    parser.add_argument("--target-accept", type=float, default=0.9)
    parser.add_argument("--max-tree-depth", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--out", default="results/retail_demand")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main(settings):
    numpyro.set_platform(settings.device)
    numpyro.set_host_device_count(settings.num_chains)
    data = load_retail_demand(settings.data, seed=settings.seed)
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
            for site in ("mu", "level", "rate", "infections", "volatility", "conditional_volatility"):
                if site in samples:
                    plot_fit(data["y"], samples[site], out_dir / f"{name}_{site}.png", title=name)
                    break
            plot_trace(samples, out_dir / f"{name}_trace.png")
    save_results(results, out_dir)


if __name__ == "__main__":
    main(parse_args())
