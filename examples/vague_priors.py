# Systolic blood pressure on age and BMI, translated line by line from a WinBUGS script:
# dnorm(0, 1.0E-6) becomes Normal(0, 1000) and dgamma(0.001, 0.001) stays a precision prior.
# A weakly informative version on standardized predictors follows for comparison.
#
# Expected findings:
#   NPL401  line 32: `alpha = numpyro.sample("alpha", dist.Normal(0.0, 1000.0))`
#   NPL401  line 34: `beta = numpyro.sample("beta", dist.Normal(0.0, 1000.0))`
#   NPL402  line 35: `tau = numpyro.sample("tau", dist.Gamma(0.001, 0.001))`
# Must not flag: the priors in `weakly_informative_regression` (scales 10, 2.5 and 5); `sigma`,
#   which is computed from `tau`, not sampled; `key` in the `for` loop (the loop rebinds it).
import jax.numpy as jnp
import numpy as np
from jax import random

import numpyro
import numpyro.distributions as dist
from numpyro.infer import MCMC, NUTS

numpyro.set_platform("cpu")


def load_bp(n=250, seed=1):
    rng = np.random.default_rng(seed)
    age = rng.uniform(25, 75, n)
    bmi = rng.normal(27, 4, n)
    sbp = 95 + 0.55 * age + 0.8 * bmi + rng.normal(0, 11, n)
    X = np.column_stack([age, bmi]).astype(np.float32)
    return jnp.asarray(X), jnp.asarray(sbp, dtype=jnp.float32)


def bugs_regression(X, sbp=None):
    alpha = numpyro.sample("alpha", dist.Normal(0.0, 1000.0))
    with numpyro.plate("coefficients", X.shape[1]):
        beta = numpyro.sample("beta", dist.Normal(0.0, 1000.0))
    tau = numpyro.sample("tau", dist.Gamma(0.001, 0.001))
    sigma = numpyro.deterministic("sigma", 1.0 / jnp.sqrt(tau))
    with numpyro.plate("patients", X.shape[0]):
        numpyro.sample("sbp", dist.Normal(alpha + X @ beta, sigma), obs=sbp)


def weakly_informative_regression(X, sbp=None):
    """Standardize inside the model so that unit-scale priors mean something."""
    X_std = (X - X.mean(0)) / X.std(0)
    alpha = numpyro.sample("alpha", dist.Normal(130.0, 10.0))
    with numpyro.plate("coefficients", X.shape[1]):
        beta = numpyro.sample("beta", dist.Normal(0.0, 2.5))
    sigma = numpyro.sample("sigma", dist.HalfNormal(5.0))
    with numpyro.plate("patients", X.shape[0]):
        numpyro.sample("sbp", dist.Normal(alpha + X_std @ beta, sigma), obs=sbp)


if __name__ == "__main__":
    X, sbp = load_bp()
    key_bugs, key_weak = random.split(random.PRNGKey(0))
    for key, model in [(key_bugs, bugs_regression), (key_weak, weakly_informative_regression)]:
        mcmc = MCMC(NUTS(model), num_warmup=1000, num_samples=1000, progress_bar=False)
        mcmc.run(key, X, sbp=sbp)
        print(f"== {model.__name__}")
        mcmc.print_summary()
