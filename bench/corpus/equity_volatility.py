"""Volatility of daily equity index returns.

Daily percent log returns of an equity index; stochastic volatility against GARCH(1,1) and a
plain AR baseline for the mean.

Models:
    stochastic_volatility: Log-variance h_t is a stationary AR(1); returns are Student-t given h_t.
    garch11: GARCH(1, 1) with Student-t innovations; stationarity a + b < 1 via a Dirichlet split.
    ar_model: AR(p) around a constant, conditioned on the first p observations.

Usage:
    python equity_volatility.py --models stochastic_volatility garch11 --num-samples 1000 --plot

Data: data/index_prices.csv; when the file is missing a simulated data set with the same
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
import jax.random as jr
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from jax.scipy.special import logsumexp

import numpyro as npr
import numpyro.distributions as dist
from numpyro.contrib.control_flow import scan
from numpyro.infer import MCMC, NUTS, Predictive, log_likelihood

DATA_PATH = os.path.join(os.path.dirname(__file__), "data", "index_prices.csv")


# -------- data ----------------------------------------------------------------------------------


def simulate_equity_volatility(T=1500, seed=0):
    """Daily log returns in percent with GARCH-like volatility clustering and fat tails."""
    rng = np.random.default_rng(seed)
    var = np.empty(T)
    r = np.empty(T)
    var[0] = 1.0
    r[0] = rng.standard_t(5) * np.sqrt(var[0])
    for t in range(1, T):
        var[t] = 0.05 + 0.08 * r[t - 1] ** 2 + 0.9 * var[t - 1]
        r[t] = 0.03 + np.sqrt(var[t]) * rng.standard_t(5) / np.sqrt(5 / 3)
    price = 100.0 * np.exp(np.cumsum(r / 100.0))
    dates = pd.bdate_range("2016-01-04", periods=T)
    return pd.DataFrame({"date": dates, "close": price})


def prepare_equity_volatility(df, holdout=50):
    """Percent log returns from closing prices; the last `holdout` days are held out."""
    df = df.sort_values("date").drop_duplicates("date")
    returns = 100.0 * np.diff(np.log(df["close"].to_numpy(dtype=np.float64)))
    returns = returns - returns.mean()
    return {
        "y": jnp.asarray(returns[:-holdout], dtype=jnp.float32),
        "y_test": jnp.asarray(returns[-holdout:], dtype=jnp.float32),
        "dates": df["date"].to_numpy()[1:],
        "T": len(returns) - holdout,
        "holdout": holdout,
    }


def load_equity_volatility(path=DATA_PATH, seed=0):
    path = Path(path)
    if path.suffix == ".parquet" and path.exists():
        df = pd.read_parquet(path)
    elif path.exists():
        df = pd.read_csv(path, low_memory=False)
    else:
        df = simulate_equity_volatility(seed=seed)
    df.columns = [c.strip().lower().replace(" ", "_") for c in df.columns]
    return prepare_equity_volatility(df)


# -------- models --------------------------------------------------------------------------------


def stochastic_volatility(T, y=None):
    """Log-variance h_t is a stationary AR(1); returns are Student-t given h_t."""
    mu_h = npr.sample("mu_h", dist.Normal(-1.0, 1.0))
    phi = npr.sample("phi", dist.Uniform(-1.0, 1.0))
    sigma_h = npr.sample("sigma_h", dist.HalfNormal(0.3))
    nu = npr.sample("nu", dist.Gamma(2.0, 0.1))
    h_0 = mu_h + sigma_h / jnp.sqrt(1.0 - phi**2) * npr.sample("z_0", dist.Normal(0.0, 1.0))

    def transition(h_prev, y_t):
        z = npr.sample("z", dist.Normal(0.0, 1.0))
        h = mu_h + phi * (h_prev - mu_h) + sigma_h * z
        npr.sample("y", dist.StudentT(nu, 0.0, jnp.exp(h / 2)), obs=y_t)
        return h, h

    _, h = scan(transition, h_0, y, length=T)
    npr.deterministic("volatility", jnp.exp(h / 2))


def garch11(T, y=None):
    """GARCH(1, 1) with Student-t innovations; stationarity a + b < 1 via a Dirichlet split."""
    mu = npr.sample("mu", dist.Normal(0.0, 0.1))
    omega = npr.sample("omega", dist.HalfNormal(0.2))
    weights = npr.sample("weights", dist.Dirichlet(jnp.array([2.0, 8.0, 2.0])))
    a, b = weights[0], weights[1]
    nu = npr.sample("nu", dist.Gamma(2.0, 0.1))
    var_0 = omega / (1.0 - a - b)

    def transition(carry, y_t):
        var, eps_prev = carry
        var = omega + a * eps_prev**2 + b * var
        y_t = npr.sample("y", dist.StudentT(nu, mu, jnp.sqrt(var)), obs=y_t)
        return (var, y_t - mu), jnp.sqrt(var)

    _, vol = scan(transition, (var_0, 0.0), y, length=T)
    npr.deterministic("conditional_volatility", vol)


def ar_model(T, y=None, p=2):
    """AR(p) around a constant, conditioned on the first p observations."""
    alpha = npr.sample("alpha", dist.Normal(0.0, 1.0))
    with npr.plate("lags", p):
        phi = npr.sample("phi", dist.Normal(0.0, 0.5))
    sigma = npr.sample("sigma", dist.Exponential(1.0))
    init = y[:p] if y is not None else jnp.zeros(p)

    def transition(window, y_t):
        mu = alpha + jnp.dot(phi, window[::-1])
        y_t = npr.sample("y", dist.Normal(mu, sigma), obs=y_t)
        return jnp.concatenate([window[1:], jnp.atleast_1d(y_t)]), mu

    _, mu = scan(transition, init, y[p:] if y is not None else None, length=T - p)
    npr.deterministic("mu", mu)


def forecast_ar(samples, y, horizon, rng_key, p=2):
    """Simulate `horizon` steps ahead for every posterior draw (pure JAX, no NumPyro)."""
    def one_draw(alpha, phi, sigma, key):
        def step(window, eps):
            y_next = alpha + jnp.dot(phi, window[::-1]) + sigma * eps
            return jnp.concatenate([window[1:], y_next[None]]), y_next
        eps = jr.normal(key, (horizon,))
        return jax.lax.scan(step, y[-p:], eps)[1]

    n = samples["alpha"].shape[0]
    keys = jr.split(rng_key, n)
    return jax.vmap(one_draw)(samples["alpha"], samples["phi"], samples["sigma"], keys)


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


def fit_stochastic_volatility(data, rng_key, settings):
    """NUTS fit of `stochastic_volatility`; returns the posterior draws, deterministic sites included."""
    mcmc = run_mcmc(
        stochastic_volatility,
        rng_key,
        settings,
        data["T"],
        y=data["y"],
    )
    return mcmc.get_samples()


def fit_garch11(data, rng_key, settings):
    """NUTS fit of `garch11`; returns the posterior draws, deterministic sites included."""
    mcmc = run_mcmc(
        garch11,
        rng_key,
        settings,
        data["T"],
        y=data["y"],
    )
    return mcmc.get_samples()


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


# -------- evaluation and plots ------------------------------------------------------------------


ModelSpec = namedtuple("ModelSpec", ["model", "fit", "args", "kwargs", "obs_site", "obs_key"])

MODELS = {
    "stochastic_volatility": ModelSpec(
        stochastic_volatility,
        fit_stochastic_volatility,
        lambda data: (data["T"],),
        lambda data: dict(y=data["y"]),
        obs_site="y",
        obs_key="y",
    ),
    "garch11": ModelSpec(
        garch11,
        fit_garch11,
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
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--out", default="results/equity_volatility")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main(settings):
    npr.set_platform(settings.device)
    npr.set_host_device_count(settings.num_chains)
    data = load_equity_volatility(settings.data, seed=settings.seed)
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
            for site in ("mu", "level", "rate", "infections", "volatility", "conditional_volatility"):
                if site in samples:
                    plot_fit(data["y"], samples[site], out_dir / f"{name}_{site}.png", title=name)
                    break
            plot_trace(samples, out_dir / f"{name}_trace.png")
    save_results(results, out_dir)


if __name__ == "__main__":
    main(parse_args())
