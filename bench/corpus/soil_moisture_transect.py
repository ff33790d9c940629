"""Soil moisture along a hillslope transect.

Volumetric soil moisture measured along a 500 m transect; smooth spatial variation with a wet
hollow, modelled as a GP in distance.

Models:
    gp_regression: Exact GP with Gaussian noise; the latent function is integrated out.
    gp_latent_student_t: Latent GP with Student-t noise: f = L z, so the sampler works with z ~ N(0,
        I).
    hsgp_regression: Approximate GP: a linear model on m basis functions whose prior variances come
        from the kernel's spectral density.

Usage:
    python soil_moisture_transect.py --models gp_regression gp_latent_student_t --num-samples 1000 --plot

Data: data/transect.csv; when the file is missing a simulated data set with the same
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
from jax import random as jrandom

import numpyro
import numpyro.distributions as nd
from numpyro.diagnostics import summary
from numpyro.infer import MCMC, NUTS, Predictive

DATA_PATH = os.path.join(os.path.dirname(__file__), "data", "transect.csv")


# -------- data ----------------------------------------------------------------------------------


def simulate_soil_moisture_transect(n=150, seed=0):
    """Noisy volumetric soil moisture (%) against distance (m), smooth with one sharp feature."""
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0.0, 500.0, size=n))
    f = np.sin(x / 500.0 * 6.0) + 0.5 * np.exp(-((x - 0.7 * 500.0) ** 2) / (0.01 * 500.0**2))
    return pd.DataFrame({"distance_m": x, "moisture": 25.0 + f + rng.normal(0.0, 0.4, size=n)})


def prepare_soil_moisture_transect(df, n_test=150):
    x = df["distance_m"].to_numpy(dtype=np.float32)
    y = df["moisture"].to_numpy(dtype=np.float32)
    x_scale, y_mean, y_std = x.max(), y.mean(), y.std()
    return {
        "x": jnp.asarray(x / x_scale),
        "y": jnp.asarray((y - y_mean) / y_std),
        "x_test": jnp.linspace(0.0, 1.1, n_test),
        "x_scale": float(x_scale),
        "y_mean": float(y_mean),
        "y_std": float(y_std),
    }


def load_soil_moisture_transect(path=DATA_PATH, seed=0):
    """Read transect.csv if it is there; otherwise simulate data with the same layout."""
    if path is not None and os.path.exists(path):
        df = pd.read_csv(path)
    else:
        print(f"{path} not found: using simulated data")
        df = simulate_soil_moisture_transect(seed=seed)
    return prepare_soil_moisture_transect(df)


# -------- models --------------------------------------------------------------------------------


def kernel(X, Z, var, length, jitter=1.0e-6):
    """Squared-exponential covariance between the rows of X and Z."""
    d2 = (X[:, None] - Z[None, :]) ** 2
    k = var * jnp.exp(-0.5 * d2 / length**2)
    if X.shape == Z.shape:
        k = k + jitter * jnp.eye(X.shape[0])
    return k


def gp_regression(X, Y=None):
    """Exact GP with Gaussian noise; the latent function is integrated out."""
    var = numpyro.sample("kernel_var", nd.LogNormal(0.0, 1.0))
    length = numpyro.sample("kernel_length", nd.InverseGamma(5.0, 0.5))
    noise = numpyro.sample("kernel_noise", nd.HalfNormal(0.3))
    k = kernel(X, X, var, length) + noise**2 * jnp.eye(X.shape[0])
    numpyro.sample("Y", nd.MultivariateNormal(loc=jnp.zeros(X.shape[0]), covariance_matrix=k), obs=Y)


def gp_predict(rng_key, X, Y, X_test, var, length, noise):
    """Posterior predictive mean and one draw at X_test for one set of hyperparameters."""
    k_pp = kernel(X_test, X_test, var, length) + noise**2 * jnp.eye(X_test.shape[0])
    k_pX = kernel(X_test, X, var, length, jitter=0.0)
    k_XX = kernel(X, X, var, length) + noise**2 * jnp.eye(X.shape[0])
    K_xx_inv = jnp.linalg.inv(k_XX)
    cov = k_pp - jnp.matmul(k_pX, jnp.matmul(K_xx_inv, jnp.transpose(k_pX)))
    sigma_noise = jnp.sqrt(jnp.clip(jnp.diag(cov), 0.0)) * jrandom.normal(rng_key, X_test.shape[:1])
    mean = jnp.matmul(k_pX, jnp.matmul(K_xx_inv, Y))
    return mean, mean + sigma_noise


def gp_latent_student_t(x, y=None):
    """Latent GP with Student-t noise: f = L z, so the sampler works with z ~ N(0, I)."""
    n = x.shape[0]
    var = numpyro.sample("var", nd.LogNormal(0.0, 1.0))
    length = numpyro.sample("length", nd.InverseGamma(5.0, 1.0))
    d2 = (x[:, None] - x[None, :]) ** 2
    K = var * jnp.exp(-0.5 * d2 / length**2) + 1.0e-5 * jnp.eye(n)
    L = jnp.linalg.cholesky(K)
    with numpyro.plate("latent", n):
        z = numpyro.sample("z", nd.Normal(0.0, 1.0))
    f = numpyro.deterministic("f", L @ z)
    nu = numpyro.sample("nu", nd.Gamma(2.0, 0.1))
    sigma = numpyro.sample("sigma", nd.HalfNormal(0.3))
    with numpyro.plate("cores", n):
        numpyro.sample("y", nd.StudentT(nu, f, sigma), obs=y)


def hsgp_basis(x, m=20, L=2.0):
    """Laplacian eigenfunctions on [-L, L] (Solin & Sarkka 2020; Riutort-Mayol et al. 2023)."""
    j = jnp.arange(1, m + 1)
    sqrt_eigenvalues = jnp.pi * j / (2.0 * L)
    phi = jnp.sqrt(1.0 / L) * jnp.sin(sqrt_eigenvalues * (x[:, None] + L))
    return phi, sqrt_eigenvalues


def spectral_density_rbf(w, var, length):
    return var * jnp.sqrt(2.0 * jnp.pi) * length * jnp.exp(-0.5 * (length * w) ** 2)


def hsgp_regression(x, y=None, m=20, L=2.0):
    """Approximate GP: a linear model on m basis functions whose prior variances come from
    the kernel's spectral density. Scales to many thousands of points."""
    x_centered = x - 0.5
    phi, sqrt_eig = hsgp_basis(x_centered, m, L)
    var = numpyro.sample("var", nd.HalfNormal(1.0))
    length = numpyro.sample("length", nd.InverseGamma(5.0, 1.0))
    noise = numpyro.sample("noise", nd.HalfNormal(0.3))
    spd = jnp.sqrt(spectral_density_rbf(sqrt_eig, var, length))
    with numpyro.plate("basis", m):
        beta = numpyro.sample("beta", nd.Normal(0.0, 1.0))
    f = numpyro.deterministic("f", phi @ (spd * beta))
    with numpyro.plate("cores", x.shape[0]):
        numpyro.sample("y", nd.Normal(f, noise), obs=y)


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


def fit_gp_regression(data, rng_key, settings):
    """NUTS fit of `gp_regression`; returns the posterior draws, deterministic sites included."""
    mcmc = run_mcmc(
        gp_regression,
        rng_key,
        settings,
        data["x"],
        Y=data["y"],
    )
    return mcmc.get_samples()


def fit_gp_latent_student_t(data, rng_key, settings):
    mcmc = run_mcmc(gp_latent_student_t, rng_key, settings, data["x"], y=data["y"])
    return mcmc.get_samples()


def fit_hsgp_regression(data, rng_key, settings):
    """NUTS fit of `hsgp_regression`; returns the posterior draws, deterministic sites included."""
    mcmc = run_mcmc(
        hsgp_regression,
        rng_key,
        settings,
        data["x"],
        y=data["y"],
    )
    return mcmc.get_samples()


# -------- evaluation and plots ------------------------------------------------------------------


ModelSpec = namedtuple("ModelSpec", ["model", "fit", "args", "kwargs", "obs_site", "obs_key"])

MODELS = {
    "gp_regression": ModelSpec(
        gp_regression,
        fit_gp_regression,
        lambda data: (data["x"],),
        lambda data: dict(Y=data["y"]),
        obs_site="Y",
        obs_key="y",
    ),
    "gp_latent_student_t": ModelSpec(
        gp_latent_student_t,
        fit_gp_latent_student_t,
        lambda data: (data["x"],),
        lambda data: dict(y=data["y"]),
        obs_site="y",
        obs_key="y",
    ),
    "hsgp_regression": ModelSpec(
        hsgp_regression,
        fit_hsgp_regression,
        lambda data: (data["x"],),
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
    parser.add_argument("-n", "--num-samples", type=int, default=1000)
    parser.add_argument("--num-warmup", type=int, default=500)
    parser.add_argument("--num-chains", type=int, default=2)
    parser.add_argument("--target-accept", type=float, default=0.8)
    parser.add_argument("--max-tree-depth", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--out", default="results/soil_moisture_transect")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main():
    settings = parse_args()
    numpyro.set_platform(settings.device)
    if settings.num_chains > 1:
        numpyro.set_host_device_count(settings.num_chains)
    print(f"jax {jax.__version__}, numpyro {numpyro.__version__}, devices: {jax.devices()}")
    data = load_soil_moisture_transect(settings.data, seed=settings.seed)
    keys = jrandom.split(jrandom.PRNGKey(settings.seed), 2 * len(settings.models))
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
