"""NPL301-NPL303 and the key-flow analysis under them: every "flags" and "must not flag" clause of
RULES.md, paths (branches, loops, returns, exclusive tests), rebinding, unpacking, aliases and helpers."""

from __future__ import annotations

import textwrap

from conftest import codes_by_line

from numpyro_lint.diagnostic import Diagnostic, render_message
from numpyro_lint.linter import lint_text

HEADER = """\
import jax
import jax.numpy as jnp
from jax import random
import numpyro
import numpyro.distributions as dist
from numpyro import handlers
from numpyro.infer import MCMC, NUTS, SVI, Predictive, Trace_ELBO
from numpyro.infer.autoguide import AutoNormal
"""
OFFSET = HEADER.count("\n")


def shown(diagnostic: Diagnostic) -> str:
    """The message as `check` shows it for a `.py` file."""
    return render_message(diagnostic.message, lambda line: (None, line))


def key_codes(body: str) -> list[tuple[int, str]]:
    """(line, code) of NPL3xx findings, lines counted from the first line of `body` (a blank line)."""
    found = codes_by_line(HEADER + textwrap.dedent(body))
    return [(line - OFFSET, code) for line, code in found if code.startswith("NPL3")]


def diagnostics(body: str, code: str):
    return [d for d in lint_text(HEADER + textwrap.dedent(body)).diagnostics if d.code == code]


# NPL301 key-reuse: the acceptance cases


def test_key_reused_across_mcmc_run_and_predictive_names_both_places():
    found = diagnostics("""
        def run(model, x):
            rng_key = random.PRNGKey(0)
            mcmc = MCMC(NUTS(model), num_warmup=10, num_samples=10)
            mcmc.run(rng_key, x)
            return Predictive(model, mcmc.get_samples())(rng_key, x)
    """, "NPL301")
    assert len(found) == 1
    (diagnostic,) = found
    assert diagnostic.span.line == OFFSET + 6
    assert "`mcmc.run` on line " + str(OFFSET + 5) in shown(diagnostic)
    assert "`Predictive(...)`" in diagnostic.message and "random.split" in diagnostic.message
    assert diagnostic.related[0].span.line == OFFSET + 5
    assert "previous use of `rng_key`" in diagnostic.related[0].message


def test_reuse_inside_a_for_loop_names_the_loop():
    found = diagnostics("""
        def noisy(key, xs):
            out = []
            for x in xs:
                out.append(x + random.normal(key))
            return out
    """, "NPL301")
    assert len(found) == 1
    assert found[0].span.line == OFFSET + 5
    assert "every iteration" in shown(found[0]) and f"line {OFFSET + 4}" in shown(found[0])
    assert found[0].related[0].span.line == OFFSET + 4


def test_keys_indexed_by_the_loop_variable_and_fold_in_stay_silent():
    assert key_codes("""
        def draws(key, n):
            keys = random.split(key, n)
            out = []
            for i in range(n):
                out.append(random.normal(keys[i]))
            base = random.PRNGKey(1)
            for i in range(n):
                out.append(random.normal(random.fold_in(base, i)))
            return out
    """) == []


def test_a_key_used_once_in_each_branch_of_an_if_stays_silent():
    assert key_codes("""
        def draw(key, flag):
            if flag:
                x = random.normal(key)
            elif flag is None:
                x = random.uniform(key)
            else:
                x = random.gamma(key, 2.0)
            return x
    """) == []


def test_a_key_rebound_by_split_stays_silent():
    assert key_codes("""
        def walk(key, steps):
            x = 0.0
            for _ in range(steps):
                key, subkey = random.split(key)
                x = x + random.normal(subkey)
            key, subkey = random.split(key)
            return x + random.normal(subkey)
    """) == []


# NPL301: every consumer


def test_every_consumer_kind_counts():
    assert key_codes("""
        def consumers(model, guide, key, x, params):
            mcmc = MCMC(NUTS(model), num_warmup=10, num_samples=10)
            mcmc.warmup(key, x)
            mcmc.run(key, x)
            svi = SVI(model, guide, None, Trace_ELBO())
            state = svi.init(key, x)
            result = svi.run(key, 100, x)
            guide = AutoNormal(model)
            samples = guide.sample_posterior(key, params)
            predictive = Predictive(model, samples)
            predictive(key, x)
            seeded = handlers.seed(model, rng_seed=key)
            z = dist.Normal(0, 1).sample(key)
    """) == [(5, "NPL301"), (7, "NPL301"), (8, "NPL301"), (10, "NPL301"), (12, "NPL301"), (13, "NPL301"),
             (14, "NPL301")]


def test_seed_handler_as_a_context_manager_consumes_its_key():
    assert key_codes("""
        def trace_twice(model, key):
            with handlers.seed(rng_seed=key):
                a = model()
            with handlers.seed(rng_seed=key):
                b = model()
    """) == [(5, "NPL301")]


def test_alias_and_tuple_unpacking_share_the_key():
    assert key_codes("""
        def aliases(key):
            same = key
            a = random.normal(key)
            b = random.normal(same)
            k1, k2 = random.split(random.PRNGKey(3))
            first, second = k1, k2
            c = random.normal(k1)
            d = random.normal(first)
            e = random.normal(second)
    """) == [(5, "NPL301"), (9, "NPL301")]


def test_constant_index_into_a_split_result_is_one_key():
    assert key_codes("""
        def indexed(key):
            keys = random.split(key, 3)
            a = random.normal(keys[0])
            b = random.normal(keys[0])
            c = random.normal(keys[1])
    """) == [(5, "NPL301")]


def test_star_unpacking_gives_distinct_keys():
    assert key_codes("""
        def star(key):
            key, *subkeys = random.split(key, 4)
            a = random.normal(subkeys[0])
            b = random.normal(subkeys[1])
            c = random.normal(key)
            d = random.normal(key)
    """) == [(7, "NPL301")]


def test_a_helper_that_consumes_its_key_parameter_consumes_the_callers_key():
    found = diagnostics("""
        def draw(k, n):
            return random.normal(k, (n,))

        def caller(key):
            a = draw(key, 3)
            b = draw(k=key, n=4)
    """, "NPL301")
    assert [d.span.line - OFFSET for d in found] == [7]
    assert "`draw` (which passes it to `jax.random.normal`)" in found[0].message


def test_helpers_defined_later_nested_or_as_methods_are_followed():
    assert key_codes("""
        def outer(key):
            def inner(k):
                return random.normal(k)
            inner(key)
            later(key)

        def later(k):
            return random.uniform(k)

        class Runner:
            def fit(self, key):
                return random.normal(key)

            def go(self, key):
                self.fit(key)
                self.fit(key)
    """) == [(6, "NPL301"), (17, "NPL301")]


def test_a_helper_that_only_looks_at_its_key_does_not_consume_it():
    assert key_codes("""
        def show(key):
            print(key.shape)
            return jax.random.key_data(key)

        def caller(key):
            show(key)
            return random.normal(key)
    """) == []


def test_return_ends_a_path():
    assert key_codes("""
        def draw(key, kind):
            if kind == "normal":
                return random.normal(key)
            if kind == "uniform":
                return random.uniform(key)
            raise ValueError(kind)
    """) == []


def test_exclusive_tests_on_one_path_stay_exclusive():
    assert key_codes("""
        def fit(model, key, noise_key, args):
            if args.method == "nuts":
                MCMC(NUTS(model), num_warmup=10, num_samples=10).run(key)
            if args.method == "svi":
                SVI(model, AutoNormal(model), None, Trace_ELBO()).run(key, 100)
            if args.verbose:
                a = random.normal(noise_key)
            if not args.verbose:
                b = random.uniform(noise_key)
    """) == []


def test_reuse_on_one_branch_of_an_if_without_else_is_flagged():
    assert key_codes("""
        def draw(key, extra):
            if extra:
                noise = random.normal(key)
            return random.uniform(key)
    """) == [(5, "NPL301")]


def test_try_handlers_are_alternatives_to_the_body():
    assert key_codes("""
        def fit(run, key):
            try:
                result = run(random.normal(key))
            except ValueError:
                result = run(random.uniform(key))
            return result
    """) == []


def test_while_loops_and_comprehensions_repeat_their_body():
    assert key_codes("""
        def draws(key, n):
            out = [random.normal(key) for _ in range(n)]
            i = 0
            while i < n:
                out.append(random.uniform(jax.random.PRNGKey(5) if i < 0 else key))
                i += 1
            return out
    """) == [(3, "NPL301")]


def test_a_key_rebound_in_the_loop_by_a_helper_result_stays_silent():
    assert key_codes("""
        def step(key):
            key, sub = random.split(key)
            return key, random.normal(sub)

        def run(key, n):
            for _ in range(n):
                key, x = step(key)
    """) == []


def test_module_level_code_is_analysed_too():
    assert key_codes("""
        rng_key = random.PRNGKey(0)
        x = random.normal(rng_key, (3,))
        y = random.normal(rng_key, (3,))
    """) == [(4, "NPL301")]


def test_keys_from_numpyro_prng_key_in_a_model():
    assert key_codes("""
        def model():
            key = numpyro.prng_key()
            a = random.normal(key)
            b = random.normal(key)
            c = random.normal(numpyro.prng_key())
            d = random.normal(numpyro.prng_key())
    """) == [(5, "NPL301")]


def test_names_that_are_not_keys_are_not_consumed_by_lookalike_methods():
    assert key_codes("""
        import pandas as pd

        def sample_rows(df, n, key):
            a = df.sample(n)
            b = df.sample(n)
            opt_state = optimizer.init(params)
            opt_state = optimizer.init(params)
            return a, b
    """) == []


# NPL303 key-used-after-split


def test_parent_key_used_after_split_is_npl303_naming_both_places():
    found = diagnostics("""
        def draw(key):
            k1, k2 = random.split(key)
            return random.normal(k1) + random.normal(key)
    """, "NPL303")
    assert len(found) == 1
    assert found[0].span.line == OFFSET + 4
    assert f"line {OFFSET + 3}" in shown(found[0]) and "`jax.random.split`" in shown(found[0])
    assert found[0].related[0].span.line == OFFSET + 3
    assert key_codes("""
        def draw(key):
            k1, k2 = random.split(key)
            return random.normal(k1) + random.normal(key)
    """) == [(4, "NPL303")]


def test_split_twice_and_split_inside_a_helper_are_npl303():
    assert key_codes("""
        def children(key):
            return random.split(key, 2)

        def twice(key):
            a = random.split(key)
            b = random.split(key)

        def via_helper(key):
            ks = children(key)
            return random.normal(key)
    """) == [(7, "NPL303"), (11, "NPL303")]


def test_splitting_the_same_key_on_every_loop_iteration_is_npl303():
    found = diagnostics("""
        def run(key, n):
            for i in range(n):
                k1, k2 = random.split(key)
    """, "NPL303")
    assert len(found) == 1 and "every iteration" in found[0].message


def test_rebinding_split_is_fine_for_npl303():
    assert key_codes("""
        def draw(key):
            key, sub = random.split(key)
            a = random.normal(sub)
            key, sub = random.split(key)
            return a + random.normal(sub) + random.normal(key)
    """) == []


# NPL302 constant-seed-in-repeated-scope


def test_literal_seed_in_a_lambda_given_to_tree_map_is_flagged():
    found = diagnostics("""
        def jitter(params):
            return jax.tree.map(lambda p: p + 0.01 * random.normal(random.PRNGKey(0), p.shape), params)
    """, "NPL302")
    assert len(found) == 1
    assert found[0].span.line == OFFSET + 3
    assert "`PRNGKey(0)`" in found[0].message and "lambda" in found[0].message


def test_literal_seed_fed_to_a_sampler_in_functions_methods_loops_and_comprehensions():
    assert key_codes("""
        def noise(shape):
            key = random.PRNGKey(42)
            return random.uniform(key, shape)

        class Sim:
            def draw(self):
                return dist.Normal(0, 1).sample(jax.random.key(3))

        for i in range(3):
            x = random.normal(random.PRNGKey(7))

        xs = [random.normal(random.PRNGKey(7)) for _ in range(3)]
    """) == [(3, "NPL302"), (8, "NPL302"), (11, "NPL302"), (13, "NPL302")]


def test_literal_seeds_where_they_run_once_or_feed_inference_are_fine():
    assert key_codes("""
        X = random.normal(random.PRNGKey(0), (100, 3))

        def fit(model, x):
            mcmc = MCMC(NUTS(model), num_warmup=10, num_samples=10)
            mcmc.run(random.PRNGKey(0), x)
            return Predictive(model, mcmc.get_samples())(random.PRNGKey(1), x)

        def main():
            data = random.normal(random.PRNGKey(1), (10,))

        def test_shapes():
            assert random.normal(random.PRNGKey(1), (3,)).shape == (3,)
            assert jax.tree.map(lambda p: random.normal(random.PRNGKey(2)), [1])

        def seeded(seed):
            return random.normal(random.PRNGKey(seed))

        if __name__ == "__main__":
            y = random.normal(random.PRNGKey(2), (100,))
    """) == []


def test_noqa_suppresses_key_findings():
    assert key_codes("""
        def run(key):
            a = random.normal(key)
            b = random.normal(key)  # noqa: NPL301
    """) == []


def test_is_none_tests_on_one_path_stay_exclusive():
    assert key_codes("""
        def fit(model, key, samples, x):
            if samples is None:
                mcmc = MCMC(NUTS(model), num_warmup=10, num_samples=10)
                mcmc.run(key, x)
                samples = mcmc.get_samples()
            if samples is not None:
                return Predictive(model, samples)(key, x)
    """) == [(8, "NPL301")]
    assert key_codes("""
        def fit(model, key, samples, x):
            if samples is None:
                MCMC(NUTS(model), num_warmup=10, num_samples=10).run(key, x)
            if samples is not None:
                return Predictive(model, samples)(key, x)
    """) == []


def test_a_literal_seed_as_the_default_for_a_key_parameter_is_fine():
    assert key_codes("""
        def draw(shape, rng_key=None):
            if rng_key is None:
                rng_key = random.PRNGKey(0)
            return random.normal(rng_key, shape)
    """) == []


def test_a_parameter_that_shadows_a_helper_is_not_that_helper():
    assert key_codes("""
        def run(data, key):
            return random.normal(key)

        def driver(run, data, key):
            run(data, key)
            run(data, key)

        run(None, random.PRNGKey(0))
    """) == []
    assert key_codes("""
        def run(data, key):
            return random.normal(key)

        rng_key = random.PRNGKey(0)
        run(None, rng_key)
        run(None, rng_key)
    """) == [(7, "NPL301")]


def test_iterating_over_split_keys_gives_a_new_key_each_time():
    assert key_codes("""
        def draws(key, n):
            out = []
            for k in random.split(key, n):
                out.append(random.normal(k))
            for i, k in enumerate(random.split(random.PRNGKey(1), n)):
                out.append(random.uniform(k))
            return out
    """) == []


def test_a_key_shared_by_partial_seed_handlers_is_deliberate():
    assert key_codes("""
        def loss(model, guide, rng_key):
            plate_key, rng_key = random.split(rng_key)
            model = handlers.seed(model, plate_key, hide_types=["sample"])
            guide = handlers.seed(guide, plate_key, hide_types=["sample"])
            return model, guide
    """) == []


def test_a_predictive_bound_to_a_name_consumes_its_key():
    assert key_codes("""
        def run(model, rng_key, x):
            mcmc = MCMC(NUTS(model), num_warmup=10, num_samples=10)
            mcmc.run(rng_key, x)
            predictive = Predictive(model, mcmc.get_samples())
            return predictive(rng_key, x)
    """) == [(6, "NPL301")]


def test_keys_handed_to_helpers_under_short_names_are_followed():
    assert key_codes("""
        def fit(model, key):
            return MCMC(NUTS(model), num_warmup=10, num_samples=10).run(key)

        def main(model):
            k1, k2 = random.split(random.PRNGKey(0))
            fit(model, k1)
            fit(model, k1)
    """) == [(8, "NPL301")]


def test_a_key_consumed_in_a_while_test_is_reused_on_every_iteration():
    assert key_codes("""
        def rejection(key):
            while random.uniform(key) < 0.5:
                pass

        def rejection_with_split(key):
            key, sub = random.split(key)
            while random.uniform(sub) < 0.5:
                key, sub = random.split(key)
    """) == [(3, "NPL301")]


# Deliberate reuse (silent) and the reuses that stay reported


def test_one_key_for_different_models_compared_is_silent():
    assert key_codes("""
        def compare(centered, noncentered, x):
            rng_key = random.PRNGKey(0)
            mcmc = MCMC(NUTS(centered), num_warmup=10, num_samples=10)
            mcmc.run(rng_key, x)
            kernel = NUTS(noncentered)
            mcmc_reparam = MCMC(kernel, num_warmup=10, num_samples=10)
            mcmc_reparam.run(rng_key, x)
            svi = SVI(centered, AutoNormal(centered), None, Trace_ELBO())
            svi.run(rng_key, 100, x)
    """) == []


def test_one_helper_run_with_one_key_on_each_model_is_silent():
    assert key_codes("""
        def run_inference(model, rng_key):
            mcmc = MCMC(NUTS(model), num_warmup=10, num_samples=10)
            mcmc.run(rng_key)
            return mcmc

        def main(model, reparam_model):
            rng_key = random.PRNGKey(0)
            run_inference(model, rng_key)
            run_inference(reparam_model, rng_key)
    """) == []


def test_the_same_model_redefined_in_a_notebook_is_another_model():
    assert key_codes("""
        mcmc_key = random.PRNGKey(1)

        def model(x):
            numpyro.sample("a", dist.Normal(0, 1))

        MCMC(NUTS(model), num_warmup=10, num_samples=10).run(mcmc_key, x)

        def model(x):
            numpyro.sample("a", dist.Normal(0, 2))

        MCMC(NUTS(model), num_warmup=10, num_samples=10).run(mcmc_key, x)
    """) == []


def test_one_callable_run_with_one_key_on_train_and_test_data_is_silent():
    assert key_codes("""
        def predict(model, samples, x, rng_key):
            return Predictive(model, samples)(rng_key, x)

        def main(model, samples, x_train, x_test):
            rng_key_predict = random.PRNGKey(1)
            predict(model, samples, x_train, rng_key_predict)
            predict(model, samples, x_test, rng_key_predict)

        def main_with_an_object(model, samples, x_train, x_test):
            rng_key_predict = random.PRNGKey(1)
            posterior = Predictive(model, samples)
            posterior(rng_key_predict, x_train)
            posterior(rng_key_predict, x_test)

        def main_inline(model, samples, x_train, x_test):
            rng_key_predict = random.PRNGKey(1)
            train = Predictive(model, samples)(rng_key_predict, x_train)
            test = Predictive(model, samples)(rng_key_predict, x_test)
    """) == []


def test_interventions_compared_under_common_random_numbers_are_silent():
    assert key_codes("""
        def contrast(model, samples, x):
            rng_key = random.PRNGKey(0)
            treated = Predictive(handlers.do(model, data={"t": 1.0}), samples)(rng_key, x)
            control = Predictive(handlers.do(model, data={"t": 0.0}), samples)(rng_key, x)
            return treated["y"] - control["y"]
    """) == []


def test_models_compared_in_a_loop_under_one_key_are_silent():
    assert key_codes("""
        def compare(models, x):
            rng_key = random.PRNGKey(0)
            for model in models:
                MCMC(NUTS(model), num_warmup=10, num_samples=10).run(rng_key, x)
    """) == []


def test_the_same_run_repeated_with_one_key_is_still_flagged():
    assert key_codes("""
        def refit(model, x):
            rng_key = random.PRNGKey(0)
            mcmc = MCMC(NUTS(model), num_warmup=10, num_samples=10)
            mcmc.run(rng_key, x)
            mcmc.run(rng_key, x)
            for _ in range(3):
                MCMC(NUTS(model), num_warmup=10, num_samples=10).run(rng_key, x)
    """) == [(6, "NPL301"), (8, "NPL301")]


def test_a_key_that_made_the_data_reused_for_inference_is_flagged():
    assert key_codes("""
        def run_inference(model, rng_key, y):
            MCMC(NUTS(model), num_warmup=10, num_samples=10).run(rng_key, y=y)

        def main(model, other_model):
            rng_key = random.PRNGKey(0)
            y = random.normal(rng_key, (100,))
            run_inference(model, rng_key, y)
            run_inference(other_model, rng_key, y)

        def simulate(rng_key):
            k1, k2 = random.split(rng_key)
            return random.normal(k1, (10,)) + random.normal(k2, (10,))

        def main_split(model):
            rng_key = random.PRNGKey(3)
            y = simulate(rng_key)
            run_inference(model, rng_key, y)
    """) == [(8, "NPL301"), (18, "NPL303")]


def test_posterior_predictive_with_the_mcmc_key_is_flagged_even_on_new_data():
    assert key_codes("""
        def fit_and_predict(model, x_train, y_train, x_test):
            rng_key = random.PRNGKey(0)
            rng_key, rng_subkey = random.split(rng_key)
            mcmc = MCMC(NUTS(model), num_warmup=10, num_samples=10)
            mcmc.run(rng_subkey, x_train, y_train)
            predictive = Predictive(model, mcmc.get_samples())
            draws = predictive(rng_subkey, x_test)
            rng_key, rng_subkey = random.split(rng_key)
            return draws
    """) == [(8, "NPL301")]


def test_the_wrong_variable_after_a_split_is_flagged():
    assert key_codes("""
        def make_data(rng_key, n):
            rng_key, rng_subkey = random.split(rng_key)
            y = random.normal(rng_key, (n,))
            rng_key, rng_subkey = random.split(rng_key)
            return y
    """) == [(5, "NPL301")]


def test_warmup_then_run_with_one_key_suggests_the_post_warmup_key():
    body = """
        def fit(model, x):
            rng_key = random.PRNGKey(0)
            mcmc = MCMC(NUTS(model), num_warmup=10, num_samples=10)
            mcmc.warmup(rng_key, x, collect_warmup=True)
            mcmc.run(rng_key, x)
    """
    [diagnostic] = diagnostics(body, "NPL301")
    assert diagnostic.span.line == OFFSET + 6
    assert "`mcmc.warmup` on line " + str(OFFSET + 5) in shown(diagnostic)
    assert "`mcmc.run(mcmc.post_warmup_state.rng_key, ...)`" in diagnostic.message
    assert diagnostic.fix is not None and diagnostic.fix.edits[0].content == "mcmc.post_warmup_state.rng_key"


def test_draw_then_split_cites_jax_debug_key_reuse():
    [diagnostic] = diagnostics("""
        def draws(key):
            x = random.normal(key)
            key, sub = random.split(key)
            return x + random.normal(sub)
    """, "NPL301")
    assert diagnostic.span.line == OFFSET + 4
    assert "JAX's `jax_debug_key_reuse` raises on this" in diagnostic.message
    assert "same random numbers" not in diagnostic.message


def test_the_message_names_the_latest_earlier_use():
    found = diagnostics("""
        def draws(key):
            a = random.normal(key)
            b = random.uniform(key)
            c = random.gamma(key, 2.0)
            return a, b, c
    """, "NPL301")
    assert [d.span.line - OFFSET for d in found] == [4, 5]
    assert "`jax.random.normal` on line " + str(OFFSET + 3) in shown(found[0])
    assert "`jax.random.uniform` on line " + str(OFFSET + 4) in shown(found[1])
    assert found[1].related[0].span.line == OFFSET + 4


def test_a_literal_seed_drawn_only_for_a_param_init_value_is_not_npl302():
    assert key_codes("""
        def guide(n):
            loc = numpyro.param("loc", init_value=-1 + 2 * random.uniform(random.PRNGKey(1), (n,)))
            init = random.normal(random.PRNGKey(2), (n,))
            scale = numpyro.param("scale", jnp.exp(init))
            w = numpyro.param("w", random.normal(random.key(3), (n,)))
            noise = random.normal(random.PRNGKey(4), (n,))
            numpyro.sample("x", dist.Normal(loc + noise, scale))
    """) == [(7, "NPL302")]


def test_fixed_seeds_in_test_files_are_not_npl302():
    source = HEADER + textwrap.dedent("""
        def make_data(n):
            return random.normal(random.PRNGKey(0), (n,))
    """)
    def seeds(path):
        return [d.code for d in lint_text(source, path=path).diagnostics if d.code == "NPL302"]
    assert seeds("pkg/tests/test_models.py") == seeds("conftest.py") == seeds("models_test.py") == []
    assert seeds("pkg/models.py") == ["NPL302"]
