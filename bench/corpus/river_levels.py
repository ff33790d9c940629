"""River gauge levels.

Weekly mean river level at a gauging station; a local linear trend captures slow changes, an AR
term the short memory.

Models:
    local_linear_trend: Level and slope follow random walks; innovations are non-centered.
    ar_model: AR(p) around a constant, conditioned on the first p observations.
    trend_seasonal: Piecewise-linear trend with Laplace-distributed rate changes plus Fourier
        seasonality and Student-t noise (the structure of Prophet).

Usage:
    python river_levels.py --models local_linear_trend ar_model --num-samples 1000 --plot

Data: data/river_levels.csv; when the file is missing a simulated data set with the same
columns is used, so the script always runs end to end.
"""

import argparse
import json
import os
from collections import namedtuple
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from jax import random
from jax.scipy.special import logsumexp

import numpyro
import numpyro.distributions as dist
from numpyro.contrib.control_flow import scan
from numpyro.diagnostics import summary
from numpyro.infer import MCMC, NUTS, Predictive, SVI, Trace_ELBO, init_to_median, init_to_sample, log_likelihood
from numpyro.infer.autoguide import AutoNormal
from numpyro.optim import Adam

DATA_PATH = os.environ.get("RIVER_LEVELS_DATA", "data/river_levels.csv")


# -------- data ----------------------------------------------------------------------------------


def simulate_river_levels(T=520, period=52, seed=0):
    """weekly mean level (m): trend, seasonality with the given period and AR(1) noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    noise = np.zeros(T)
    for i in range(1, T):
        noise[i] = 0.6 * noise[i - 1] + rng.normal(0.0, 0.15)
    y = 2.0 + 0.01 * t + np.sin(2 * np.pi * t / period) + noise
    dates = pd.date_range("2015-01-01", periods=T, freq="W")
    return pd.DataFrame({"date": dates, "level_m": y})


def prepare_river_levels(df, holdout=26):
    """Sort by date, fill gaps by interpolation and keep the last `holdout` points for testing."""
    df = df.sort_values("date").reset_index(drop=True)
    df["level_m"] = df["level_m"].interpolate(limit_direction="both")
    y = df["level_m"].to_numpy(dtype=np.float32)
    return {
        "y": jnp.asarray(y[:-holdout]),
        "y_test": jnp.asarray(y[-holdout:]),
        "dates": df["date"].to_numpy(),
        "T": len(y) - holdout,
        "holdout": holdout,
        "period": 52,
    }


def load_river_levels(path=DATA_PATH, seed=0):
    """Read river_levels.csv if it is there; otherwise simulate data with the same layout."""
    if path is not None and os.path.exists(path):
        df = pd.read_csv(path)
    else:
        print(f"{path} not found: using simulated data")
        df = simulate_river_levels(seed=seed)
    return prepare_river_levels(df)


# -------- models --------------------------------------------------------------------------------


def local_linear_trend(T, y=None):
    """Level and slope follow random walks; innovations are non-centered."""
    sigma_level = numpyro.sample("sigma_level", dist.HalfNormal(0.1))
    sigma_slope = numpyro.sample("sigma_slope", dist.HalfNormal(0.01))
    sigma_obs = numpyro.sample("sigma_obs", dist.HalfNormal(1.0))
    level_0 = numpyro.sample("level_0", dist.Normal(0.0, 5.0))
    slope_0 = numpyro.sample("slope_0", dist.Normal(0.0, 0.1))

    def transition(carry, y_t):
        level, slope = carry
        eps_level = numpyro.sample("eps_level", dist.Normal(0.0, 1.0))
        eps_slope = numpyro.sample("eps_slope", dist.Normal(0.0, 1.0))
        level = level + slope + sigma_level * eps_level
        slope = slope + sigma_slope * eps_slope
        numpyro.sample("y", dist.Normal(level, sigma_obs), obs=y_t)
        return (level, slope), level

    _, levels = scan(transition, (level_0, slope_0), y, length=T)
    numpyro.deterministic("level", levels)


def ar_model(T, y=None, p=2):
    """AR(p) around a constant, conditioned on the first p observations."""
    alpha = numpyro.sample("alpha", dist.Normal(0.0, 1.0))
    with numpyro.plate("lags", p):
        phi = numpyro.sample("phi", dist.Normal(0.0, 0.5))
    sigma = numpyro.sample("sigma", dist.HalfCauchy(1.0))
    init = y[:p] if y is not None else jnp.zeros(p)

    def transition(window, y_t):
        mu = alpha + jnp.dot(phi, window[::-1])
        y_t = numpyro.sample("y", dist.Normal(mu, sigma), obs=y_t)
        return jnp.concatenate([window[1:], jnp.atleast_1d(y_t)]), mu

    _, mu = scan(transition, init, y[p:] if y is not None else None, length=T - p)
    numpyro.deterministic("mu", mu)


def forecast_ar(samples, y, horizon, rng_key, p=2):
    """Simulate `horizon` steps ahead for every posterior draw (pure JAX, no NumPyro)."""
    def one_draw(alpha, phi, sigma, key):
        def step(window, eps):
            y_next = alpha + jnp.dot(phi, window[::-1]) + sigma * eps
            return jnp.concatenate([window[1:], y_next[None]]), y_next
        eps = random.normal(key, (horizon,))
        return jax.lax.scan(step, y[-p:], eps)[1]

    n = samples["alpha"].shape[0]
    keys = random.split(rng_key, n)
    return jax.vmap(one_draw)(samples["alpha"], samples["phi"], samples["sigma"], keys)


def fourier_features(t, period, order):
    t = jnp.asarray(t, dtype=jnp.float32)
    k = jnp.arange(1, order + 1)
    angles = 2.0 * jnp.pi * k * t[:, None] / period
    return jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=-1)


def trend_seasonal(T, y=None, period=52, order=4, n_changepoints=10):
    """Piecewise-linear trend with Laplace-distributed rate changes plus Fourier seasonality
    and Student-t noise (the structure of Prophet)."""
    t = jnp.arange(T) / T
    s = jnp.linspace(0.0, 0.8, n_changepoints)
    A = (t[:, None] >= s[None, :]).astype(jnp.float32)
    k = numpyro.sample("k", dist.Normal(0.0, 5.0))
    m = numpyro.sample("m", dist.Normal(0.0, 5.0))
    with numpyro.plate("changepoints", n_changepoints):
        delta = numpyro.sample("delta", dist.Laplace(0.0, 0.05))
    trend = (k + A @ delta) * t + (m + A @ (-s * delta))
    F = fourier_features(jnp.arange(T), period, order)
    with numpyro.plate("fourier_terms", F.shape[1]):
        beta = numpyro.sample("beta", dist.Normal(0.0, 1.0))
    sigma = numpyro.sample("sigma", dist.HalfNormal(0.5))
    nu = numpyro.sample("nu", dist.Gamma(5.0, 0.5))
    mu = numpyro.deterministic("mu", trend + F @ beta)
    with numpyro.plate("time", T):
        numpyro.sample("y", dist.StudentT(nu, mu, sigma), obs=y)


# -------- inference -----------------------------------------------------------------------------


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


def run_svi(model, rng_key, settings, *model_args, **model_kwargs):
    """SVI with a hand-written loop: jit the update, stop once the loss has flattened."""
    guide = AutoNormal(model, init_loc_fn=init_to_sample)
    svi = SVI(model, guide, Adam(settings.learning_rate), loss=Trace_ELBO())
    rng_key_init, rng_key_post = random.split(rng_key)
    state = svi.init(rng_key_init, *model_args, **model_kwargs)
    update = jax.jit(lambda s: svi.update(s, *model_args, **model_kwargs))
    losses, window = [], 500
    for step in range(settings.num_steps):
        state, loss = update(state)
        losses.append(float(loss))
        if step >= 2 * window and step % window == 0:
            recent = np.mean(losses[-window:])
            before = np.mean(losses[-2 * window:-window])
            if abs(before - recent) < 1e-4 * abs(before):
                print(f"ELBO converged after {step} steps")
                break
    params = svi.get_params(state)
    samples = guide.sample_posterior(
        rng_key_post, params, *model_args, sample_shape=(settings.num_samples,), **model_kwargs
    )
    return samples, np.asarray(losses)


def fit_local_linear_trend(data, rng_key, settings):
    samples, losses = run_svi(local_linear_trend, rng_key, settings, data["T"], y=data["y"])
    print(f"local_linear_trend: final loss {float(losses[-1]):.1f} after {len(losses)} steps")
    return samples


def fit_ar_model(data, rng_key, settings):
    """NUTS fit of `ar_model`; returns the posterior draws, deterministic sites included."""
    mcmc = run_mcmc(
        ar_model,
        rng_key,
        settings,
        data["T"],
        y=data["y"],
    )
    return mcmc.get_samples()


def fit_trend_seasonal(data, rng_key, settings):
    mcmc = run_mcmc(trend_seasonal, rng_key, settings, data["T"], y=data["y"])
    return mcmc.get_samples()


# -------- evaluation and plots ------------------------------------------------------------------


ModelSpec = namedtuple("ModelSpec", ["model", "fit", "args", "kwargs", "obs_site", "obs_key"])

MODELS = {
    "local_linear_trend": ModelSpec(
        local_linear_trend,
        fit_local_linear_trend,
        lambda data: (data["T"],),
        lambda data: dict(y=data["y"]),
        obs_site="y",
        obs_key="y",
    ),
    "ar_model": ModelSpec(
        ar_model,
        fit_ar_model,
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
    parser.add_argument("--num-warmup", type=int, default=1500)
    parser.add_argument("--num-chains", type=int, default=4)
    parser.add_argument("--target-accept", type=float, default=0.9)
    parser.add_argument("--max-tree-depth", type=int, default=10)
    parser.add_argument("--num-steps", type=int, default=5000)
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--num-particles", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--out", default="results/river_levels")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main(settings):
    numpyro.set_platform(settings.device)
    numpyro.set_host_device_count(settings.num_chains)
    data = load_river_levels(settings.data, seed=settings.seed)
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
            for site in ("mu", "level", "rate", "infections", "volatility", "conditional_volatility"):
                if site in samples:
                    plot_fit(data["y"], samples[site], out_dir / f"{name}_{site}.png", title=name)
                    break
            plot_trace(samples, out_dir / f"{name}_trace.png")
    save_results(results, out_dir)


if __name__ == "__main__":
    main(parse_args())
