"""Gaussian process regression for atmospheric CO2.

Monthly CO2 anomalies after removing the linear trend; exact GP, a Hilbert-space approximation
and a latent GP with Student-t noise for the outlying months.

Models:
    gp_regression: Exact GP with Gaussian noise; the latent function is integrated out.
    hsgp_regression: Approximate GP: a linear model on m basis functions whose prior variances come
        from the kernel's spectral density.
    gp_latent_student_t: Latent GP with Student-t noise: f = L z, so the sampler works with z ~ N(0,
        I).

Usage:
    python co2_concentration.py --models gp_regression hsgp_regression --num-samples 1000 --plot

Data: data/co2_monthly.csv; when the file is missing a simulated data set with the same
columns is used, so the script always runs end to end.
"""

import argparse
import json
import os
from collections import namedtuple
from datetime import datetime
from pathlib import Path
from time import perf_counter

import jax.numpy as jnp
import jax.random as random
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from jax.scipy.special import logsumexp

import numpyro
from numpyro import distributions as D
from numpyro.diagnostics import hpdi
from numpyro.infer import MCMC, NUTS, Predictive, SVI, Trace_ELBO, log_likelihood
from numpyro.infer.autoguide import AutoMultivariateNormal
from numpyro.optim import Adam

DATA_PATH = os.environ.get("CO2_CONCENTRATION_DATA", "data/co2_monthly.csv")


# -------- data ----------------------------------------------------------------------------------


def simulate_co2_concentration(n=300, seed=0):
    """Noisy CO2 anomaly (ppm) against months since 1990, smooth with one sharp feature."""
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0.0, 400.0, size=n))
    f = np.sin(x / 400.0 * 6.0) + 0.5 * np.exp(-((x - 0.7 * 400.0) ** 2) / (0.01 * 400.0**2))
    return pd.DataFrame({"month": x, "co2_anomaly": 0.0 + f + rng.normal(0.0, 0.3, size=n)})


def prepare_co2_concentration(df, n_test=200):
    x = df["month"].to_numpy(dtype=np.float32)
    y = df["co2_anomaly"].to_numpy(dtype=np.float32)
    x_scale, y_mean, y_std = x.max(), y.mean(), y.std()
    return {
        "x": jnp.asarray(x / x_scale),
        "y": jnp.asarray((y - y_mean) / y_std),
        "x_test": jnp.linspace(0.0, 1.1, n_test),
        "x_scale": float(x_scale),
        "y_mean": float(y_mean),
        "y_std": float(y_std),
    }


def load_co2_concentration(path=DATA_PATH, seed=0):
    path = Path(path)
    if path.suffix == ".parquet" and path.exists():
        df = pd.read_parquet(path)
    elif path.exists():
        df = pd.read_csv(path, low_memory=False)
    else:
        df = simulate_co2_concentration(seed=seed)
    df.columns = [c.strip().lower().replace(" ", "_") for c in df.columns]
    return prepare_co2_concentration(df)


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
    var = numpyro.sample("kernel_var", D.LogNormal(0.0, 1.0))
    length = numpyro.sample("kernel_length", D.InverseGamma(5.0, 0.5))
    noise = numpyro.sample("kernel_noise", D.HalfNormal(0.3))
    k = kernel(X, X, var, length) + noise**2 * jnp.eye(X.shape[0])
    numpyro.sample("Y", D.MultivariateNormal(loc=jnp.zeros(X.shape[0]), covariance_matrix=k), obs=Y)


def gp_predict(rng_key, X, Y, X_test, var, length, noise):
    """Posterior predictive mean and one draw at X_test for one set of hyperparameters."""
    k_pp = kernel(X_test, X_test, var, length) + noise**2 * jnp.eye(X_test.shape[0])
    k_pX = kernel(X_test, X, var, length, jitter=0.0)
    k_XX = kernel(X, X, var, length) + noise**2 * jnp.eye(X.shape[0])
    K_xx_inv = jnp.linalg.inv(k_XX)
    cov = k_pp - jnp.matmul(k_pX, jnp.matmul(K_xx_inv, jnp.transpose(k_pX)))
    sigma_noise = jnp.sqrt(jnp.clip(jnp.diag(cov), 0.0)) * random.normal(rng_key, X_test.shape[:1])
    mean = jnp.matmul(k_pX, jnp.matmul(K_xx_inv, Y))
    return mean, mean + sigma_noise


def hsgp_basis(x, m=20, L=1.5):
    """Laplacian eigenfunctions on [-L, L] (Solin & Sarkka 2020; Riutort-Mayol et al. 2023)."""
    j = jnp.arange(1, m + 1)
    sqrt_eigenvalues = jnp.pi * j / (2.0 * L)
    phi = jnp.sqrt(1.0 / L) * jnp.sin(sqrt_eigenvalues * (x[:, None] + L))
    return phi, sqrt_eigenvalues


def spectral_density_rbf(w, var, length):
    return var * jnp.sqrt(2.0 * jnp.pi) * length * jnp.exp(-0.5 * (length * w) ** 2)


def hsgp_regression(x, y=None, m=20, L=1.5):
    """Approximate GP: a linear model on m basis functions whose prior variances come from
    the kernel's spectral density. Scales to many thousands of points."""
    x_centered = x - 0.5
    phi, sqrt_eig = hsgp_basis(x_centered, m, L)
    var = numpyro.sample("var", D.Gamma(0.001, 0.001))
    length = numpyro.sample("length", D.InverseGamma(5.0, 1.0))
    noise = numpyro.sample("noise", D.HalfNormal(0.3))
    spd = jnp.sqrt(spectral_density_rbf(sqrt_eig, var, length))
    with numpyro.plate("basis", m):
        beta = numpyro.sample("beta", D.Normal(0.0, 1.0))
    f = numpyro.deterministic("f", phi @ (spd * beta))
    with numpyro.plate("months", x.shape[0]):
        numpyro.sample("y", D.Normal(f, noise), obs=y)


def gp_latent_student_t(x, y=None):
    """Latent GP with Student-t noise: f = L z, so the sampler works with z ~ N(0, I)."""
    n = x.shape[0]
    var = numpyro.sample("var", D.LogNormal(0.0, 1.0))
    length = numpyro.sample("length", D.InverseGamma(5.0, 1.0))
    d2 = (x[:, None] - x[None, :]) ** 2
    K = var * jnp.exp(-0.5 * d2 / length**2) + 1.0e-5 * jnp.eye(n)
    L = jnp.linalg.cholesky(K)
    with numpyro.plate("latent", n):
        z = numpyro.sample("z", D.Normal(0.0, 1.0))
    f = numpyro.deterministic("f", L @ z)
    nu = numpyro.sample("nu", D.Gamma(2.0, 0.1))
    sigma = numpyro.sample("sigma", D.HalfNormal(0.3))
    with numpyro.plate("months", n):
        numpyro.sample("y", D.StudentT(nu, f, sigma), obs=y)


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


def run_svi(model, rng_key, settings, *model_args, guide_class=AutoMultivariateNormal, **model_kwargs):
    """Fit an autoguide and return posterior draws in the same format as MCMC."""
    guide = guide_class(model)
    svi = SVI(model, guide, Adam(settings.learning_rate), Trace_ELBO(num_particles=settings.num_particles))
    rng_key, rng_key_post = random.split(rng_key)
    result = svi.run(rng_key, settings.num_steps, *model_args, progress_bar=False, **model_kwargs)
    samples = guide.sample_posterior(
        rng_key_post, result.params, *model_args, sample_shape=(settings.num_samples,), **model_kwargs
    )
    return samples, result.losses


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


def fit_hsgp_regression(data, rng_key, settings):
    samples, losses = run_svi(hsgp_regression, rng_key, settings, data["x"], y=data["y"])
    print(f"hsgp_regression: final loss {float(losses[-1]):.1f} after {len(losses)} steps")
    return samples


def fit_gp_latent_student_t(data, rng_key, settings):
    mcmc = run_mcmc(gp_latent_student_t, rng_key, settings, data["x"], y=data["y"])
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
    "hsgp_regression": ModelSpec(
        hsgp_regression,
        fit_hsgp_regression,
        lambda data: (data["x"],),
        lambda data: dict(y=data["y"]),
        obs_site="y",
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
    """One JSON file per run, named by its start time, so reruns never overwrite results."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"metrics-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(results, indent=2, default=float))
    ranked = sorted(results.values(), key=lambda m: m.get("waic", -m.get("coverage", 0.0)))
    print(f"wrote {path}")
    for rank, metrics in enumerate(ranked, start=1):
        print(f"  {rank}. {metrics['model']}")


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
    parser.add_argument("--num-warmup", type=int, default=1500)
    parser.add_argument("--num-chains", type=int, default=2)
    parser.add_argument("--target-accept", type=float, default=0.9)
    parser.add_argument("--max-tree-depth", type=int, default=10)
    parser.add_argument("--num-steps", type=int, default=20000)
    parser.add_argument("--learning-rate", type=float, default=0.005)
    parser.add_argument("--num-particles", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--out", default="results/co2_concentration")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main(settings):
    numpyro.set_platform(settings.device)
    numpyro.set_host_device_count(settings.num_chains)
    data = load_co2_concentration(settings.data, seed=settings.seed)
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
            plot_trace(samples, out_dir / f"{name}_trace.png")
    save_results(results, out_dir)


if __name__ == "__main__":
    main(parse_args())
