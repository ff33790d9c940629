# Radon: varying-intercept linear regression of log radon on floor, counties as groups
# (Gelman & Hill 2007, ch. 12), on simulated data shaped like the Minnesota survey; ported from Stan.
#
# Expected findings:
#   NPL501  line 42: `alpha = numpyro.sample("alpha", dist.Normal(mu_alpha, sigma_alpha))`
#           (centered county intercepts whose scale is the latent `sigma_alpha`)
#   NPL404  line 39: `sigma_y = numpyro.sample("sigma_y", dist.Cauchy(0.0, 5.0))  # Stan: real<lower=0> sigma_y;`
#           (real-line prior used as the observation scale: the `<lower=0>` of the Stan original
#           was lost in translation; use HalfCauchy)
# Must not flag: `np.random.default_rng` in `simulate_radon` (not a model); the observation inside the
#   `households` plate; `beta ~ Normal(0, 10)`; the model passed through functools.partial.
from functools import partial

import jax.numpy as jnp
import numpy as np
from jax import random

import numpyro
import numpyro.distributions as dist
from numpyro.infer import MCMC, NUTS, Predictive


def simulate_radon(n_counties=85, n_households=919, seed=0):
    """Households scattered unevenly over counties; floor = 1 for a first-floor measurement."""
    rng = np.random.default_rng(seed)
    county_sizes = rng.dirichlet(np.full(n_counties, 0.7)) * n_households
    county = np.repeat(np.arange(n_counties), np.maximum(county_sizes.round().astype(int), 1))
    county = county[:n_households]
    floor = rng.binomial(1, 0.17, size=county.shape[0])
    county_effect = rng.normal(1.45, 0.33, size=n_counties)
    log_radon = county_effect[county] - 0.69 * floor + rng.normal(0.0, 0.73, size=county.shape[0])
    return county, floor.astype(np.float32), log_radon.astype(np.float32)


def radon_model(county, floor, n_counties, log_radon=None):
    mu_alpha = numpyro.sample("mu_alpha", dist.Normal(0.0, 10.0))
    sigma_alpha = numpyro.sample("sigma_alpha", dist.HalfNormal(5.0))
    beta = numpyro.sample("beta", dist.Normal(0.0, 10.0))
    sigma_y = numpyro.sample("sigma_y", dist.Cauchy(0.0, 5.0))  # Stan: real<lower=0> sigma_y;

    with numpyro.plate("counties", n_counties):
        alpha = numpyro.sample("alpha", dist.Normal(mu_alpha, sigma_alpha))

    mu = alpha[county] + beta * floor
    with numpyro.plate("households", county.shape[0]):
        numpyro.sample("log_radon", dist.Normal(mu, sigma_y), obs=log_radon)


if __name__ == "__main__":
    county, floor, log_radon = simulate_radon()
    n_counties = int(county.max()) + 1
    county, floor, log_radon = jnp.asarray(county), jnp.asarray(floor), jnp.asarray(log_radon)
    model = partial(radon_model, n_counties=n_counties)

    rng_key, rng_key_predict = random.split(random.PRNGKey(0))
    mcmc = MCMC(NUTS(model), num_warmup=1000, num_samples=1000, num_chains=1)
    mcmc.run(rng_key, county, floor, log_radon=log_radon)
    mcmc.print_summary(exclude_deterministic=True)

    samples = mcmc.get_samples()
    predictions = Predictive(model, samples)(rng_key_predict, county, floor)["log_radon"]
    rmse = jnp.sqrt(jnp.mean((predictions.mean(0) - log_radon) ** 2))
    print(f"posterior predictive RMSE: {rmse:.3f}")
    print(f"floor effect: {samples['beta'].mean():.2f} +/- {samples['beta'].std():.2f}")
