"""Exchange-rate risk for a currency pair.

Percent log returns of a currency pair; the volatility path feeds a value-at-risk estimate. Two
volatility models are compared out of sample.

Models:
    garch11: GARCH(1, 1) with Student-t innovations; stationarity a + b < 1 via a Dirichlet split.
    stochastic_volatility: Log-variance h_t is a stationary AR(1); returns are Student-t given h_t.

Usage:
    python fx_risk.py --models garch11 stochastic_volatility --num-samples 1000 --plot

Data: data/eurusd.csv; when the file is missing a simulated data set with the same
columns is used, so the script always runs end to end.
"""

import argparse
import json
import os
from collections import namedtuple
from pathlib import Path
from time import perf_counter

import arviz as az
import jax.numpy as jnp
import jax.random as random
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import numpyro
from numpyro import distributions as D
from numpyro.contrib.control_flow import scan
from numpyro.diagnostics import summary
from numpyro.infer import MCMC, NUTS, Predictive

DATA_PATH = os.environ.get("FX_RISK_DATA", "data/eurusd.csv")


# -------- data ----------------------------------------------------------------------------------


def simulate_fx_risk(T=1200, seed=0):
    """Daily log returns in percent with GARCH-like volatility clustering and fat tails."""
    rng = np.random.default_rng(seed)
    var = np.empty(T)
    r = np.empty(T)
    var[0] = 1.0
    r[0] = rng.standard_t(5) * np.sqrt(var[0])
    for t in range(1, T):
        var[t] = 0.05 + 0.08 * r[t - 1] ** 2 + 0.9 * var[t - 1]
        r[t] = 0.03 + np.sqrt(var[t]) * rng.standard_t(5) / np.sqrt(5 / 3)
    price = 1.1 * np.exp(np.cumsum(r / 100.0))
    dates = pd.bdate_range("2016-01-04", periods=T)
    return pd.DataFrame({"date": dates, "close": price})


def prepare_fx_risk(df, holdout=40):
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


def load_fx_risk(path=DATA_PATH, seed=0):
    path = Path(path)
    if path.suffix == ".parquet" and path.exists():
        df = pd.read_parquet(path)
    elif path.exists():
        df = pd.read_csv(path, low_memory=False)
    else:
        df = simulate_fx_risk(seed=seed)
    df.columns = [c.strip().lower().replace(" ", "_") for c in df.columns]
    return prepare_fx_risk(df)


# -------- models --------------------------------------------------------------------------------


def garch11(T, y=None):
    """GARCH(1, 1) with Student-t innovations; stationarity a + b < 1 via a Dirichlet split."""
    mu = numpyro.sample("mu", D.Normal(0.0, 0.1))
    omega = numpyro.sample("omega", D.HalfNormal(0.2))
    weights = numpyro.sample("weights", D.Dirichlet(jnp.array([1.0, 6.0, 1.0])))
    a, b = weights[0], weights[1]
    nu = numpyro.sample("nu", D.Gamma(2.0, 0.1))
    var_0 = omega / (1.0 - a - b)

    def transition(carry, y_t):
        var, eps_prev = carry
        var = omega + a * eps_prev**2 + b * var
        y_t = numpyro.sample("y", D.StudentT(nu, mu, jnp.sqrt(var)), obs=y_t)
        return (var, y_t - mu), jnp.sqrt(var)

    _, vol = scan(transition, (var_0, 0.0), y, length=T)
    numpyro.deterministic("conditional_volatility", vol)


def stochastic_volatility(T, y=None):
    """Log-variance h_t is a stationary AR(1); returns are Student-t given h_t."""
    mu_h = numpyro.sample("mu_h", D.Normal(-1.0, 1.0))
    phi = numpyro.sample("phi", D.Uniform(-1.0, 1.0))
    sigma_h = numpyro.sample("sigma_h", D.HalfNormal(0.3))
    nu = numpyro.sample("nu", D.Gamma(2.0, 0.1))
    h_0 = mu_h + sigma_h / jnp.sqrt(1.0 - phi**2) * numpyro.sample("z_0", D.Normal(0.0, 1.0))

    def transition(h_prev, y_t):
        z = numpyro.sample("z", D.Normal(0.0, 1.0))
        h = mu_h + phi * (h_prev - mu_h) + sigma_h * z
        numpyro.sample("y", D.StudentT(nu, 0.0, jnp.exp(h / 2)), obs=y_t)
        return h, h

    _, h = scan(transition, h_0, y, length=T)
    numpyro.deterministic("volatility", jnp.exp(h / 2))


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


def fit_stochastic_volatility(data, rng_key, settings):
    mcmc = run_mcmc(stochastic_volatility, rng_key, settings, data["T"], y=data["y"])
    return mcmc.get_samples()


# -------- evaluation and plots ------------------------------------------------------------------


ModelSpec = namedtuple("ModelSpec", ["model", "fit", "args", "kwargs", "obs_site", "obs_key"])

MODELS = {
    "garch11": ModelSpec(
        garch11,
        fit_garch11,
        lambda data: (data["T"],),
        lambda data: dict(y=data["y"]),
        obs_site="y",
        obs_key="y",
    ),
    "stochastic_volatility": ModelSpec(
        stochastic_volatility,
        fit_stochastic_volatility,
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
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "metrics.json", "w") as f:
        json.dump(results, f, indent=2, default=float)
    table = pd.DataFrame(results.values()).set_index("model")
    table.to_csv(out_dir / "metrics.csv")
    print(table.round(3).to_string())


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
    parser.add_argument("--num-warmup", type=int, default=500)
    parser.add_argument("--num-chains", type=int, default=1)
    parser.add_argument("--target-accept", type=float, default=0.8)
    parser.add_argument("--max-tree-depth", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--out", default="results/fx_risk")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main(settings):
    numpyro.set_platform(settings.device)
    numpyro.set_host_device_count(settings.num_chains)
    data = load_fx_risk(settings.data, seed=settings.seed)
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
