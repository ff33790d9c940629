# One-dimensional Gaussian mixture with Dirichlet weights; the component labels are marginalized
# with MixtureSameFamily, and ordered locations remove label switching.
#
# Expected findings: none
# Must not flag: `Dirichlet(jnp.ones(K))` outside a plate (its K is an event dimension, not a batch);
#   `Normal(0, 10).expand([K]).to_event(1)` (batched, but declared as an event); the model built in a
#   closure; `responsibilities` (plain JAX outside the model).
import jax
import jax.numpy as jnp
from jax import random as jr

import numpyro
import numpyro.distributions as dist
from numpyro.distributions.transforms import OrderedTransform
from numpyro.infer import MCMC, NUTS


def make_mixture_model(K):
    """Return a K-component mixture model; K is fixed when the model is built."""

    def mixture(data=None, n=None):
        n = data.shape[0] if data is not None else n
        weights = numpyro.sample("weights", dist.Dirichlet(jnp.ones(K)))
        locs = numpyro.sample(
            "locs",
            dist.TransformedDistribution(
                dist.Normal(0.0, 10.0).expand([K]).to_event(1), OrderedTransform()
            ),
        )
        with numpyro.plate("components", K):
            scales = numpyro.sample("scales", dist.HalfNormal(2.0))
        components = dist.Normal(locs, scales)
        with numpyro.plate("data", n):
            numpyro.sample(
                "x", dist.MixtureSameFamily(dist.Categorical(probs=weights), components), obs=data
            )

    return mixture


def simulate(rng_key, n=600):
    key_z, key_x = jr.split(rng_key)
    true_weights = jnp.array([0.5, 0.3, 0.2])
    true_locs = jnp.array([-4.0, 0.0, 5.0])
    true_scales = jnp.array([1.0, 0.7, 1.5])
    z = jr.categorical(key_z, jnp.log(true_weights), shape=(n,))
    return true_locs[z] + true_scales[z] * jr.normal(key_x, (n,)), z


def responsibilities(x, weights, locs, scales):
    """p(z_i = k | x_i) for one posterior draw."""
    log_p = jnp.log(weights) + jax.scipy.stats.norm.logpdf(x[:, None], locs, scales)
    return jax.nn.softmax(log_p, axis=-1)


if __name__ == "__main__":
    rng_key = jr.PRNGKey(7)
    rng_key, rng_key_data = jr.split(rng_key)
    x, z_true = simulate(rng_key_data)

    model = make_mixture_model(K=3)
    mcmc = MCMC(NUTS(model), num_warmup=1000, num_samples=1000, progress_bar=False)
    mcmc.run(rng_key, data=x)
    mcmc.print_summary()

    s = mcmc.get_samples()
    resp = jax.vmap(responsibilities, in_axes=(None, 0, 0, 0))(x, s["weights"], s["locs"], s["scales"])
    z_hat = resp.mean(0).argmax(-1)
    print(f"agreement with the simulated labels: {(z_hat == z_true).mean():.3f}")
