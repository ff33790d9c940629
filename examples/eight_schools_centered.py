# Eight schools (Rubin 1981), centered parameterization.
#
# Expected findings:
#   NPL501  line 30: `theta = numpyro.sample("theta", dist.Normal(mu, tau))`
#           (theta's scale is the latent `tau`: the funnel that makes NUTS diverge; see
#           eight_schools_noncentered.py for the fix)
# Must not flag: `obs` inside the plate; HalfCauchy(5) and Normal(0, 5) are not wide priors;
#   `if y is not None` tests data, not a sampled value.
import argparse

import jax.numpy as jnp
from jax import random

import numpyro
import numpyro.distributions as dist
from numpyro.infer import MCMC, NUTS

J = 8
y = jnp.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
sigma = jnp.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])


def eight_schools(J, sigma, y=None):
    """Treatment effects theta_j of J coaching programmes, drawn around a common mean mu."""
    mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
    tau = numpyro.sample("tau", dist.HalfCauchy(5.0))
    if y is not None:
        assert y.shape == (J,), "one estimate per school"
    with numpyro.plate("J", J):
        theta = numpyro.sample("theta", dist.Normal(mu, tau))
        numpyro.sample("obs", dist.Normal(theta, sigma), obs=y)


def run_inference(args, rng_key):
    kernel = NUTS(eight_schools, target_accept_prob=args.target_accept)
    mcmc = MCMC(
        kernel,
        num_warmup=args.num_warmup,
        num_samples=args.num_samples,
        num_chains=args.num_chains,
        progress_bar=False,
    )
    mcmc.run(rng_key, J, sigma, y=y, extra_fields=("diverging",))
    return mcmc


def main(args):
    rng_key = random.PRNGKey(args.seed)
    mcmc = run_inference(args, rng_key)
    mcmc.print_summary()

    diverging = mcmc.get_extra_fields()["diverging"]
    print(f"divergent transitions: {int(diverging.sum())} of {diverging.shape[0]}")

    samples = mcmc.get_samples()
    for j in range(J):
        lo, hi = jnp.percentile(samples["theta"][:, j], jnp.array([5.0, 95.0]))
        print(f"school {j}: theta 90% interval [{lo:6.2f}, {hi:6.2f}]")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Eight schools, centered")
    parser.add_argument("-n", "--num-samples", type=int, default=1000)
    parser.add_argument("--num-warmup", type=int, default=1000)
    parser.add_argument("--num-chains", type=int, default=1)
    parser.add_argument("--target-accept", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=0)
    main(parser.parse_args())
