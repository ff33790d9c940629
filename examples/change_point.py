# British coal-mining disasters 1851-1961: a Poisson rate that switches once. The switch year is
# sampled with DiscreteHMCGibbs in one model and summed out with `numpyro.factor` in the other.
#
# Expected findings: none
# Must not flag: `jnp.where(years < switchpoint, ...)` (the traced comparison stays in JAX); the
#   lambda given to `jax.vmap`, which calls no NumPyro primitive; `numpyro.factor`.
import jax
import jax.numpy as jnp
from jax import random
from jax.scipy.special import logsumexp

import numpyro
import numpyro.distributions as dist
from numpyro.infer import MCMC, NUTS, DiscreteHMCGibbs

DISASTERS = jnp.array([
    4, 5, 4, 0, 1, 4, 3, 4, 0, 6, 3, 3, 4, 0, 2, 6, 3, 3, 5, 4, 5, 3, 1, 4, 4, 1, 5, 5, 3, 4, 2, 5,
    2, 2, 3, 4, 2, 1, 3, 2, 2, 1, 1, 1, 1, 3, 0, 0, 1, 0, 1, 1, 0, 0, 3, 1, 0, 3, 2, 2, 0, 1, 1, 1,
    0, 1, 0, 1, 0, 0, 0, 2, 1, 0, 0, 0, 1, 1, 0, 2, 3, 3, 1, 1, 2, 1, 1, 1, 1, 2, 4, 2, 0, 0, 0, 1,
    4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 1,
])
YEARS = jnp.arange(1851, 1851 + DISASTERS.shape[0])


def switchpoint_model(years, disasters=None):
    early_rate = numpyro.sample("early_rate", dist.Exponential(1.0))
    late_rate = numpyro.sample("late_rate", dist.Exponential(1.0))
    switchpoint = numpyro.sample("switchpoint", dist.DiscreteUniform(years[0], years[-1]))
    rate = jnp.where(years < switchpoint, early_rate, late_rate)
    with numpyro.plate("years", years.shape[0]):
        numpyro.sample("disasters", dist.Poisson(rate), obs=disasters)


def marginal_switchpoint_model(years, disasters):
    early_rate = numpyro.sample("early_rate", dist.Exponential(1.0))
    late_rate = numpyro.sample("late_rate", dist.Exponential(1.0))
    log_lik = jax.vmap(
        lambda s: dist.Poisson(jnp.where(years < s, early_rate, late_rate)).log_prob(disasters).sum()
    )(years)
    log_prior = -jnp.log(years.shape[0])
    numpyro.factor("switchpoint_marginal", logsumexp(log_lik + log_prior))
    numpyro.deterministic("switchpoint_probs", jax.nn.softmax(log_lik))


if __name__ == "__main__":
    key_gibbs, key_marginal = random.split(random.PRNGKey(0))

    kernel = DiscreteHMCGibbs(NUTS(switchpoint_model), modified=True)
    mcmc = MCMC(kernel, num_warmup=1000, num_samples=2000, progress_bar=False)
    mcmc.run(key_gibbs, YEARS, DISASTERS)
    mcmc.print_summary()

    mcmc_marginal = MCMC(NUTS(marginal_switchpoint_model), num_warmup=500, num_samples=1000,
                         progress_bar=False)
    mcmc_marginal.run(key_marginal, YEARS, DISASTERS)
    probs = mcmc_marginal.get_samples()["switchpoint_probs"].mean(0)
    top = jnp.argsort(probs)[::-1][:3]
    for i in top:
        print(f"switch in {int(YEARS[i])}: posterior probability {probs[i]:.3f}")
