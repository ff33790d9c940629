# Weekly sales per store with a promotion effect. The author tried to watch the sampler by
# printing inside the model and by collecting `sigma` into a module-level list.
#
# Expected findings:
#   NPL102  line 37: `print("promo_lift:", promo_lift, "sigma:", sigma)`
#           (runs once at trace time and prints tracers; use jax.debug.print)
#   NPL101  line 38: `sigma_history.append(sigma)`
#           (mutates a list the model did not create; it collects a couple of tracers, not draws)
# Must not flag: `jax.debug.print(...)`; `terms.append(...)` (a list created inside the model);
#   the `print` calls in `__main__`, which are not in a model.
import jax
import jax.numpy as jnp
import numpy as np
from jax import random

import numpyro
import numpyro.distributions as dist
from numpyro.infer import MCMC, NUTS

N_STORES = 20
sigma_history = []


def simulate_sales(n_stores=N_STORES, n_weeks=52, seed=4):
    rng = np.random.default_rng(seed)
    store = np.repeat(np.arange(n_stores), n_weeks)
    promo = rng.binomial(1, 0.25, store.shape[0]).astype(np.float32)
    store_effect = rng.normal(0, 0.4, n_stores)
    log_sales = 5.0 + store_effect[store] + 0.3 * promo + rng.normal(0, 0.2, store.shape[0])
    return jnp.asarray(store), jnp.asarray(promo), jnp.asarray(log_sales, dtype=jnp.float32)


def sales_model(store, n_stores, promo=None, log_sales=None):
    base = numpyro.sample("base", dist.Normal(5.0, 2.0))
    promo_lift = numpyro.sample("promo_lift", dist.Normal(0.0, 1.0))
    sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
    print("promo_lift:", promo_lift, "sigma:", sigma)
    sigma_history.append(sigma)
    jax.debug.print("base={b:.3f} sigma={s:.3f}", b=base, s=sigma)

    with numpyro.plate("stores", n_stores):
        store_effect = numpyro.sample("store_effect", dist.Normal(0.0, 0.5))

    terms = [base, store_effect[store]]
    if promo is not None:
        terms.append(promo_lift * promo)
    mu = sum(terms)
    with numpyro.plate("weeks", store.shape[0]):
        numpyro.sample("log_sales", dist.Normal(mu, sigma), obs=log_sales)


if __name__ == "__main__":
    store, promo, log_sales = simulate_sales()
    mcmc = MCMC(NUTS(sales_model), num_warmup=300, num_samples=300, progress_bar=False)
    mcmc.run(random.PRNGKey(0), store, N_STORES, promo, log_sales)
    print(f"sigma_history holds {len(sigma_history)} entries, e.g. {sigma_history[:1]}")
    samples = mcmc.get_samples()
    print(f"promo lift: {samples['promo_lift'].mean():.3f} (true 0.3)")
    print(f"sigma: {samples['sigma'].mean():.3f} (true 0.2)")
