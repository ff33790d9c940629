# AR(1) and local-level (random walk plus noise) models written with
# numpyro.contrib.control_flow.scan, with a 12-step AR(1) forecast.
#
# Expected findings: none
# Must not flag: the observed site `y` inside each scan step (its data is one time step, and scan
#   stacks the steps); `eps ~ Normal(0, 1)` (the local level is non-centered); `Uniform(-1, 1)`.
import jax.numpy as jnp
import jax.random as random
import numpy as np

import numpyro
import numpyro.distributions as dist
from numpyro.contrib.control_flow import scan
from numpyro.infer import MCMC, NUTS, Predictive


def ar1(y0, T, y=None):
    """y_t = alpha + phi * y_{t-1} + sigma * e_t, conditioned on the first value y0."""
    alpha = numpyro.sample("alpha", dist.Normal(0.0, 2.0))
    phi = numpyro.sample("phi", dist.Uniform(-1.0, 1.0))
    sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))

    def transition(y_prev, y_obs):
        y_t = numpyro.sample("y", dist.Normal(alpha + phi * y_prev, sigma), obs=y_obs)
        return y_t, y_t

    scan(transition, y0, y, length=T)


def local_level(T, y=None):
    sigma_level = numpyro.sample("sigma_level", dist.HalfNormal(0.5))
    sigma_obs = numpyro.sample("sigma_obs", dist.HalfNormal(1.0))
    level0 = numpyro.sample("level0", dist.Normal(0.0, 5.0))

    def step(level, y_t):
        eps = numpyro.sample("eps", dist.Normal(0.0, 1.0))
        level = level + sigma_level * eps
        numpyro.sample("y", dist.Normal(level, sigma_obs), obs=y_t)
        return level, level

    _, levels = scan(step, level0, y, length=T)
    numpyro.deterministic("level", levels)


def simulate_ar1(T=200, alpha=0.3, phi=0.7, sigma=0.5, seed=3):
    rng = np.random.default_rng(seed)
    y = np.zeros(T, dtype=np.float32)
    for t in range(1, T):
        y[t] = alpha + phi * y[t - 1] + sigma * rng.normal()
    return jnp.asarray(y)


def run_nuts(model, rng_key, *args, **kwargs):
    mcmc = MCMC(NUTS(model), num_warmup=500, num_samples=500, progress_bar=False)
    mcmc.run(rng_key, *args, **kwargs)
    return mcmc.get_samples()


if __name__ == "__main__":
    y = simulate_ar1()
    rng_key = random.PRNGKey(0)
    rng_key, key_ar, key_forecast, key_ll = random.split(rng_key, 4)

    ar_samples = run_nuts(ar1, key_ar, y[0], y.shape[0] - 1, y=y[1:])
    print(f"phi: {ar_samples['phi'].mean():.3f}  sigma: {ar_samples['sigma'].mean():.3f}")

    horizon = 12
    forecast = Predictive(ar1, ar_samples, return_sites=["y"])(key_forecast, y[-1], horizon)["y"]
    lo, mid, hi = jnp.percentile(forecast, jnp.array([5.0, 50.0, 95.0]), axis=0)
    for h in range(horizon):
        print(f"t+{h + 1:2d}: {mid[h]:+.2f}  [{lo[h]:+.2f}, {hi[h]:+.2f}]")

    ll_samples = run_nuts(local_level, key_ll, y.shape[0], y=y)
    print(f"level noise: {ll_samples['sigma_level'].mean():.3f}  obs noise: {ll_samples['sigma_obs'].mean():.3f}")
