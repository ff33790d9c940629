"""NPL101-NPL106 and NPL205 beyond the rules' own examples: every "must not flag" clause of RULES.md,
aliased imports, nested models, methods, functools.partial and closures."""

from __future__ import annotations

from functools import partial

import conftest

# These tests are about the purity rules; plate, key and prior rules have their own tests.
PURITY = ("NPL1", "NPL205")
codes = partial(conftest.codes, select=PURITY)
codes_by_line = partial(conftest.codes_by_line, select=PURITY)


def test_mutations_of_objects_created_in_the_model_are_fine():
    assert codes("""
        import numpyro
        import numpyro.distributions as dist
        def model():
            xs = []
            d = dict()
            for i in range(3):
                xs.append(numpyro.sample(f"x{i}", dist.Normal(0, 1)))
            d.update(a=1)
            d["b"] = 2
    """) == []


def test_the_same_mutation_outside_a_model_is_fine():
    assert codes("""
        out = []
        def collect(x):
            out.append(x)
            print(x)
    """) == []


def test_mutation_in_a_model_found_through_aliased_imports():
    assert codes("""
        from numpyro import sample as draw
        from numpyro.distributions import Normal
        seen = []
        def model():
            x = draw("x", Normal(0, 1))
            seen.append(x)
    """) == ["NPL101"]


def test_nonlocal_write_in_a_nested_model():
    found = codes_by_line("""
        import numpyro
        import numpyro.distributions as dist
        def make_model():
            calls = 0
            def model():
                nonlocal calls
                calls += 1
                numpyro.sample("x", dist.Normal(0, 1))
            return model
    """)
    assert found == [(8, "NPL101")]


def test_function_passed_to_nuts_is_a_model_even_without_primitives_of_its_own():
    found = codes_by_line("""
        import numpyro.distributions as dist
        from numpyro.infer import MCMC, NUTS
        from functools import partial
        def core(y):
            return y
        def model(y, scale):
            print(scale)
            return core(y)
        kernel = NUTS(partial(model, scale=2.0))
    """)
    assert found == [(8, "NPL102")]


def test_jax_debug_print_and_callback_are_fine():
    assert codes("""
        import jax
        from jax import debug
        import numpyro
        import numpyro.distributions as dist
        def model():
            x = numpyro.sample("x", dist.Normal(0, 1))
            jax.debug.print("x={x}", x=x)
            debug.callback(print, x)
    """) == []


def test_print_in_a_method_model():
    assert codes("""
        import numpyro as npr
        import numpyro.distributions as D
        class Regression:
            def model(self, X, y=None):
                w = npr.sample("w", D.Normal(0, 1))
                print("w", w)
    """) == ["NPL102"]


def test_jax_random_with_a_key_from_prng_key_is_fine():
    assert codes("""
        import numpyro
        import numpyro.distributions as dist
        import jax.random as random
        def model():
            key = numpyro.prng_key()
            noise = random.normal(key, (3,))
            numpyro.sample("x", dist.Normal(noise, 1))
    """) == []


def test_python_random_only_when_it_is_the_stdlib_module():
    assert codes("""
        from jax import random
        import numpyro
        import numpyro.distributions as dist
        def model():
            random.normal(numpyro.prng_key())
            numpyro.sample("x", dist.Normal(0, 1))
    """) == []


def test_branch_exclusions_from_rules_md():
    assert codes("""
        import jax.numpy as jnp
        from jax import lax
        import numpyro
        import numpyro.distributions as dist
        def model(X, y=None, mask=None):
            beta = numpyro.sample("beta", dist.Normal(0, 1).expand([X.shape[1]]))
            if y is None:
                pass
            if beta.shape[0] > 2 and beta.ndim == 1 and len(X) > 3:
                pass
            mu = jnp.where(beta > 0, beta, 0.0)
            mu = lax.cond(True, lambda: mu, lambda: -mu)
            if X.shape[0] > 10:
                pass
            if mask is not None:
                numpyro.sample("y", dist.Normal(X @ mu, 1), obs=y)
    """) == []


def test_branch_on_a_value_derived_from_a_site_through_arithmetic_and_indexing():
    found = codes_by_line("""
        import numpyro
        import numpyro.distributions as dist
        import jax.numpy as jnp
        def model(idx):
            sigma = numpyro.sample("sigma", dist.HalfNormal(1).expand([3]))
            s = jnp.log(sigma[idx]) * 2
            if s.sum() > 1:
                pass
    """)
    assert found == [(8, "NPL104")]


def test_branch_on_data_is_fine():
    assert codes("""
        import numpyro
        import numpyro.distributions as dist
        def model(y, n):
            if n > 3 and y.mean() > 0:
                pass
            numpyro.sample("y", dist.Normal(0, 1), obs=y)
    """) == []


def test_conversions_of_data_arguments_are_fine_but_not_of_site_values():
    found = codes_by_line("""
        import math
        import numpy as np
        import numpyro
        import numpyro.distributions as dist
        def model(n, data):
            k = int(n)
            scale = float(np.std(data)) + math.log(k)
            tau = numpyro.sample("tau", dist.HalfNormal(scale))
            t = float(tau)
    """)
    assert found == [(10, "NPL105")]


def test_item_assignment_on_lists_and_dicts_is_not_an_array_update():
    assert codes("""
        import numpyro
        import numpyro.distributions as dist
        def model():
            xs = [0.0] * 3
            xs[0] = numpyro.sample("a", dist.Normal(0, 1))
            table = {}
            table["a"] = xs[0]
    """) == []


def test_array_update_via_aliased_jax_numpy():
    found = codes_by_line("""
        from jax import numpy as np
        import numpyro
        import numpyro.distributions as dist
        def model(n):
            z = np.zeros(n)
            z[0] = numpyro.sample("a", dist.Normal(0, 1))
    """)
    assert found == [(7, "NPL106")]


def test_duplicate_names_in_exclusive_branches_are_fine_and_flagged_on_one_path():
    assert codes("""
        import numpyro
        import numpyro.distributions as dist
        def model(kind):
            if kind == "a":
                x = numpyro.sample("x", dist.Normal(0, 1))
            elif kind == "b":
                x = numpyro.sample("x", dist.Normal(0, 2))
            else:
                x = numpyro.sample("x", dist.Normal(0, 3))
            return x
    """) == []
    found = codes_by_line("""
        import numpyro
        import numpyro.distributions as dist
        def model(flag):
            x = numpyro.sample("x", dist.Normal(0, 1))
            if flag:
                numpyro.deterministic("x", x + 1)
    """)
    assert found == [(7, "NPL205")]


def test_duplicate_names_under_different_scopes_are_fine():
    assert codes("""
        import numpyro
        import numpyro.distributions as dist
        from numpyro.handlers import scope
        def model():
            with scope(prefix="a"):
                numpyro.sample("x", dist.Normal(0, 1))
            with scope(prefix="b"):
                numpyro.sample("x", dist.Normal(0, 1))
    """) == []


def test_noqa_suppresses_all_or_listed_codes():
    source = """
        import numpyro
        import numpyro.distributions as dist
        def model():
            x = numpyro.sample("x", dist.Normal(0, 1))
            print(x)  # noqa
            print(x)  # noqa: NPL102
            print(x)  # noqa: NPL101
            if x > 0: print(x)  # noqa: NPL104
    """
    assert codes_by_line(source) == [(8, "NPL102"), (9, "NPL102")]


def test_eager_module_level_code_under_seed_is_no_model():
    # A notebook cell: values are concrete here, so print, assert and if are what the user wants.
    assert codes("""
        import jax.numpy as jnp
        import numpyro
        import numpyro.distributions as dist
        from numpyro import handlers

        with handlers.seed(rng_seed=0):
            x = numpyro.sample("x", dist.Normal(0.0, 1.0))
            print("x =", x)
            assert jnp.isfinite(x)
            if x > 0:
                print(float(x))
        with handlers.trace() as tr:
            handlers.seed(lambda: numpyro.sample("z", dist.Normal(0, 1)), rng_seed=1)()
        print(tr["z"]["value"].item())
    """) == []


def test_a_function_only_called_eagerly_is_no_model_but_one_also_run_by_nuts_is():
    source = """
        import numpyro
        import numpyro.distributions as dist
        from numpyro import handlers
        from numpyro.infer import MCMC, NUTS

        def draw_once():
            x = numpyro.sample("x", dist.Normal(0.0, 1.0))
            print("drew", x)
            return x

        def model():
            x = numpyro.sample("x", dist.Normal(0.0, 1.0))
            print("drew", x)

        with handlers.seed(rng_seed=0):
            draw_once()
            model()
        MCMC(NUTS(model), num_warmup=10, num_samples=10)
    """
    assert codes_by_line(source) == [(14, "NPL102")]


def test_a_model_nobody_calls_in_its_file_keeps_its_model_rules():
    assert codes("""
        import numpyro
        import numpyro.distributions as dist

        def model():
            x = numpyro.sample("x", dist.Normal(0.0, 1.0))
            print("drew", x)
    """) == ["NPL102"]


def test_a_function_that_seeds_its_own_sites_runs_them_eagerly():
    assert codes("""
        import numpyro
        import numpyro.distributions as dist
        from numpyro import handlers

        def demo():
            with handlers.seed(rng_seed=0):
                x = numpyro.sample("x", dist.Normal(0.0, 1.0))
            print("drew", float(x))
    """) == []
