"""Reproduction number from daily case counts.

Reported daily cases in an epidemic wave; a renewal-equation model for R_t, a dynamic Poisson
model, and a single change point as the crude alternative.

Models:
    renewal_model: Infections from the renewal equation with a random-walk log R_t; reported cases
        are negative binomial around the infections.
    dynamic_poisson: Counts whose log rate is a local level plus a fixed weekly pattern.
    changepoint_model: One change in the Poisson rate at an unknown day, summed out exactly.

Usage:
    python epidemic_nowcast.py --models renewal_model dynamic_poisson --num-samples 1000 --plot

Data: data/daily_cases.csv; when the file is missing a simulated data set with the same
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
from jax import random as jrandom
from jax.scipy.special import logsumexp

import numpyro
import numpyro.distributions as nd
from numpyro.contrib.control_flow import scan
from numpyro.infer import MCMC, NUTS, Predictive, log_likelihood

DATA_PATH = os.environ.get("EPIDEMIC_NOWCAST_DATA", "data/daily_cases.csv")


# -------- data ----------------------------------------------------------------------------------


def simulate_epidemic_nowcast(T=180, period=7, seed=0):
    """Counts from one wave: the log rate rises, peaks and decays, under a weekday
    reporting pattern and negative-binomial noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    log_rate = 3.0 + 2.0 * np.exp(-0.5 * ((t - 0.4 * T) / (0.15 * T)) ** 2)
    reporting = np.array([1.0, 1.05, 1.1, 1.05, 1.0, 0.7, 0.6])[t % 7]
    mean = reporting * np.exp(log_rate)
    counts = rng.negative_binomial(20, 20 / (20 + mean))
    return pd.DataFrame({"date": pd.date_range("2020-09-01", periods=T, freq="D"), "cases": counts})


def prepare_epidemic_nowcast(df, holdout=14):
    """Sort by date, fill gaps by interpolation and keep the last `holdout` points for testing."""
    df = df.sort_values("date").reset_index(drop=True)
    df["cases"] = df["cases"].interpolate(limit_direction="both")
    y = df["cases"].to_numpy(dtype=np.int32)
    return {
        "y": jnp.asarray(y[:-holdout]),
        "y_test": jnp.asarray(y[-holdout:]),
        "dates": df["date"].to_numpy(),
        "T": len(y) - holdout,
        "holdout": holdout,
        "period": 7,
    }


def load_epidemic_nowcast(path=DATA_PATH, seed=0):
    """Read daily_cases.csv if it is there; otherwise simulate data with the same layout."""
    if path is not None and os.path.exists(path):
        df = pd.read_csv(path)
    else:
        print(f"{path} not found: using simulated data")
        df = simulate_epidemic_nowcast(seed=seed)
    return prepare_epidemic_nowcast(df)


# -------- models --------------------------------------------------------------------------------


def generation_interval(max_days=20, mean=6.5, sd=2.5):
    """Discretized gamma generation-interval distribution."""
    shape, rate = (mean / sd) ** 2, mean / sd**2
    days = jnp.arange(1, max_days + 1)
    w = jnp.exp((shape - 1) * jnp.log(days) - rate * days)
    return w / w.sum()


def renewal_model(T, y=None, seed_days=7):
    """Infections from the renewal equation with a random-walk log R_t; reported cases are
    negative binomial around the infections."""
    w = generation_interval()
    log_R0 = numpyro.sample("log_R0", nd.Normal(0.0, 0.5))
    sigma_R = numpyro.sample("sigma_R", nd.HalfNormal(0.1))
    seed = numpyro.sample("seed", nd.LogNormal(3.0, 1.0))
    phi = numpyro.sample("phi", nd.Exponential(0.1))
    with numpyro.plate("days_after_seed", T - seed_days):
        z = numpyro.sample("z", nd.Normal(0.0, 1.0))
    log_R = log_R0 + jnp.cumsum(sigma_R * z)
    R = numpyro.deterministic("R", jnp.exp(log_R))
    past = jnp.concatenate([jnp.zeros(w.shape[0] - seed_days), jnp.full(seed_days, seed)])

    def step(history, R_t):
        # Clipped so that an early draw with R >> 1 cannot overflow to inf during warmup.
        infections = jnp.clip(R_t * jnp.dot(history[::-1], w), 0.0, 1.0e8)
        return jnp.concatenate([history[1:], infections[None]]), infections

    _, infections = jax.lax.scan(step, past, R)
    expected = jnp.concatenate([jnp.full(seed_days, seed), infections])
    numpyro.deterministic("infections", expected)
    with numpyro.plate("days", T):
        numpyro.sample("y", nd.NegativeBinomial2(expected + 1e-3, phi), obs=y)


def dynamic_poisson(T, y=None, period=7):
    """Counts whose log rate is a local level plus a fixed weekly pattern."""
    sigma = numpyro.sample("sigma", nd.HalfNormal(0.1))
    level_0 = numpyro.sample("level_0", nd.Normal(3.0, 1.0))
    with numpyro.plate("weekdays", period):
        weekday = numpyro.sample("weekday", nd.Normal(0.0, 0.5))

    def transition(level, inputs):
        t, y_t = inputs
        level = level + sigma * numpyro.sample("eps", nd.Normal(0.0, 1.0))
        numpyro.sample("y", nd.Poisson(jnp.exp(level + weekday[t % period])), obs=y_t)
        return level, level

    _, log_level = scan(transition, level_0, (jnp.arange(T), y), length=T)
    numpyro.deterministic("rate", jnp.exp(log_level))


def changepoint_model(T, y=None):
    """One change in the Poisson rate at an unknown day, summed out exactly."""
    rate_before = numpyro.sample("rate_before", nd.Gamma(2.0, 0.1))
    rate_after = numpyro.sample("rate_after", nd.Gamma(2.0, 0.1))
    t = jnp.arange(T)
    if y is None:
        tau = numpyro.sample("tau", nd.Categorical(logits=jnp.zeros(T)))
        with numpyro.plate("days", T):
            numpyro.sample("y", nd.Poisson(jnp.where(t < tau, rate_before, rate_after)))
        return
    log_before = jnp.cumsum(nd.Poisson(rate_before).log_prob(y))
    log_after = jnp.cumsum(nd.Poisson(rate_after).log_prob(y)[::-1])[::-1]
    log_lik = jnp.concatenate([log_after[:1], log_before[:-1] + log_after[1:]])
    numpyro.factor("marginal", logsumexp(log_lik) - jnp.log(T))
    numpyro.deterministic("tau_posterior", jax.nn.softmax(log_lik))


# -------- inference -----------------------------------------------------------------------------


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


def fit_renewal_model(data, rng_key, settings):
    """NUTS fit of `renewal_model`; returns the posterior draws, deterministic sites included."""
    mcmc = run_mcmc(
        renewal_model,
        rng_key,
        settings,
        data["T"],
        y=data["y"],
    )
    return mcmc.get_samples()


def fit_dynamic_poisson(data, rng_key, settings):
    mcmc = run_mcmc(dynamic_poisson, rng_key, settings, data["T"], y=data["y"])
    return mcmc.get_samples()


def fit_changepoint_model(data, rng_key, settings):
    mcmc = run_mcmc(changepoint_model, rng_key, settings, data["T"], y=data["y"])
    return mcmc.get_samples()


# -------- evaluation and plots ------------------------------------------------------------------


ModelSpec = namedtuple("ModelSpec", ["model", "fit", "args", "kwargs", "obs_site", "obs_key"])

MODELS = {
    "renewal_model": ModelSpec(
        renewal_model,
        fit_renewal_model,
        lambda data: (data["T"],),
        lambda data: dict(y=data["y"]),
        obs_site="y",
        obs_key="y",
    ),
    "dynamic_poisson": ModelSpec(
        dynamic_poisson,
        fit_dynamic_poisson,
        lambda data: (data["T"],),
        lambda data: dict(y=data["y"]),
        obs_site="y",
        obs_key="y",
    ),
    "changepoint_model": ModelSpec(
        changepoint_model,
        fit_changepoint_model,
        lambda data: (data["T"],),
        lambda data: dict(y=data["y"]),
        obs_site=None,
        obs_key=None,
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
    parser.add_argument("-n", "--num-samples", type=int, default=2000)
    parser.add_argument("--num-warmup", type=int, default=1000)
    parser.add_argument("--num-chains", type=int, default=2)
    parser.add_argument("--target-accept", type=float, default=0.9)
    parser.add_argument("--max-tree-depth", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--out", default="results/epidemic_nowcast")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main(settings):
    numpyro.set_platform(settings.device)
    numpyro.set_host_device_count(settings.num_chains)
    data = load_epidemic_nowcast(settings.data, seed=settings.seed)
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
