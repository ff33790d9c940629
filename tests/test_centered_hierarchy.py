"""NPL501 centered-hierarchy: the scale's data flow, plates and batching, every reparam form, and the
classic eight-schools model written both ways."""

from __future__ import annotations

import textwrap

import pytest

from numpyro_lint.linter import lint_text

HEADER = """\
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from numpyro import handlers
from numpyro.handlers import reparam
from numpyro.infer import MCMC, NUTS
from numpyro.infer.reparam import LocScaleReparam, TransformReparam
"""
OFFSET = HEADER.count("\n") + 1  # `body` starts with a newline: its first line of code is line 1


def diagnostics(body: str, prefixes: tuple[str, ...] = ("NPL501",)):
    result = lint_text(HEADER + textwrap.dedent(body))
    return [d for d in result.diagnostics if d.code.startswith(prefixes)]


def flagged(body: str, prefixes: tuple[str, ...] = ("NPL501",)) -> list[int]:
    """Lines of `body` (its first line of code is 1) with NPL501, or with any code in `prefixes`."""
    return [d.span.line - OFFSET for d in diagnostics(body, prefixes)]


EIGHT_SCHOOLS_CENTERED = """
def eight_schools(J, sigma, y=None):
    mu = numpyro.sample("mu", dist.Normal(0, 5))
    tau = numpyro.sample("tau", dist.HalfCauchy(5))
    with numpyro.plate("J", J):
        theta = numpyro.sample("theta", dist.Normal(mu, tau))
        numpyro.sample("obs", dist.Normal(theta, sigma), obs=y)

mcmc = MCMC(NUTS(eight_schools), num_warmup=500, num_samples=500)
"""

EIGHT_SCHOOLS_NONCENTERED = """
def eight_schools(J, sigma, y=None):
    mu = numpyro.sample("mu", dist.Normal(0, 5))
    tau = numpyro.sample("tau", dist.HalfCauchy(5))
    with numpyro.plate("J", J):
        theta_raw = numpyro.sample("theta_raw", dist.Normal(0, 1))
        theta = mu + tau * theta_raw
        numpyro.sample("obs", dist.Normal(theta, sigma), obs=y)

mcmc = MCMC(NUTS(eight_schools), num_warmup=500, num_samples=500)
"""


def test_centered_eight_schools_is_flagged_on_theta_and_nowhere_else():
    assert flagged(EIGHT_SCHOOLS_CENTERED, ("NPL4", "NPL5")) == [5]


def test_non_centered_eight_schools_is_clean():
    assert flagged(EIGHT_SCHOOLS_NONCENTERED, ("NPL4", "NPL5")) == []


def test_the_diagnostic_is_on_the_site_relates_the_scale_site_and_says_what_to_do():
    [diagnostic] = diagnostics(EIGHT_SCHOOLS_CENTERED)
    assert diagnostic.span.line - OFFSET == 5 and diagnostic.span.col == 16  # `numpyro.sample("theta", ...)`
    assert [r.span.line - OFFSET for r in diagnostic.related] == [3]  # tau
    assert "`theta`" in diagnostic.message and "`tau`" in diagnostic.message and "`J`" in diagnostic.message
    assert "Non-center it with LocScaleReparam(0), or sample a standard normal and shift/scale it" in (
        diagnostic.message)
    # Users of data-rich models can judge for themselves.
    assert "When each group has much data the centered form is fine, often better" in diagnostic.message


@pytest.mark.parametrize(("prior", "expected"), [
    ("dist.Normal(mu, tau)", [5]),
    ("dist.Normal(mu, scale=tau)", [5]),
    ("dist.Normal(loc=mu, scale=tau)", [5]),
    ("dist.Normal(0.0, tau)", [5]),
    ("dist.StudentT(4.0, mu, tau)", [5]),
    ("dist.StudentT(df=4.0, loc=mu, scale=tau)", [5]),
    ("dist.StudentT(4.0, mu, scale=tau)", [5]),
    ("dist.Cauchy(mu, tau)", [5]),
    ("dist.Laplace(mu, tau)", [5]),
    ("dist.Logistic(mu, tau)", [5]),
    ("dist.Gumbel(mu, tau)", [5]),
    # Not loc-scale families: no funnel to non-center.
    ("dist.LogNormal(mu, tau)", []),
    ("dist.HalfNormal(tau)", []),
    ("dist.Gamma(tau, 1.0)", []),
    ("dist.Beta(tau, tau)", []),
])
def test_loc_scale_families_by_keyword_and_by_position(prior, expected):
    assert flagged(f"""
        def model(n):
            mu = numpyro.sample("mu", dist.Normal(0, 5))
            tau = numpyro.sample("tau", dist.HalfNormal(1))
            with numpyro.plate("groups", n):
                x = numpyro.sample("x", {prior})
    """) == expected


def test_student_t_with_a_latent_df_first_is_judged_by_its_scale():
    assert flagged("""
        def model(n):
            nu = numpyro.sample("nu", dist.Gamma(2.0, 0.1))
            mu = numpyro.sample("mu", dist.Normal(0, 5))
            with numpyro.plate("groups", n):
                a = numpyro.sample("a", dist.StudentT(nu, mu, 1.0))
                b = numpyro.sample("b", dist.StudentT(nu, 0.0, nu))
    """) == [6]


def test_nested_plates():
    assert flagged("""
        def model(n_schools, n_classes):
            tau = numpyro.sample("tau", dist.HalfNormal(1))
            with numpyro.plate("schools", n_schools):
                school = numpyro.sample("school", dist.Normal(0, tau))
                sigma_class = numpyro.sample("sigma_class", dist.HalfNormal(1))
                with numpyro.plate("classes", n_classes, dim=-2):
                    klass = numpyro.sample("klass", dist.Normal(school, sigma_class))
    """) == [4, 7]


def test_plate_bound_to_a_name_and_plate_stack():
    assert flagged("""
        def model(n):
            tau = numpyro.sample("tau", dist.HalfNormal(1))
            groups = numpyro.plate("groups", n)
            with groups:
                a = numpyro.sample("a", dist.Normal(0, tau))
            with numpyro.plate_stack("grid", (3, 4)):
                b = numpyro.sample("b", dist.Normal(0, tau))
    """) == [5, 7]


def test_batched_with_expand_outside_a_plate():
    assert flagged("""
        def model(K):
            tau = numpyro.sample("tau", dist.HalfNormal(1))
            a = numpyro.sample("a", dist.Normal(0, tau).expand([K]))
            b = numpyro.sample("b", dist.Normal(jnp.zeros(K), tau).to_event(1))
    """) == [3, 4]


@pytest.mark.parametrize(("setup", "scale"), [
    ("log_tau = numpyro.sample('log_tau', dist.Normal(0, 1))\n    tau = jnp.exp(log_tau)", "tau"),
    ("log_tau = numpyro.sample('log_tau', dist.Normal(0, 1))", "jnp.exp(log_tau)"),
    ("tau = numpyro.sample('tau', dist.HalfNormal(1))", "tau * 2"),
    ("tau = numpyro.sample('tau', dist.HalfNormal(1))\n    s = 2 * tau + 0.1", "s"),
    ("log_tau = numpyro.sample('log_tau', dist.Normal(0, 1))\n"
     "    tau = numpyro.deterministic('tau', jnp.exp(log_tau))", "tau"),
    ("with numpyro.plate('groups', 3):\n        sigma = numpyro.sample('sigma', dist.HalfNormal(1))", "sigma[group]"),
])
def test_scales_derived_from_a_latent_site(setup, scale):
    body = f"""
def model(group):
    {setup}
    with numpyro.plate("data", len(group)):
        x = numpyro.sample("x", dist.Normal(0.0, {scale}))
"""
    assert [d.span.line for d in diagnostics(body)] == [HEADER.count("\n") + body.count("\n")]


def test_scales_from_data_or_literals_are_not_flagged():
    assert flagged("""
        def model(n, sigma, group):
            mu = numpyro.sample("mu", dist.Normal(0, 5))
            with numpyro.plate("groups", n):
                a = numpyro.sample("a", dist.Normal(mu, 1.0))
                b = numpyro.sample("b", dist.Normal(mu, sigma))
                c = numpyro.sample("c", dist.Normal(mu, sigma[group] * 2))
    """) == []


def test_a_standard_normal_shifted_and_scaled_afterwards_is_already_non_centered():
    assert flagged("""
        def model(n):
            mu = numpyro.sample("mu", dist.Normal(0, 5))
            tau = numpyro.sample("tau", dist.HalfNormal(1))
            with numpyro.plate("groups", n):
                z = numpyro.sample("z", dist.Normal(0, 1))
                theta = numpyro.deterministic("theta", mu + tau * z)
    """) == []


def test_a_scalar_latent_outside_plates_is_not_a_hierarchy():
    assert flagged("""
        def model():
            tau = numpyro.sample("tau", dist.HalfNormal(1))
            x = numpyro.sample("x", dist.Normal(0, tau))
    """) == []


def test_a_python_loop_of_scalar_sites_is_not_a_plate():
    assert flagged("""
        def model(T):
            sigma = numpyro.sample("sigma", dist.HalfNormal(1))
            h = [numpyro.sample("h_0", dist.Normal(0, sigma))]
            for t in range(1, T):
                h.append(numpyro.sample(f"h_{t}", dist.Normal(h[-1], sigma)))
    """) == []


def test_a_scale_that_depends_only_on_a_discrete_latent_is_not_flagged():
    assert flagged("""
        def model(n, scales):
            z = numpyro.sample("z", dist.Categorical(jnp.ones(3) / 3))
            with numpyro.plate("groups", n):
                x = numpyro.sample("x", dist.Normal(0, scales[z]))
    """) == []


def test_the_observed_likelihood_is_never_flagged():
    assert flagged("""
        def model(n, y=None, z=None):
            tau = numpyro.sample("tau", dist.HalfNormal(1))
            with numpyro.plate("data", n):
                numpyro.sample("y", dist.Normal(0, tau), obs=y)
                numpyro.sample("z", dist.StudentT(3.0, 0.0, tau), obs=z)
                numpyro.sample("w", dist.Normal(0, tau).expand([2]).to_event(1), obs=jnp.zeros((n, 2)))
    """) == []


def test_noqa_suppresses_it():
    assert flagged("""
        def model(n):
            tau = numpyro.sample("tau", dist.HalfNormal(1))
            with numpyro.plate("groups", n):
                x = numpyro.sample("x", dist.Normal(0, tau))  # noqa: NPL501
    """) == []


# Reparameterizations already in force.

CENTERED_BODY = """
    mu = numpyro.sample("mu", dist.Normal(0, 5))
    tau = numpyro.sample("tau", dist.HalfCauchy(5))
    with numpyro.plate("J", J):
        theta = numpyro.sample("theta", dist.Normal(mu, tau))
        numpyro.sample("obs", dist.Normal(theta, sigma), obs=y)
"""


@pytest.mark.parametrize("decorator", [
    '@reparam(config={"theta": LocScaleReparam(0)})',
    '@reparam(config={"theta": LocScaleReparam(centered=0)})',
    '@handlers.reparam(config={"theta": LocScaleReparam(0)})',
    '@numpyro.handlers.reparam(config={"theta": TransformReparam()})',
    "@handlers.reparam(config=REPARAM_CONFIG)",
    "@reparam(config=lambda site: LocScaleReparam(0) if site['name'] == 'theta' else None)",
    "@reparam(config=choose_reparam)",
])
def test_decorator_reparam_forms(decorator):
    source = f"""
REPARAM_CONFIG = {{"theta": LocScaleReparam(0)}}
def choose_reparam(site):
    return LocScaleReparam(0)
{decorator}
def model(J, sigma, y=None):{CENTERED_BODY}"""
    assert flagged(source) == []


@pytest.mark.parametrize("handler", ["reparam", "handlers.reparam", "numpyro.handlers.reparam"])
def test_with_reparam_forms(handler):
    assert flagged(f"""
        def model(n):
            tau = numpyro.sample("tau", dist.HalfNormal(1))
            with {handler}(config={{"theta": LocScaleReparam(0)}}):
                with numpyro.plate("groups", n):
                    theta = numpyro.sample("theta", dist.Normal(0, tau))
            with numpyro.plate("groups2", n), {handler}(config={{"eta": TransformReparam()}}):
                eta = numpyro.sample("eta", dist.Normal(0, tau))
    """) == []


def test_a_reparam_config_that_does_not_name_the_site_does_not_cover_it():
    source = """
REPARAM_CONFIG = {"other": LocScaleReparam(0)}
@reparam(config=REPARAM_CONFIG)
def model(J, sigma, y=None):""" + CENTERED_BODY + """
def model2(n):
    tau = numpyro.sample("tau", dist.HalfNormal(1))
    with reparam(config={"theta": LocScaleReparam(0)}):
        pass
    with numpyro.plate("groups", n):
        theta = numpyro.sample("theta", dist.Normal(0, tau))
"""
    assert flagged(source) == [7, 15]


@pytest.mark.parametrize("wrapping", [
    'model = reparam(model, config={"theta": LocScaleReparam(0)})',
    'reparam_model = handlers.reparam(model, config={"theta": LocScaleReparam(0)})',
    'kernel = NUTS(numpyro.handlers.reparam(model, config={"theta": LocScaleReparam(0)}))',
    'kernel = NUTS(reparam(config={"theta": LocScaleReparam(0)})(model))',
    'kernel = NUTS(reparam(fn=model, config=REPARAM_CONFIG))',
    "kernel = NUTS(reparam(model, config=lambda site: LocScaleReparam(0)))",
])
def test_model_wrapped_with_reparam(wrapping):
    source = f"""
REPARAM_CONFIG = {{"theta": LocScaleReparam(0)}}
def model(J, sigma, y=None):{CENTERED_BODY}
def main(J, sigma, y):
    {wrapping}
"""
    assert flagged(source) == []


def test_a_helper_called_inside_a_reparam_block_or_a_reparam_decorated_model_is_covered():
    assert flagged("""
        def group_effects(n, tau):
            with numpyro.plate("groups", n):
                return numpyro.sample("theta", dist.Normal(0, tau))

        def model(n):
            tau = numpyro.sample("tau", dist.HalfNormal(1))
            with reparam(config={"theta": LocScaleReparam(0)}):
                group_effects(n, tau)

        def effects_b(n):
            tau = numpyro.sample("tau_b", dist.HalfNormal(1))
            with numpyro.plate("groups", n):
                return numpyro.sample("theta_b", dist.Normal(0, tau))

        @reparam(config={"theta_b": LocScaleReparam(0)})
        def model_b(n):
            return effects_b(n)
    """) == []


def test_an_unwrapped_model_beside_a_wrapped_other_model_is_still_flagged():
    source = """
def model(J, sigma, y=None):""" + CENTERED_BODY + """
def other(J, sigma, y=None):""" + CENTERED_BODY + """
kernel = NUTS(reparam(other, config={"theta": LocScaleReparam(0)}))
mcmc = MCMC(NUTS(model), num_warmup=10, num_samples=10)
"""
    assert flagged(source) == [5]


def test_a_helper_called_inside_a_plate_is_in_that_plate():
    [diagnostic] = diagnostics("""
        def funnel():
            log_s = numpyro.sample("log_s", dist.Normal(0, 3))
            return numpyro.sample("x", dist.Normal(0, jnp.exp(log_s / 2)))

        def model(n):
            with numpyro.plate("replicates", n):
                funnel()
    """)
    assert diagnostic.span.line - OFFSET == 3 and "in plate `replicates`" in diagnostic.message


# Issue 14: wrappers cover only the runs that use them; groups from array-valued arguments; SVI wording.
WRAPPED_HEADER = """\
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from numpyro import handlers
from numpyro.infer import MCMC, NUTS, SVI, Trace_ELBO
from numpyro.infer.autoguide import AutoNormal
from numpyro.infer.reparam import LocScaleReparam

def schools(J, sigma, y=None):
    mu = numpyro.sample("mu", dist.Normal(0, 5))
    tau = numpyro.sample("tau", dist.HalfCauchy(5))
    with numpyro.plate("J", J):
        theta = numpyro.sample("theta", dist.Normal(mu, tau))
        numpyro.sample("obs", dist.Normal(theta, sigma), obs=y)
"""


def _npl501(source: str, pedantic: bool = False):
    from numpyro_lint.config import Settings
    from numpyro_lint.linter import lint_text

    settings = Settings(select=("NPL", "pedantic")) if pedantic else Settings()
    return [d for d in lint_text(source, settings=settings).diagnostics if d.code == "NPL501"]


def test_reparam_wrapper_covers_the_model_only_when_every_fit_uses_it():
    wrapped_only = WRAPPED_HEADER + """
noncentered = handlers.reparam(schools, config={"theta": LocScaleReparam(0)})
MCMC(NUTS(noncentered), num_warmup=10, num_samples=10)
"""
    assert _npl501(wrapped_only) == []
    both = wrapped_only + "MCMC(NUTS(schools), num_warmup=10, num_samples=10)\n"
    assert [d.span.line for d in _npl501(both)] == [13]


def test_the_unwrapped_model_given_to_nuts_through_a_helper_is_flagged():
    source = WRAPPED_HEADER + """
noncentered = handlers.reparam(schools, config={"theta": LocScaleReparam(0)})

def fit(fn, key):
    mcmc = MCMC(NUTS(fn), num_warmup=10, num_samples=10)
    mcmc.run(key)
    return mcmc

fit(schools, 0)
fit(noncentered, 1)
"""
    assert [d.span.line for d in _npl501(source)] == [13]


def test_sites_observed_by_a_condition_wrapper_are_not_latents():
    source = WRAPPED_HEADER + """
def regression(x):
    sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
    with numpyro.plate("data", len(x)):
        numpyro.sample("y", dist.Normal(x, sigma))

conditioned = handlers.condition(regression, data={"y": jnp.ones(3)})
MCMC(NUTS(conditioned), num_warmup=10, num_samples=10)
MCMC(NUTS(schools), num_warmup=10, num_samples=10)
"""
    assert [d.span.line for d in _npl501(source)] == [13]


def test_groups_from_array_valued_arguments():
    source = """\
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

def funnel(dim=10):
    y = numpyro.sample("y", dist.Normal(0, 3))
    numpyro.sample("x", dist.Normal(jnp.zeros(dim - 1), jnp.exp(y / 2)))

def horseshoe(D):
    tau = numpyro.sample("tau", dist.HalfCauchy(1.0))
    lambdas = numpyro.sample("lambdas", dist.HalfCauchy(jnp.ones(D)))
    numpyro.sample("betas", dist.Normal(0, tau * lambdas))

def scalar(n):
    s = numpyro.sample("s", dist.HalfNormal(1.0))
    numpyro.sample("one", dist.Normal(0.0, s))
"""
    assert [d.span.line for d in _npl501(source)] == [7, 12]


def test_svi_only_models_are_pedantic_and_the_message_does_not_talk_about_nuts():
    source = WRAPPED_HEADER + """
guide = AutoNormal(schools)
svi = SVI(schools, guide, None, Trace_ELBO())
"""
    assert _npl501(source) == []
    [diagnostic] = _npl501(source, pedantic=True)
    assert "NUTS" not in diagnostic.message and "SVI" in diagnostic.message


def test_a_helper_parameter_named_like_the_model_does_not_fit_the_model_unwrapped():
    source = WRAPPED_HEADER + """
noncentered = handlers.reparam(schools, config={"theta": LocScaleReparam(0)})

def fit(schools, key):
    mcmc = MCMC(NUTS(schools), num_warmup=10, num_samples=10)
    mcmc.run(key)

fit(noncentered, 0)
"""
    assert _npl501(source) == []
