"""NPL201-NPL204 beyond the rules' own examples: every "flags" and "must not flag" clause of RULES.md, and
every way of entering a plate (`with`, `as`, several in one `with`, nested, `plate_stack`, a plate held
by the caller, subsampled)."""

from __future__ import annotations

import textwrap

from functools import partial

import conftest

from numpyro_lint.config import Settings
from numpyro_lint.linter import lint_text

# Where a site sits relative to plates is what these tests are about, whatever the finding's tier: they
# look at every finding (the pedantic tier included). test_plate_tiers.py checks the tiers.
EVERY_TIER = ("NPL", "pedantic")
codes = partial(conftest.codes, select=EVERY_TIER)
codes_by_line = partial(conftest.codes_by_line, select=EVERY_TIER)

HEADER = """\
import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
"""


def plate_codes(body: str) -> list[tuple[int, str]]:
    """(line, code) of NPL2xx findings other than NPL205, lines counted from the first line of `body`."""
    offset = HEADER.count("\n")
    found = codes_by_line(HEADER + textwrap.dedent(body))
    return [(line - offset, code) for line, code in found if code in ("NPL201", "NPL202", "NPL203", "NPL204")]


def diagnostics(body: str, code: str):
    return [d for d in lint_text(HEADER + textwrap.dedent(body), settings=Settings(select=EVERY_TIER)).diagnostics
            if d.code == code]


# NPL201 obs-without-plate


def test_observed_argument_outside_any_plate_is_flagged_on_the_data():
    found = diagnostics("""
        def model(y):
            mu = numpyro.sample("mu", dist.Normal(0, 1))
            numpyro.sample("y", dist.Normal(mu, 1), obs=y)
    """, "NPL201")
    assert len(found) == 1
    assert found[0].span.line == HEADER.count("\n") + 4
    text = found[0].message
    assert "the argument `y`" in text and "numpyro.plate" in text and "to_event" in text


def test_observed_array_and_slice_data_are_flagged():
    assert plate_codes("""
        def model(x):
            mu = numpyro.sample("mu", dist.Normal(0, 1))
            numpyro.sample("a", dist.Normal(mu, 1), obs=jnp.asarray(x))
            numpyro.sample("b", dist.Normal(mu, 1), obs=x[:, 0])
            numpyro.sample("c", dist.Poisson(mu), obs=[1, 2, 3])
    """) == [(4, "NPL201"), (5, "NPL201"), (6, "NPL201")]


def test_scalar_literal_data_is_fine():
    assert plate_codes("""
        def model(n=10):
            mu = numpyro.sample("mu", dist.Normal(0, 1))
            numpyro.sample("one", dist.Normal(mu, 1), obs=0.5)
            numpyro.sample("count", dist.Poisson(mu), obs=n)
    """) == []


def test_every_way_of_entering_a_plate_counts():
    assert plate_codes("""
        from numpyro import plate

        def model(y, n_groups, g):
            mu = numpyro.sample("mu", dist.Normal(0, 1))
            with numpyro.plate("data", y.shape[0]):
                numpyro.sample("a", dist.Normal(mu, 1), obs=y)
            with plate("data2", len(y)) as idx:
                numpyro.sample("b", dist.Normal(mu, 1), obs=y[idx])
            with numpyro.plate("x", 3, dim=-2), numpyro.plate("y", 4, dim=-1):
                numpyro.sample("c", dist.Normal(mu, 1), obs=y)
            with numpyro.plate("outer", 3):
                with numpyro.plate("inner", 4):
                    numpyro.sample("d", dist.Normal(mu, 1), obs=y)
            with numpyro.plate_stack("grid", [3, 4]):
                numpyro.sample("e", dist.Normal(mu, 1), obs=y)
            data_plate = numpyro.plate("data3", len(y))
            with data_plate:
                numpyro.sample("f", dist.Normal(mu, 1), obs=y)
            with numpyro.plate("batch", 10000, subsample_size=100) as batch:
                numpyro.sample("g", dist.Normal(mu, 1), obs=y[batch])
                numpyro.sample("h", dist.Normal(mu, 1), obs=y)
    """) == []


def test_a_plate_made_elsewhere_counts():
    assert plate_codes("""
        def model(y, data_plate):
            mu = numpyro.sample("mu", dist.Normal(0, 1))
            with data_plate:
                numpyro.sample("y", dist.Normal(mu, 1), obs=y)
    """) == []


def test_site_inside_a_plate_opened_by_the_caller_is_fine():
    assert plate_codes("""
        def likelihood(mu, y):
            numpyro.sample("y", dist.Normal(mu, 1), obs=y)

        def model(y):
            mu = numpyro.sample("mu", dist.Normal(0, 1))
            with numpyro.plate("data", len(y)):
                likelihood(mu, y)
    """) == []


def test_plates_reach_helpers_through_several_calls_and_methods():
    assert plate_codes("""
        class Model:
            def obs(self, mu, y):
                numpyro.sample("y", dist.Normal(mu, 1), obs=y)

            def middle(self, mu, y):
                self.obs(mu, y)

            def __call__(self, y):
                mu = numpyro.sample("mu", dist.Normal(0, 1))
                with numpyro.plate("data", len(y)):
                    self.middle(mu, y)
    """) == []


def test_helper_called_outside_a_plate_by_one_caller_is_flagged():
    assert plate_codes("""
        def likelihood(mu, y):
            numpyro.sample("y", dist.Normal(mu, 1), obs=y)

        def model(y):
            mu = numpyro.sample("mu", dist.Normal(0, 1))
            with numpyro.plate("data", len(y)):
                likelihood(mu, y)

        def other(y):
            likelihood(0.0, y)
    """) == [(3, "NPL201")]


def test_to_event_and_independent_are_fine():
    assert plate_codes("""
        def model(y):
            mu = numpyro.sample("mu", dist.Normal(0, 1))
            numpyro.sample("a", dist.Normal(mu, 1).to_event(1), obs=y)
            numpyro.sample("b", dist.Independent(dist.Normal(mu, 1), 1), obs=y)
            numpyro.sample("c", dist.Normal(mu, 1).expand([3]).to_event(1), obs=y)
    """) == []


def test_multivariate_observations_are_fine():
    assert plate_codes("""
        def model(y, K):
            mu = numpyro.sample("mu", dist.Normal(0, 1))
            numpyro.sample("a", dist.MultivariateNormal(jnp.zeros(K), jnp.eye(K)), obs=y)
            numpyro.sample("b", dist.Dirichlet(jnp.ones(K)), obs=y)
    """) == []


def test_per_step_data_in_a_contrib_scan_step_is_fine():
    assert plate_codes("""
        from numpyro.contrib.control_flow import scan

        def model(ys):
            def transition(carry, y_t):
                x = numpyro.sample("x", dist.Normal(carry, 1), obs=y_t)
                return x, x
            scan(transition, 0.0, ys)
    """) == []


def test_helper_called_from_a_contrib_scan_step_is_fine():
    assert plate_codes("""
        from numpyro.contrib.control_flow import scan

        def emit(x, y_t):
            numpyro.sample("y", dist.Normal(x, 1), obs=y_t)

        def model(ys):
            def transition(carry, y_t):
                emit(carry, y_t)
                return carry, carry
            scan(transition, 0.0, ys)
    """) == []


def test_unknown_distributions_and_element_data_stay_silent():
    assert plate_codes("""
        def model(y, likelihood):
            mu = numpyro.sample("mu", dist.Normal(0, 1))
            numpyro.sample("a", likelihood(mu), obs=y)
            numpyro.sample("b", dist.Normal(mu, 1), obs=y[0])
            numpyro.sample("c", dist.Normal(mu, 1), obs=jnp.sum(y))
    """) == []


# NPL202 batched-latent-without-plate


def test_visibly_batched_latents_are_flagged_on_the_batching_expression():
    found = diagnostics("""
        def model(K):
            a = numpyro.sample("a", dist.Normal(jnp.zeros(K), 1.0))
            b = numpyro.sample("b", dist.Normal(0.0, 1.0).expand([K]))
            c = numpyro.sample("c", dist.HalfNormal(jnp.ones((K, 2))))
            d = numpyro.sample("d", dist.Normal([0.0, 1.0, 2.0], 1.0))
    """, "NPL202")
    assert [d.span.line - HEADER.count("\n") for d in found] == [3, 4, 5, 6]
    assert "`jnp.zeros(K)`" in found[0].message
    assert "`.expand([K])`" in found[1].message


def test_scalar_parameters_are_fine():
    assert plate_codes("""
        def model(loc):
            a = numpyro.sample("a", dist.Normal(0.0, 1.0))
            b = numpyro.sample("b", dist.Normal(jnp.array(0.0), 1.0))
            c = numpyro.sample("c", dist.Normal(loc, 1.0))
            d = numpyro.sample("d", dist.Normal(jnp.zeros(1), 1.0))
            e = numpyro.sample("e", dist.Normal(jnp.zeros(()), 1.0))
            f = numpyro.sample("f", dist.Normal(0.0, 1.0).expand([1]))
    """) == []


def test_batched_latents_in_plates_or_with_to_event_are_fine():
    assert plate_codes("""
        def helper(K):
            return numpyro.sample("h", dist.Normal(jnp.zeros(K), 1.0))

        def model(K):
            with numpyro.plate("k", K):
                a = numpyro.sample("a", dist.Normal(jnp.zeros(K), 1.0))
                helper(K)
            b = numpyro.sample("b", dist.Normal(jnp.zeros(K), 1.0).to_event(1))
            c = numpyro.sample("c", dist.Normal(0.0, 1.0).expand([K]).to_event(1))
    """) == []


def test_array_parameters_of_multivariate_and_categorical_distributions_are_events():
    assert plate_codes("""
        def model(K):
            a = numpyro.sample("a", dist.Dirichlet(jnp.ones(K)))
            b = numpyro.sample("b", dist.MultivariateNormal(jnp.zeros(K), jnp.eye(K)))
            c = numpyro.sample("c", dist.Categorical(jnp.ones(K) / K))
            d = numpyro.sample("d", dist.Categorical(probs=jnp.array([0.2, 0.8])))
    """) == []


# NPL203 sites-in-python-loop


def test_per_iteration_site_names_are_flagged_with_the_loop_related():
    found = diagnostics("""
        def model(y):
            for i in range(len(y)):
                numpyro.sample(f"y_{i}", dist.Normal(0, 1), obs=y[i])
    """, "NPL203")
    assert len(found) == 1
    assert "plate" in found[0].message and "scan" in found[0].message
    assert found[0].related[0].span.line == HEADER.count("\n") + 3


def test_only_latent_sites_in_a_loop_are_said_to_come_back_as_separate_scalars():
    observed, latent = diagnostics("""
        def model(y):
            for i in range(len(y)):
                numpyro.sample(f"y_{i}", dist.Normal(0, 1), obs=y[i])
            for j in range(len(y)):
                numpyro.sample(f"z_{j}", dist.Normal(0, 1))
    """, "NPL203")
    assert "separate scalars" not in observed.message and "compilation grow" in observed.message
    assert "the posterior comes back as separate scalars" in latent.message


def test_loops_over_literal_names_are_fine():
    assert plate_codes("""
        def model():
            for name in ["mu", "tau"]:
                numpyro.sample(name, dist.Normal(0, 1))
            for name, scale in [("a", 1.0), ("b", 2.0)]:
                numpyro.sample(name, dist.Normal(0, scale))
            for name in {"c": 1, "d": 2}.keys():
                numpyro.sample(name, dist.Normal(0, 1))
            for i, name in enumerate(["e", "f"]):
                numpyro.sample(f"{name}_{i}", dist.Normal(0, 1))
    """) == []


def test_nested_loop_renaming_by_the_outer_index_is_flagged():
    assert plate_codes("""
        def model(T):
            for t in range(T):
                for name in ["a", "b"]:
                    numpyro.sample(f"{name}_{t}", dist.Normal(0, 1))
    """) == [(5, "NPL203")]


def test_deterministic_sites_and_fixed_names_in_loops_are_not_npl203():
    assert plate_codes("""
        def model(T):
            for t in range(T):
                numpyro.deterministic(f"d_{t}", t * 2.0)
    """) == []


# NPL204 primitive-in-jax-control-flow


def test_primitive_in_lax_scan_body_points_at_the_primitive_and_relates_the_call():
    found = diagnostics("""
        from jax import lax

        def model(T):
            def step(x, _):
                x = numpyro.sample("x", dist.Normal(x, 1))
                return x, x
            lax.scan(step, 0.0, None, length=T)
    """, "NPL204")
    assert len(found) == 1
    assert found[0].span.line == HEADER.count("\n") + 6
    assert found[0].related[0].span.line == HEADER.count("\n") + 8
    assert "numpyro.contrib.control_flow.scan" in found[0].message


def test_every_jax_control_flow_and_alias_is_covered():
    assert plate_codes("""
        from functools import partial
        from jax import lax, vmap
        from jax.lax import scan as jscan

        def body(i, x):
            return x + numpyro.sample("b", dist.Normal(0, 1))

        def keep_going(x):
            return numpyro.sample("c", dist.Normal(0, 1)) > 0

        def yes(x):
            return numpyro.sample("y", dist.Normal(x, 1))

        def no(x):
            return numpyro.sample("n", dist.Normal(x, 1))

        def step(c, x, scale):
            return c, numpyro.sample("s", dist.Normal(c, scale))

        def model(xs):
            lax.fori_loop(0, 3, body, 0.0)
            lax.while_loop(keep_going, lambda x: x, 0.0)
            lax.cond(True, yes, no, 0.0)
            jscan(partial(step, scale=2.0), 0.0, xs)
            vmap(lambda m: numpyro.deterministic("m", m))(xs)
            jax.lax.map(lambda m: numpyro.factor("f", m), xs)
    """) == [(7, "NPL204"), (10, "NPL204"), (13, "NPL204"), (16, "NPL204"), (19, "NPL204"), (26, "NPL204"),
             (27, "NPL204")]


def test_primitive_in_a_helper_called_from_the_body_is_reported_at_the_helper_call():
    found = diagnostics("""
        def draw(x):
            return numpyro.sample("x", dist.Normal(x, 1))

        def model(T):
            def step(x, _):
                x = draw(x)
                return x, x
            jax.lax.scan(step, 0.0, None, length=T)
    """, "NPL204")
    assert [d.span.line - HEADER.count("\n") for d in found] == [7]
    assert {r.span.line - HEADER.count("\n") for r in found[0].related} == {3, 9}


def test_vmap_decorator_is_covered():
    assert plate_codes("""
        @jax.vmap
        def draw(x):
            return numpyro.sample("x", dist.Normal(x, 1))
    """) == [(4, "NPL204")]


def test_contrib_control_flow_and_primitive_free_bodies_are_fine():
    assert plate_codes("""
        from numpyro import handlers
        from numpyro.contrib.control_flow import cond, scan

        def model(T, ys):
            def step(x, y):
                x = numpyro.sample("x", dist.Normal(x, 1), obs=y)
                return x, x
            scan(step, 0.0, ys, length=T)
            cond(True, lambda _: numpyro.sample("a", dist.Normal(0, 1)),
                 lambda _: numpyro.sample("a", dist.Normal(1, 1)), None)
            total = jax.lax.fori_loop(0, T, lambda i, acc: acc + i, 0.0)
            mu = numpyro.sample("mu", dist.Normal(0, 1))
            loglik = jax.vmap(lambda y: dist.Normal(mu, 1).log_prob(y))(ys)

        def prior_draws(model, keys):
            def one(key):
                with handlers.seed(rng_seed=key):
                    return numpyro.sample("x", dist.Normal(0, 1))
            draws = jax.vmap(one)(keys)
            return jax.vmap(lambda k: handlers.seed(model, k)())(keys)

        def per_sample(samples):
            def one(s):
                with handlers.substitute(data=s):
                    return numpyro.sample("x", dist.Normal(0, 1))
            return jax.vmap(one)(samples)
    """) == []


def test_plate_rules_resolve_aliased_imports():
    found = codes("""
        import numpyro as npr
        from numpyro import distributions as D
        from numpyro.distributions import Normal

        def model(y, K):
            mu = npr.sample("mu", Normal(0.0, 1.0))
            theta = npr.sample("theta", D.Normal(0.0, 1.0).expand([K]))
            npr.sample("y", Normal(mu, 1.0), obs=y)
    """)
    assert [code for code in found if code.startswith("NPL2")] == ["NPL202", "NPL201"]


def test_a_count_passed_in_is_one_number_unless_the_model_treats_the_data_as_arrays():
    assert plate_codes("""
        def coin(n, heads):
            p = numpyro.sample("p", dist.Beta(1, 1))
            numpyro.sample("heads", dist.Binomial(n, p), obs=heads)
    """) == []
    assert plate_codes("""
        def glm(X, exposure, claims=None):
            beta = numpyro.sample("beta", dist.Normal(0, 1))
            rate = jnp.exp(jnp.log(exposure) + X[:, 0] * beta)
            numpyro.sample("claims", dist.Poisson(rate), obs=claims)
    """) == [(5, "NPL201")]


def test_a_literal_range_of_a_few_iterations_is_a_fixed_set_of_sites():
    assert plate_codes("""
        def model(y):
            for t in range(1, 3):
                numpyro.sample("y_" + str(t), dist.Normal(0, 1), obs=y[t])
            for k in range(100):
                numpyro.sample(f"z_{k}", dist.Normal(0, 1))
    """) == [(6, "NPL203")]


def test_a_loop_over_site_names_makes_one_site_per_name():
    assert plate_codes("""
        def guide(prototype_trace):
            for name, site in prototype_trace.items():
                numpyro.sample(name, dist.Normal(0, 1))
            while prototype_trace:
                name = prototype_trace.pop()
                numpyro.sample(name, dist.Normal(0, 1))
    """) == []
