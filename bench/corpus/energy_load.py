"""Hourly-aggregated electricity load.

Daily peak electricity load (GW) for a regional grid with strong weekly seasonality; exponential
smoothing against structural models.

Models:
    holt_winters: Additive Holt-Winters smoothing as a state-space model: the smoothing weights are
        the parameters, the states are deterministic given them.
    trend_seasonal: Piecewise-linear trend with Laplace-distributed rate changes plus Fourier
        seasonality and Student-t noise (the structure of Prophet).
    ar_model: AR(p) around a constant, conditioned on the first p observations.

Usage:
    python energy_load.py --models holt_winters trend_seasonal --num-samples 1000 --plot

Data: data/energy_load.csv; when the file is missing a simulated data set with the same
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

import numpyro as npr
import numpyro.distributions as D
from numpyro.contrib.control_flow import scan
from numpyro.diagnostics import summary
from numpyro.infer import MCMC, NUTS, Predictive, SVI, Trace_ELBO, init_to_median, init_to_sample, log_likelihood
from numpyro.infer.autoguide import AutoNormal
from numpyro.optim import Adam

DATA_PATH = os.environ.get("ENERGY_LOAD_DATA", "data/energy_load.csv")


# -------- data ----------------------------------------------------------------------------------


def simulate_energy_load(T=600, period=7, seed=0):
    """daily peak load (GW) with two level shifts, a seasonal cycle whose amplitude grows, and a few
    outliers: the awkward features of the real series."""
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    shifts = np.zeros(T)
    for start in rng.choice(np.arange(T // 5, 4 * T // 5), size=2, replace=False):
        shifts[start:] += rng.normal(0.0, 1.0)
    amplitude = 1.0 + t / T
    y = 30.0 + shifts + amplitude * np.sin(2 * np.pi * t / period) + rng.normal(0.0, 0.5, T)
    outliers = rng.random(T) < 0.01
    y[outliers] += rng.normal(0.0, 5 * 0.5, outliers.sum())
    return pd.DataFrame({"date": pd.date_range("2015-01-01", periods=T, freq="D"), "peak_gw": y})


def prepare_energy_load(df, holdout=21):
    """Sort by date, fill gaps by interpolation and keep the last `holdout` points for testing."""
    df = df.sort_values("date").reset_index(drop=True)
    df["peak_gw"] = df["peak_gw"].interpolate(limit_direction="both")
    y = df["peak_gw"].to_numpy(dtype=np.float32)
    return {
        "y": jnp.asarray(y[:-holdout]),
        "y_test": jnp.asarray(y[-holdout:]),
        "dates": df["date"].to_numpy(),
        "T": len(y) - holdout,
        "holdout": holdout,
        "period": 7,
    }


def load_energy_load(path=DATA_PATH, seed=0):
    path = Path(path)
    if path.suffix == ".parquet" and path.exists():
        df = pd.read_parquet(path)
    elif path.exists():
        df = pd.read_csv(path, low_memory=False)
    else:
        df = simulate_energy_load(seed=seed)
    df.columns = [c.strip().lower().replace(" ", "_") for c in df.columns]
    return prepare_energy_load(df)


# -------- models --------------------------------------------------------------------------------


def holt_winters(T, y=None, period=7):
    """Additive Holt-Winters smoothing as a state-space model: the smoothing weights are
    the parameters, the states are deterministic given them."""
    level_sm = npr.sample("level_smoothing", D.Beta(1.0, 2.0))
    trend_sm = npr.sample("trend_smoothing", D.Beta(1.0, 4.0))
    season_sm = npr.sample("season_smoothing", D.Beta(1.0, 3.0))
    with npr.plate("season_init", period):
        season_0 = npr.sample("season_0", D.Normal(0.0, 1.0))
    level_0 = npr.sample("level_0", D.Normal(0.0, 5.0))
    sigma = npr.sample("sigma", D.Exponential(1.0))

    def transition(carry, y_t):
        level, trend, season = carry
        mu = level + trend + season[0]
        y_t = npr.sample("y", D.Normal(mu, sigma), obs=y_t)
        new_level = level_sm * (y_t - season[0]) + (1 - level_sm) * (level + trend)
        new_trend = trend_sm * (new_level - level) + (1 - trend_sm) * trend
        new_season = season_sm * (y_t - new_level) + (1 - season_sm) * season[0]
        season = jnp.concatenate([season[1:], new_season[None]])
        return (new_level, new_trend, season), mu

    _, mu = scan(transition, (level_0, 0.0, season_0), y, length=T)
    npr.deterministic("mu", mu)


def fourier_features(t, period, order):
    t = jnp.asarray(t, dtype=jnp.float32)
    k = jnp.arange(1, order + 1)
    angles = 2.0 * jnp.pi * k * t[:, None] / period
    return jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=-1)


def trend_seasonal(T, y=None, period=7, order=6, n_changepoints=10):
    """Piecewise-linear trend with Laplace-distributed rate changes plus Fourier seasonality
    and Student-t noise (the structure of Prophet)."""
    t = jnp.arange(T) / T
    s = jnp.linspace(0.0, 0.8, n_changepoints)
    A = (t[:, None] >= s[None, :]).astype(jnp.float32)
    k = npr.sample("k", D.Normal(0.0, 5.0))
    m = npr.sample("m", D.Normal(0.0, 5.0))
    with npr.plate("changepoints", n_changepoints):
        delta = npr.sample("delta", D.Laplace(0.0, 0.5))
    trend = (k + A @ delta) * t + (m + A @ (-s * delta))
    F = fourier_features(jnp.arange(T), period, order)
    with npr.plate("fourier_terms", F.shape[1]):
        beta = npr.sample("beta", D.Normal(0.0, 1.0))
    sigma = npr.sample("sigma", D.HalfNormal(0.5))
    nu = npr.sample("nu", D.Gamma(5.0, 0.5))
    mu = npr.deterministic("mu", trend + F @ beta)
    with npr.plate("time", T):
        npr.sample("y", D.StudentT(nu, mu, sigma), obs=y)


def ar_model(T, y=None, p=1):
    """AR(p) around a constant, conditioned on the first p observations."""
    alpha = npr.sample("alpha", D.Normal(0.0, 1.0))
    with npr.plate("lags", p):
        phi = npr.sample("phi", D.Normal(0.0, 0.5))
    sigma = npr.sample("sigma", D.HalfCauchy(2.0))
    init = y[:p] if y is not None else jnp.zeros(p)

    def transition(window, y_t):
        mu = alpha + jnp.dot(phi, window[::-1])
        y_t = npr.sample("y", D.Normal(mu, sigma), obs=y_t)
        return jnp.concatenate([window[1:], jnp.atleast_1d(y_t)]), mu

    _, mu = scan(transition, init, y[p:] if y is not None else None, length=T - p)
    npr.deterministic("mu", mu)


def forecast_ar(samples, y, horizon, rng_key, p=1):
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


def fit_holt_winters(data, rng_key, settings):
    mcmc = run_mcmc(holt_winters, rng_key, settings, data["T"], y=data["y"])
    return mcmc.get_samples()


def fit_trend_seasonal(data, rng_key, settings):
    samples, losses = run_svi(trend_seasonal, rng_key, settings, data["T"], y=data["y"])
    print(f"trend_seasonal: final loss {float(losses[-1]):.1f} after {len(losses)} steps")
    return samples


def fit_ar_model(data, rng_key, settings):
    mcmc = run_mcmc(ar_model, rng_key, settings, data["T"], y=data["y"])
    return mcmc.get_samples()


# -------- evaluation and plots ------------------------------------------------------------------


ModelSpec = namedtuple("ModelSpec", ["model", "fit", "args", "kwargs", "obs_site", "obs_key"])

MODELS = {
    "holt_winters": ModelSpec(
        holt_winters,
        fit_holt_winters,
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
    "ar_model": ModelSpec(
        ar_model,
        fit_ar_model,
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
    parser.add_argument("--num-warmup", type=int, default=500)
    parser.add_argument("--num-chains", type=int, default=4)
    parser.add_argument("--target-accept", type=float, default=0.9)
    parser.add_argument("--max-tree-depth", type=int, default=10)
    parser.add_argument("--num-steps", type=int, default=10000)
    parser.add_argument("--learning-rate", type=float, default=0.02)
    parser.add_argument("--num-particles", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--out", default="results/energy_load")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main():
    settings = parse_args()
    npr.set_platform(settings.device)
    if settings.num_chains > 1:
        npr.set_host_device_count(settings.num_chains)
    print(f"jax {jax.__version__}, numpyro {npr.__version__}, devices: {jax.devices()}")
    data = load_energy_load(settings.data, seed=settings.seed)
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
