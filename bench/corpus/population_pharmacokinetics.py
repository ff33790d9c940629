"""Population pharmacokinetics of an oral drug.

Plasma concentrations after a single oral dose in healthy volunteers; a one-compartment model
with first-order absorption and log-normal between-subject variability.

Models:
    population_pk: Log-normal between-subject variability on ka, ke and V; proportional residual
        error.

Usage:
    python population_pharmacokinetics.py --models population_pk --num-samples 1000 --plot

Data: data/pk_conc.csv; when the file is missing a simulated data set with the same
columns is used, so the script always runs end to end.
"""

import argparse
import json
import os
from collections import namedtuple
from pathlib import Path
from time import perf_counter

import arviz as az
import jax
import jax.numpy as jnp
import jax.random as random
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from jax.scipy.special import logsumexp

import numpyro
from numpyro import distributions as D
from numpyro.diagnostics import hpdi, summary
from numpyro.infer import MCMC, NUTS, Predictive, init_to_median, log_likelihood

DATA_PATH = os.path.join(os.path.dirname(__file__), "data", "pk_conc.csv")


# -------- data ----------------------------------------------------------------------------------


def simulate_population_pharmacokinetics(n_subjects=24, dose=320.0, seed=0):
    """Plasma concentrations after one oral dose, sampled at fixed times per subject."""
    rng = np.random.default_rng(seed)
    times = np.array([0.25, 0.5, 1.0, 2.0, 4.0, 6.0, 8.0, 12.0, 24.0])
    log_ka = rng.normal(np.log(1.2), 0.3, size=n_subjects)
    log_ke = rng.normal(np.log(0.15), 0.25, size=n_subjects)
    log_v = rng.normal(np.log(30.0), 0.2, size=n_subjects)
    rows = []
    for s in range(n_subjects):
        ka, ke, v = np.exp(log_ka[s]), np.exp(log_ke[s]), np.exp(log_v[s])
        conc = dose * ka / (v * (ka - ke)) * (np.exp(-ke * times) - np.exp(-ka * times))
        observed = conc * np.exp(rng.normal(0.0, 0.15, size=times.shape[0]))
        rows += [(s, t, c) for t, c in zip(times, observed)]
    return pd.DataFrame(rows, columns=["subject", "time_h", "conc"])


def prepare_population_pharmacokinetics(df, lloq=0.05):
    """Drop samples below the lower limit of quantification (about 3% of rows)."""
    df = df[df["conc"] > lloq].reset_index(drop=True)
    subject, subjects = pd.factorize(df["subject"], sort=True)
    return {
        "subject": jnp.asarray(subject),
        "time": jnp.asarray(df["time_h"].to_numpy(dtype=np.float32)),
        "conc": jnp.asarray(df["conc"].to_numpy(dtype=np.float32)),
        "n_subjects": len(subjects),
        "dose": 320.0,
    }


def load_population_pharmacokinetics(path=DATA_PATH, seed=0):
    path = Path(path)
    if path.suffix == ".parquet" and path.exists():
        df = pd.read_parquet(path)
    elif path.exists():
        df = pd.read_csv(path, low_memory=False)
    else:
        df = simulate_population_pharmacokinetics(seed=seed)
    df.columns = [c.strip().lower().replace(" ", "_") for c in df.columns]
    return prepare_population_pharmacokinetics(df)


# -------- models --------------------------------------------------------------------------------


def one_compartment(dose, ka, ke, v, t):
    """Concentration after an oral dose in a one-compartment model with first-order absorption."""
    return dose * ka / (v * (ka - ke)) * (jnp.exp(-ke * t) - jnp.exp(-ka * t))


def population_pk(subject, time, n_subjects, dose, conc=None):
    """Log-normal between-subject variability on ka, ke and V; proportional residual error."""
    mu_log = numpyro.sample("mu_log", D.Normal(jnp.log(jnp.array([1.0, 0.1, 25.0])), 0.5).to_event(1))
    omega = numpyro.sample("omega", D.HalfNormal(0.3).expand([3]).to_event(1))
    sigma = numpyro.sample("sigma", D.HalfNormal(0.2))
    with numpyro.plate("subjects", n_subjects):
        eta = numpyro.sample("eta", D.Normal(0.0, 1.0).expand([3]).to_event(1))
    log_params = mu_log + omega * eta
    ka, ke, v = (jnp.exp(log_params[:, i]) for i in range(3))
    pred = one_compartment(dose, ka[subject], ke[subject] + 1e-3, v[subject], time)
    with numpyro.plate("samples", time.shape[0]):
        numpyro.sample("conc", D.LogNormal(jnp.log(jnp.clip(pred, 1e-6)), sigma), obs=conc)


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


def fit_population_pk(data, rng_key, settings):
    """NUTS fit of `population_pk`; returns the posterior draws, deterministic sites included."""
    mcmc = run_mcmc(
        population_pk,
        rng_key,
        settings,
        data["subject"], data["time"], data["n_subjects"], data["dose"],
        conc=data["conc"],
    )
    return mcmc.get_samples()


# -------- evaluation and plots ------------------------------------------------------------------


ModelSpec = namedtuple("ModelSpec", ["model", "fit", "args", "kwargs", "obs_site", "obs_key"])

MODELS = {
    "population_pk": ModelSpec(
        population_pk,
        fit_population_pk,
        lambda data: (data["subject"], data["time"], data["n_subjects"], data["dose"]),
        lambda data: dict(conc=data["conc"]),
        obs_site="conc",
        obs_key="conc",
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
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "metrics.json", "w") as f:
        json.dump(results, f, indent=2, default=float)
    table = pd.DataFrame(results.values()).set_index("model")
    table.to_csv(out_dir / "metrics.csv")
    print(table.round(3).to_string())


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
    parser.add_argument("--num-chains", type=int, default=2)
    parser.add_argument("--target-accept", type=float, default=0.9)
    parser.add_argument("--max-tree-depth", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--out", default="results/population_pharmacokinetics")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main():
    settings = parse_args()
    numpyro.set_platform(settings.device)
    if settings.num_chains > 1:
        numpyro.set_host_device_count(settings.num_chains)
    print(f"jax {jax.__version__}, numpyro {numpyro.__version__}, devices: {jax.devices()}")
    data = load_population_pharmacokinetics(settings.data, seed=settings.seed)
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
            plot_trace(samples, out_dir / f"{name}_trace.png")
    save_results(results, out_dir)
    return results


if __name__ == "__main__":
    main()
