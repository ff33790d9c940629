# Stochastic volatility for daily log returns (Kim, Shephard & Chib 1998): the log variance h_t
# follows a stationary AR(1). This first version unrolls the time series in a Python loop.
#
# Expected findings:
#   NPL203  line 37: `h.append(sample(f"h_{t}", dist.Normal(mu + phi * (h[t - 1] - mu), sigma)))`
#           (one site per time step: T sites, slow compilation and a huge trace; use
#           numpyro.contrib.control_flow.scan)
# Must not flag: `h.append` (the list is created inside the model); the returns observed inside
#   the `days` plate; the bare `sample`/`plate` imported from numpyro.
import jax.numpy as jnp
import numpy as np
from jax import random

import numpyro.distributions as dist
from numpyro import deterministic, plate, sample
from numpyro.infer import MCMC, NUTS, init_to_median


def load_returns(T=120, seed=5):
    """Simulated percentage log returns with volatility clustering."""
    rng = np.random.default_rng(seed)
    h = np.empty(T)
    h[0] = -0.5
    for t in range(1, T):
        h[t] = -0.5 + 0.95 * (h[t - 1] + 0.5) + 0.25 * rng.normal()
    return jnp.asarray(np.exp(h / 2) * rng.normal(size=T), dtype=jnp.float32)


def stochastic_volatility(returns):
    T = returns.shape[0]
    mu = sample("mu", dist.Normal(-1.0, 1.0))
    phi = sample("phi", dist.Uniform(-1.0, 1.0))
    sigma = sample("sigma", dist.HalfNormal(0.5))

    h = [sample("h_0", dist.Normal(mu, sigma / jnp.sqrt(1.0 - phi**2)))]
    for t in range(1, T):
        h.append(sample(f"h_{t}", dist.Normal(mu + phi * (h[t - 1] - mu), sigma)))
    h = deterministic("h", jnp.stack(h))

    with plate("days", T):
        sample("returns", dist.Normal(0.0, jnp.exp(h / 2)), obs=returns)


if __name__ == "__main__":
    returns = load_returns()
    kernel = NUTS(stochastic_volatility, init_strategy=init_to_median, max_tree_depth=8)
    mcmc = MCMC(kernel, num_warmup=500, num_samples=500)
    mcmc.run(random.PRNGKey(1), returns)

    samples = mcmc.get_samples()
    vol = jnp.exp(samples["h"] / 2).mean(0)
    print(f"phi: {samples['phi'].mean():.3f}, sigma: {samples['sigma'].mean():.3f}")
    print("posterior mean volatility, last 10 days:", jnp.round(vol[-10:], 3))
