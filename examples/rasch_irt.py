# Rasch (one-parameter IRT) model for a 40-item exam taken by 300 students, fitted with SVI.
# Two key mistakes: the parent key is used again after it was split, and a helper hides a
# fixed seed.
#
# Expected findings:
#   NPL302  line 46: `draws = jr.choice(jr.PRNGKey(0), n_draws, (n_show,), replace=False)`
#           (a literal seed inside a function: every call picks the same draws)
#   NPL303  line 66: `svi_result = svi.run(rng_key, 4000, student, item, N_STUDENTS, N_ITEMS, correct)`
#           (`rng_key` was split into `rng_key_data, rng_key_post` above; use a child key)
# Must not flag: `ability ~ Normal(0, 1)` in the students plate; `difficulty ~ Normal(0, 2)`;
#   `jr.split(rng_key_data)` inside `simulate_exam` (its parent is not reused).
import jax.numpy as jnp
from jax import random as jr

import numpyro
import numpyro.distributions as dist
from numpyro.infer import SVI, Trace_ELBO
from numpyro.infer.autoguide import AutoNormal
from numpyro.optim import Adam

N_STUDENTS, N_ITEMS = 300, 40


def simulate_exam(rng_key, n_students=N_STUDENTS, n_items=N_ITEMS):
    key_ability, key_difficulty, key_response = jr.split(rng_key, 3)
    ability = jr.normal(key_ability, (n_students,))
    difficulty = 1.5 * jr.normal(key_difficulty, (n_items,))
    student, item = jnp.meshgrid(jnp.arange(n_students), jnp.arange(n_items), indexing="ij")
    student, item = student.ravel(), item.ravel()
    p = jnp.exp(ability[student] - difficulty[item])
    correct = jr.bernoulli(key_response, p / (1.0 + p)).astype(jnp.int32)
    return student, item, correct, ability, difficulty


def rasch(student, item, n_students, n_items, correct=None):
    with numpyro.plate("students", n_students):
        ability = numpyro.sample("ability", dist.Normal(0.0, 1.0))
    with numpyro.plate("items", n_items):
        difficulty = numpyro.sample("difficulty", dist.Normal(0.0, 2.0))
    with numpyro.plate("responses", student.shape[0]):
        numpyro.sample("correct", dist.Bernoulli(logits=ability[student] - difficulty[item]), obs=correct)


def show_item_draws(posterior, n_show=5):
    n_draws = posterior["difficulty"].shape[0]
    draws = jr.choice(jr.PRNGKey(0), n_draws, (n_show,), replace=False)
    for d in draws:
        print("difficulty draw", int(d), jnp.round(posterior["difficulty"][d, :6], 2))


def recovery(posterior, true_ability, true_difficulty):
    est_difficulty = posterior["difficulty"].mean(0)
    est_ability = posterior["ability"].mean(0)
    r_item = jnp.corrcoef(est_difficulty, true_difficulty)[0, 1]
    r_student = jnp.corrcoef(est_ability, true_ability)[0, 1]
    print(f"correlation with truth: items {r_item:.3f}, students {r_student:.3f}")


if __name__ == "__main__":
    rng_key = jr.PRNGKey(2024)
    rng_key_data, rng_key_post = jr.split(rng_key)
    student, item, correct, true_ability, true_difficulty = simulate_exam(rng_key_data)

    guide = AutoNormal(rasch)
    svi = SVI(rasch, guide, Adam(0.02), Trace_ELBO())
    svi_result = svi.run(rng_key, 4000, student, item, N_STUDENTS, N_ITEMS, correct)
    print(f"final loss: {svi_result.losses[-1]:.1f}")

    posterior = guide.sample_posterior(rng_key_post, svi_result.params, sample_shape=(1000,))
    recovery(posterior, true_ability, true_difficulty)
    show_item_draws(posterior)
