# Efron & Morris (1975) batting averages: partial pooling of 18 players' first 45 at-bats with a
# beta-binomial hierarchy, then posterior predictive hits. The script feeds the same key to
# MCMC and to Predictive.
#
# Expected findings:
#   NPL301  line 50: `predicted = Predictive(partial_pooling, samples)(rng_key, AT_BATS)["hits"]`
#           (`rng_key` was already consumed by `mcmc.run(rng_key, ...)`: split it first)
# Must not flag: `theta ~ Beta(...)` in the plate (Beta is not a loc-scale family);
#   `hits` observed inside the `players` plate; `PRNGKey(0)` in `__main__`.
import jax.numpy as jnp
from jax import random

import numpyro
import numpyro.distributions as dist
from numpyro.infer import MCMC, NUTS, Predictive

PLAYERS = [
    "Clemente", "F. Robinson", "F. Howard", "Johnstone", "Berry", "Spencer", "Kessinger",
    "L. Alvarado", "Santo", "Swoboda", "Unser", "Williams", "Scott", "Petrocelli",
    "E. Rodriguez", "Campaneris", "Munson", "Alvis",
]
HITS = jnp.array([18, 17, 16, 15, 14, 14, 13, 12, 11, 11, 10, 10, 10, 10, 10, 9, 8, 7])
AT_BATS = jnp.full(HITS.shape, 45)


def partial_pooling(at_bats, hits=None):
    """Each player's ability theta_i ~ Beta around a league-wide average phi."""
    phi = numpyro.sample("phi", dist.Uniform(0.0, 1.0))
    kappa = numpyro.sample("kappa", dist.Pareto(1.0, 1.5))
    with numpyro.plate("players", at_bats.shape[0]):
        theta = numpyro.sample("theta", dist.Beta(phi * kappa, (1.0 - phi) * kappa))
        numpyro.sample("hits", dist.Binomial(at_bats, probs=theta), obs=hits)


def shrinkage_table(samples):
    raw = HITS / AT_BATS
    pooled = samples["theta"].mean(0)
    for name, r, p in zip(PLAYERS, raw, pooled):
        print(f"{name:>13}: raw {r:.3f} -> partially pooled {p:.3f}")


if __name__ == "__main__":
    rng_key = random.PRNGKey(0)
    mcmc = MCMC(NUTS(partial_pooling), num_warmup=1000, num_samples=2000, progress_bar=False)
    mcmc.run(rng_key, AT_BATS, hits=HITS)
    samples = mcmc.get_samples()
    shrinkage_table(samples)

    # Hits in the next 45 at-bats, as the model sees each player.
    predicted = Predictive(partial_pooling, samples)(rng_key, AT_BATS)["hits"]
    lo, hi = jnp.percentile(predicted, jnp.array([10.0, 90.0]), axis=0)
    for name, a, b in zip(PLAYERS, lo, hi):
        print(f"{name:>13}: 80% predictive interval {int(a)}-{int(b)} hits")
