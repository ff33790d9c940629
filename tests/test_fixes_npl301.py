"""NPL301 fix (unsafe): split the key before its first use and give that use the subkey."""

from __future__ import annotations

from fix_helpers import dedent, fixed, fixed_all, offered
from numpyro_lint.diagnostic import Applicability


def test_the_first_consumer_gets_a_subkey_and_the_key_is_rebound():
    source = """\
        from jax import random
        from numpyro.infer import MCMC, NUTS, Predictive

        def run(model, x):
            rng_key = random.PRNGKey(0)
            mcmc = MCMC(NUTS(model), num_warmup=100, num_samples=100)
            mcmc.run(rng_key, x)
            return Predictive(model, mcmc.get_samples())(rng_key, x)
    """
    assert fixed(source, "NPL301") == dedent("""\
        from jax import random
        from numpyro.infer import MCMC, NUTS, Predictive

        def run(model, x):
            rng_key = random.PRNGKey(0)
            mcmc = MCMC(NUTS(model), num_warmup=100, num_samples=100)
            rng_key, subkey = random.split(rng_key)
            mcmc.run(subkey, x)
            return Predictive(model, mcmc.get_samples())(rng_key, x)
    """)
    assert offered(source, "NPL301")[0].applicability == Applicability.UNSAFE


def test_a_loop_splits_on_every_iteration():
    source = """\
        import jax

        def noisy(key, xs):
            out = []
            for x in xs:
                out.append(x + jax.random.normal(key))
            return out
    """
    assert fixed(source, "NPL301") == dedent("""\
        import jax

        def noisy(key, xs):
            out = []
            for x in xs:
                key, subkey = jax.random.split(key)
                out.append(x + jax.random.normal(subkey))
            return out
    """)


def test_the_files_own_split_and_subkey_name_are_reused_and_names_in_use_are_avoided():
    source = """\
        import jax.random as jr

        def walk(key):
            key, sub = jr.split(key)
            a = jr.normal(sub)
            b = jr.normal(key)
            c = jr.uniform(key)
            return a + b + c
    """
    result = fixed(source, "NPL301")
    assert "    key, sub1 = jr.split(key)\n    b = jr.normal(sub1)\n    c = jr.uniform(key)\n" in result


def test_three_uses_are_fixed_at_once_and_each_consumer_ends_with_its_own_key():
    # Each reuse names the latest earlier use, so each fix splits before a different consumer.
    source = """\
        from jax import random

        def draws(key):
            a = random.normal(key)
            b = random.uniform(key)
            c = random.gamma(key, 2.0)
            return a, b, c
    """
    assert fixed_all(source, unsafe=True) == dedent("""\
        from jax import random

        def draws(key):
            key, subkey = random.split(key)
            a = random.normal(subkey)
            key, subkey = random.split(key)
            b = random.uniform(subkey)
            c = random.gamma(key, 2.0)
            return a, b, c
    """)


def test_no_fix_for_a_global_key_a_while_test_or_a_comprehension():
    global_key = """\
        from jax import random

        KEY = random.PRNGKey(0)

        def draws():
            return random.normal(KEY) + random.normal(KEY)
    """
    while_test = """\
        from jax import random

        def draws(key):
            while random.uniform(key) < 0.5:
                pass
    """
    comprehension = """\
        from jax import random

        def draws(key):
            return [random.normal(key) for _ in range(3)]
    """
    assert offered(global_key, "NPL301") == []
    assert offered(while_test, "NPL301") == []
    assert offered(comprehension, "NPL301") == []


def test_run_after_warmup_continues_the_warmup_key_stream():
    source = """\
        from jax import random
        from numpyro.infer import MCMC, NUTS

        def fit(model, x):
            rng_key = random.PRNGKey(0)
            mcmc = MCMC(NUTS(model), num_warmup=100, num_samples=100)
            mcmc.warmup(rng_key, x, collect_warmup=True)
            mcmc.run(rng_key, x)
    """
    assert fixed(source, "NPL301") == dedent("""\
        from jax import random
        from numpyro.infer import MCMC, NUTS

        def fit(model, x):
            rng_key = random.PRNGKey(0)
            mcmc = MCMC(NUTS(model), num_warmup=100, num_samples=100)
            mcmc.warmup(rng_key, x, collect_warmup=True)
            mcmc.run(mcmc.post_warmup_state.rng_key, x)
    """)
    assert offered(source, "NPL301")[0].applicability == Applicability.UNSAFE
