# Eight schools, non-centered: the same model as eight_schools_centered.py written two ways that
# NUTS samples without divergences.
#
# Expected findings: none
# Must not flag: `theta` in `eight_schools_reparam` (named in the reparam config, so NPL501 does not
#   apply); `theta_raw ~ Normal(0, 1)`; the keys, which are split before each use.
import jax.numpy as jnp
from jax import random

import numpyro
import numpyro.distributions as dist
from numpyro import handlers
from numpyro.infer import MCMC, NUTS, Predictive
from numpyro.infer.reparam import LocScaleReparam

J = 8
y = jnp.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
sigma = jnp.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])


@handlers.reparam(config={"theta": LocScaleReparam(centered=0)})
def eight_schools_reparam(J, sigma, y=None):
    """Centered source, non-centered geometry: LocScaleReparam samples theta_decentered ~ N(0, 1)."""
    mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
    tau = numpyro.sample("tau", dist.HalfCauchy(5.0))
    with numpyro.plate("J", J):
        theta = numpyro.sample("theta", dist.Normal(mu, tau))
        numpyro.sample("obs", dist.Normal(theta, sigma), obs=y)


def eight_schools_manual(J, sigma, y=None):
    """The textbook non-centered form: theta = mu + tau * theta_raw."""
    mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
    tau = numpyro.sample("tau", dist.HalfCauchy(5.0))
    with numpyro.plate("J", J):
        theta_raw = numpyro.sample("theta_raw", dist.Normal(0.0, 1.0))
        theta = numpyro.deterministic("theta", mu + tau * theta_raw)
        numpyro.sample("obs", dist.Normal(theta, sigma), obs=y)


def fit(model, rng_key, num_warmup=1000, num_samples=1000):
    mcmc = MCMC(NUTS(model), num_warmup=num_warmup, num_samples=num_samples, progress_bar=False)
    mcmc.run(rng_key, J, sigma, y=y, extra_fields=("diverging",))
    return mcmc


if __name__ == "__main__":
    rng_key = random.PRNGKey(2)
    for name, model in [("reparam", eight_schools_reparam), ("manual", eight_schools_manual)]:
        rng_key, rng_key_fit, rng_key_ppc = random.split(rng_key, 3)
        mcmc = fit(model, rng_key_fit)
        n_div = int(mcmc.get_extra_fields()["diverging"].sum())
        samples = mcmc.get_samples()
        print(f"[{name}] divergences: {n_div}")
        print(f"[{name}] tau posterior mean: {samples['tau'].mean():.2f}")

        # Replicated test scores for each school, to compare with the observed y.
        predictive = Predictive(model, samples)
        y_rep = predictive(rng_key_ppc, J, sigma)["obs"]
        p_values = (y_rep > y).mean(axis=0)
        print(f"[{name}] posterior predictive p-values: {jnp.round(p_values, 2)}")
