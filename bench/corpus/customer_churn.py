"""Time to churn for subscription customers.

Tenure until cancellation for subscribers, censored at the data extract; plan and usage
covariates. Some customers never churn, hence the cure model.

Models:
    mixture_cure: A fraction pi of customers never experience the event; the rest follow a Weibull.
    weibull_aft: Weibull accelerated failure time; censored rows contribute log S(t).
    piecewise_exponential: Proportional hazards with a piecewise-constant baseline (Poisson trick);
        the log baseline hazards follow a random walk across intervals.

Usage:
    python customer_churn.py --models mixture_cure weibull_aft --num-samples 1000 --plot

Data: data/churn.csv; when the file is missing a simulated data set with the same
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
import jax.random as jr
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import numpyro as npr
import numpyro.distributions as dist
from numpyro import handlers
from numpyro.diagnostics import hpdi
from numpyro.infer import MCMC, NUTS, Predictive

DATA_PATH = os.path.join(os.path.dirname(__file__), "data", "churn.csv")
FEATURES = ['monthly_fee', 'usage_hours', 'support_calls', 'annual_plan']


def simulate_customer_churn(n=2000, seed=0, admin_censor=24.0):
    """Exponential event times with staggered entry: follow-up ends at a calendar cut-off, so
    later entrants are censored earlier. The first covariate is binary."""
    rng = np.random.default_rng(seed)
    frame = {name: rng.normal(size=n) for name in FEATURES}
    frame[FEATURES[0]] = rng.binomial(1, 0.5, size=n).astype(float)
    linear = sum(coef * frame[name] for name, coef in zip(FEATURES, [0.3, -0.5, 0.4, -0.8]))
    event_time = rng.exponential(np.exp(3.0 - linear))
    entry = rng.uniform(0.0, 0.5 * admin_censor, size=n)
    follow_up = admin_censor - entry
    frame["tenure"] = np.minimum(event_time, follow_up)
    frame["churned"] = (event_time <= follow_up).astype(int)
    return pd.DataFrame(frame)


def prepare_customer_churn(df, features=FEATURES):
    df = df[df["tenure"] > 0].reset_index(drop=True)
    X = df[list(features)].to_numpy(dtype=np.float32)
    X = (X - X.mean(0)) / X.std(0)
    time = df["tenure"].to_numpy(dtype=np.float32)
    print(f"{len(df)} customers, {df['churned'].mean():.1%} with an observed event")
    return {
        "X": jnp.asarray(X),
        "time": jnp.asarray(time),
        "event": jnp.asarray(df["churned"].to_numpy(dtype=np.int32)),
        "time_scale": float(np.median(time)),
        "features": list(features),
    }


def load_customer_churn(path=DATA_PATH, seed=0):
    path = Path(path)
    if path.suffix == ".parquet" and path.exists():
        df = pd.read_parquet(path)
    elif path.exists():
        df = pd.read_csv(path, low_memory=False)
    else:
        df = simulate_customer_churn(seed=seed)
    df.columns = [c.strip().lower().replace(" ", "_") for c in df.columns]
    return prepare_customer_churn(df)


def mixture_cure(X, time, event):
    """A fraction pi of customers never experience the event; the rest follow a Weibull."""
    with npr.plate("features", X.shape[1]):
        beta_cure = npr.sample("beta_cure", dist.Normal(0.0, 1.0))
        beta_time = npr.sample("beta_time", dist.Normal(0.0, 1.0))
    a_cure = npr.sample("a_cure", dist.Normal(-1.0, 1.5))
    a_time = npr.sample("a_time", dist.Normal(0.0, 2.0))
    k = npr.sample("k", dist.Gamma(2.0, 2.0))
    logit_pi = a_cure + X @ beta_cure
    scale = jnp.exp(a_time + X @ beta_time)
    log_pi, log_not_pi = jax.nn.log_sigmoid(logit_pi), jax.nn.log_sigmoid(-logit_pi)
    log_f = dist.Weibull(scale, k).log_prob(time)
    log_S = -((time / scale) ** k)
    ll_event = log_not_pi + log_f
    ll_censored = jnp.logaddexp(log_pi, log_not_pi + log_S)
    npr.factor("loglik", jnp.where(event == 1, ll_event, ll_censored).sum())
    npr.deterministic("cure_fraction", jax.nn.sigmoid(logit_pi).mean())


def weibull_aft(X, time, event):
    """Weibull accelerated failure time; censored rows contribute log S(t)."""
    with npr.plate("features", X.shape[1]):
        beta = npr.sample("beta", dist.Normal(0.0, 1.0))
    alpha = npr.sample("alpha", dist.Normal(0.0, 2.0))
    k = npr.sample("k", dist.HalfNormal(2.0))
    scale = jnp.exp(alpha + X @ beta)
    with npr.plate("customers", X.shape[0]):
        with handlers.mask(mask=event == 1):
            npr.sample("time", dist.Weibull(scale, k), obs=time)
        log_survival = -((time / scale) ** k)
        npr.factor("censored", jnp.where(event == 0, log_survival, 0.0))


def person_period(time, event, n_intervals=6):
    """Expand to the person-period layout: exposure and event indicator per interval."""
    time, event = np.asarray(time), np.asarray(event)
    cuts = np.quantile(time[event == 1], np.linspace(0, 1, n_intervals + 1))
    cuts[0], cuts[-1] = 0.0, np.inf
    lower, upper = cuts[:-1], cuts[1:]
    exposure = np.clip(time[:, None] - lower[None, :], 0.0, upper - lower)
    died = (event[:, None] == 1) & (time[:, None] > lower) & (time[:, None] <= upper)
    return jnp.asarray(exposure, dtype=jnp.float32), jnp.asarray(died.astype(np.int32))


def piecewise_exponential(X, exposure, died=None):
    """Proportional hazards with a piecewise-constant baseline (Poisson trick); the log
    baseline hazards follow a random walk across intervals."""
    n, n_intervals = exposure.shape
    with npr.plate("features", X.shape[1]):
        beta = npr.sample("beta", dist.Normal(0.0, 1.0))
    sigma_rw = npr.sample("sigma_rw", dist.HalfNormal(0.5))
    log_h0 = npr.sample("log_h0", dist.Normal(-1.0, 2.0))
    with npr.plate("intervals", n_intervals - 1):
        steps = npr.sample("steps", dist.Normal(0.0, 1.0))
    log_h = npr.deterministic("log_baseline", log_h0 + jnp.concatenate([jnp.zeros(1), jnp.cumsum(sigma_rw * steps)]))
    rate = exposure * jnp.exp(log_h[None, :] + (X @ beta)[:, None])
    with npr.plate("customers", n, dim=-2), npr.plate("periods", n_intervals, dim=-1):
        npr.sample("died", dist.Poisson(rate + 1e-10), obs=died)


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


def fit_mixture_cure(data, rng_key, settings):
    mcmc = run_mcmc(mixture_cure, rng_key, settings, data["X"], data["time"] / data["time_scale"], data["event"])
    return mcmc.get_samples()


def fit_weibull_aft(data, rng_key, settings):
    mcmc = run_mcmc(weibull_aft, rng_key, settings, data["X"], data["time"] / data["time_scale"], data["event"])
    return mcmc.get_samples()


def fit_piecewise_exponential(data, rng_key, settings):
    mcmc = run_mcmc(piecewise_exponential, rng_key, settings, data["X"], *person_period(data["time"] / data["time_scale"], data["event"]))
    return mcmc.get_samples()


ModelSpec = namedtuple("ModelSpec", ["model", "fit", "args", "kwargs", "obs_site", "obs_key"])

MODELS = {
    "mixture_cure": ModelSpec(
        mixture_cure,
        fit_mixture_cure,
        lambda data: (data["X"], data["time"] / data["time_scale"], data["event"]),
        lambda data: dict(),
        obs_site=None,
        obs_key=None,
    ),
    "weibull_aft": ModelSpec(
        weibull_aft,
        fit_weibull_aft,
        lambda data: (data["X"], data["time"] / data["time_scale"], data["event"]),
        lambda data: dict(),
        obs_site=None,
        obs_key=None,
    ),
    "piecewise_exponential": ModelSpec(
        piecewise_exponential,
        fit_piecewise_exponential,
        lambda data: (data["X"], *person_period(data["time"] / data["time_scale"], data["event"])),
        lambda data: dict(),
        obs_site=None,
        obs_key=None,
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


def kaplan_meier(time, event):
    """Product-limit estimate; returns step times and survival just after each."""
    order = np.argsort(time)
    time, event = np.asarray(time)[order], np.asarray(event)[order]
    at_risk = len(time) - np.arange(len(time))
    surv = np.cumprod(1.0 - event / at_risk)
    return time, surv


def plot_survival(data, out_path):
    t, s = kaplan_meier(data["time"], data["event"])
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.step(t, s, where="post", color="k", label="Kaplan-Meier")
    ax.set_xlabel("months")
    ax.set_ylabel("survival")
    ax.set_ylim(0, 1.02)
    ax.legend()
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
    parser.add_argument("--num-chains", type=int, default=1)
    parser.add_argument("--target-accept", type=float, default=0.95)
    parser.add_argument("--max-tree-depth", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--out", default="results/customer_churn")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main():
    settings = parse_args()
    npr.set_platform(settings.device)
    if settings.num_chains > 1:
        npr.set_host_device_count(settings.num_chains)
    print(f"jax {jax.__version__}, numpyro {npr.__version__}, devices: {jax.devices()}")
    data = load_customer_churn(settings.data, seed=settings.seed)
    keys = jr.split(jr.PRNGKey(settings.seed), 2 * len(settings.models))
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
            plot_survival(data, out_dir / "kaplan_meier.png")
            plot_trace(samples, out_dir / f"{name}_trace.png")
    save_results(results, out_dir)
    return results


if __name__ == "__main__":
    main()
