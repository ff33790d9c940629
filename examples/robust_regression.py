# Robust linear regression with Student-t noise for data with outliers. The author wanted the
# likelihood to "become Normal" once the degrees of freedom are large, and wrote a Python `if`.
#
# Expected findings:
#   NPL104  line 38: `if nu > 30:`
#           (`nu` is a sampled value, a tracer under NUTS: this raises TracerBoolConversionError;
#           a Student-t with large df already is nearly Normal, so drop the branch)
# Must not flag: `if y is not None and y.shape[0] != x.shape[0]` (tests on data);
#   `len(x)`; the `if` in `summarize`, which is not a model.
import argparse

import jax.numpy as jnp
import numpy as np
import jax.random as random

import numpyro
import numpyro.distributions as dist
from numpyro.infer import MCMC, NUTS


def make_data(n=100, outlier_frac=0.05, seed=8):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, n)
    y = 1.0 + 2.0 * x + rng.normal(0, 0.5, n)
    outliers = rng.random(n) < outlier_frac
    y[outliers] += rng.normal(0, 15, outliers.sum())
    return jnp.asarray(x, dtype=jnp.float32), jnp.asarray(y, dtype=jnp.float32)


def robust_regression(x, y=None):
    if y is not None and y.shape[0] != x.shape[0]:
        raise ValueError("x and y must have the same length")
    alpha = numpyro.sample("alpha", dist.Normal(0.0, 5.0))
    beta = numpyro.sample("beta", dist.Normal(0.0, 2.0))
    sigma = numpyro.sample("sigma", dist.HalfNormal(2.0))
    nu = numpyro.sample("nu", dist.Gamma(2.0, 0.1))
    mu = alpha + beta * x
    if nu > 30:
        likelihood = dist.Normal(mu, sigma)
    else:
        likelihood = dist.StudentT(nu, mu, sigma)
    with numpyro.plate("data", len(x)):
        numpyro.sample("y", likelihood, obs=y)


def summarize(samples, truth=(1.0, 2.0)):
    for name, true_value in zip(["alpha", "beta"], truth):
        mean = samples[name].mean()
        flag = "ok" if abs(mean - true_value) < 0.2 else "off"
        print(f"{name}: {mean:.3f} (true {true_value}) {flag}")
    if samples["nu"].mean() < 10:
        print("heavy tails: the outliers are being discounted")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--num-samples", type=int, default=1000)
    parser.add_argument("--num-warmup", type=int, default=1000)
    args = parser.parse_args()

    x, y = make_data()
    mcmc = MCMC(NUTS(robust_regression), num_warmup=args.num_warmup, num_samples=args.num_samples)
    mcmc.run(random.PRNGKey(0), x, y)
    summarize(mcmc.get_samples())
