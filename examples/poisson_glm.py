# Claim counts per policy: Poisson GLM with a log-exposure offset, written without plates, and an
# overdispersed negative-binomial variant written with them.
#
# Expected findings, both in the pedantic tier (`--extend-select pedantic`): harmless under NUTS:
#   NPL202  line 39: `beta = numpyro.sample("beta", Normal(jnp.zeros(X.shape[1]), 1.0))`
#           (a vector of coefficients outside any plate and without `.to_event(1)`)
#   NPL201  line 41: `numpyro.sample("claims", Poisson(rate), obs=claims)`
#           (array data observed outside any plate; `rate` is as large as the data, so only
#           enumeration would break; wrap it in `numpyro.plate("policies", n)`)
# Must not flag: in `negative_binomial_glm`, the observation inside its plate and `beta` inside
#   the `features` plate; `phi ~ Exponential(1.0)`.
import jax.numpy as jnp
import numpy as np
from jax import random

import numpyro
from numpyro.distributions import Exponential, GammaPoisson, Normal, Poisson
from numpyro.infer import MCMC, NUTS, Predictive

FEATURES = ["driver_age", "vehicle_age", "urban", "prior_claims"]


def load_policies(n=1500, seed=11):
    rng = np.random.default_rng(seed)
    X = np.column_stack([
        rng.normal(0, 1, n),            # standardized driver age
        rng.normal(0, 1, n),            # standardized vehicle age
        rng.binomial(1, 0.4, n),        # urban
        rng.poisson(0.3, n),            # claims in the previous three years
    ]).astype(np.float32)
    exposure = rng.uniform(0.1, 1.0, n).astype(np.float32)  # policy-years
    rate = exposure * np.exp(-2.0 - 0.3 * X[:, 0] + 0.1 * X[:, 1] + 0.5 * X[:, 2] + 0.4 * X[:, 3])
    claims = rng.poisson(rate)
    return jnp.asarray(X), jnp.asarray(exposure), jnp.asarray(claims)


def poisson_glm(X, exposure, claims=None):
    intercept = numpyro.sample("intercept", Normal(-2.0, 1.0))
    beta = numpyro.sample("beta", Normal(jnp.zeros(X.shape[1]), 1.0))
    rate = jnp.exp(jnp.log(exposure) + intercept + X @ beta)
    numpyro.sample("claims", Poisson(rate), obs=claims)


def negative_binomial_glm(X, exposure, claims=None):
    intercept = numpyro.sample("intercept", Normal(-2.0, 1.0))
    with numpyro.plate("features", X.shape[1]):
        beta = numpyro.sample("beta", Normal(0.0, 1.0))
    phi = numpyro.sample("phi", Exponential(1.0))
    rate = jnp.exp(jnp.log(exposure) + intercept + X @ beta)
    with numpyro.plate("policies", X.shape[0]):
        numpyro.sample("claims", GammaPoisson(phi, phi / rate), obs=claims)


def fit_and_check(model, rng_key, X, exposure, claims):
    rng_key, rng_key_ppc = random.split(rng_key)
    mcmc = MCMC(NUTS(model), num_warmup=500, num_samples=1000, progress_bar=False)
    mcmc.run(rng_key, X, exposure, claims=claims)
    samples = mcmc.get_samples()
    replicated = Predictive(model, samples)(rng_key_ppc, X, exposure)["claims"]
    zeros_rep = (replicated == 0).mean()
    print(f"{model.__name__}: observed zeros {(claims == 0).mean():.3f}, replicated {zeros_rep:.3f}")
    return samples


if __name__ == "__main__":
    X, exposure, claims = load_policies()
    rng_key_pois, rng_key_nb = random.split(random.PRNGKey(0))
    pois = fit_and_check(poisson_glm, rng_key_pois, X, exposure, claims)
    nb = fit_and_check(negative_binomial_glm, rng_key_nb, X, exposure, claims)
    for name, b_pois, b_nb in zip(FEATURES, pois["beta"].mean(0), nb["beta"].mean(0)):
        print(f"{name:>12}: poisson {b_pois:+.3f}  neg-binomial {b_nb:+.3f}")
