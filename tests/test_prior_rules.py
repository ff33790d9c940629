"""NPL401-NPL404 beyond the rules' own examples: every "flags" and "must not flag" clause of RULES.md,
parameters by name and by position, import styles, literal forms and the `wide-prior-scale` setting."""

from __future__ import annotations

import textwrap

import pytest

from numpyro_lint.config import Settings
from numpyro_lint.linter import lint_text

HEADER = """\
import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from numpyro.distributions import constraints
"""


def found(body: str, code: str, **kwargs) -> list[int]:
    """Lines (counted from the first line of `body`) that get `code`, for a model body after HEADER."""
    offset = HEADER.count("\n") + 1  # `body` starts with a newline: its first line of code is line 1
    return [d.span.line - offset for d in diagnostics(body, code, **kwargs)]


def diagnostics(body: str, code: str, **kwargs):
    """The diagnostics of `code`; their lines count HEADER (the `def` of `body` is line 7)."""
    return [d for d in lint_text(HEADER + textwrap.dedent(body), **kwargs).diagnostics if d.code == code]


# NPL401 wide-prior


@pytest.mark.parametrize("prior", [
    "dist.Normal(0.0, 1000.0)",
    "dist.Normal(0.0, scale=500)",
    "dist.Normal(loc=0.0, scale=100.5)",
    "dist.Cauchy(0, 1e3)",
    "dist.StudentT(3.0, 0.0, 1e3)",
    "dist.StudentT(df=3.0, loc=0.0, scale=1e3)",
    "dist.Laplace(0, 1_000)",
    "dist.Logistic(0, 250.0)",
    "dist.Gumbel(0, 1e4)",
    "dist.HalfNormal(1000.0)",
    "dist.HalfNormal(scale=1e6)",
    "dist.HalfCauchy(101)",
    "dist.Uniform(-101, 101)",
    "dist.Uniform(low=-1e6, high=1e6)",
    "dist.Uniform(0, 1_000)",
    "dist.Exponential(0.009)",
    "dist.Exponential(rate=1e-4)",
    "dist.Normal(0, 1000).expand([3]).to_event(1)",
    "dist.TruncatedNormal(0.0, 1000.0, low=0.0)",
    "dist.Normal(-50.0, 1000.0)",  # the location is smaller than the scale: still wide
    "dist.LogNormal(0.0, 6.0)",  # log units: its own threshold, 5
    "dist.LogNormal(10.0, 6.0)",  # a large log-location does not make log units large
])
def test_wide_priors_are_flagged_by_name_and_by_position(prior):
    assert found(f"""
        def model():
            x = numpyro.sample("x", {prior})
    """, "NPL401") == [2]


@pytest.mark.parametrize("prior", [
    "dist.Normal(0.0, 99.9)",
    "dist.Normal(1000.0, 1.0)",  # a far location is not a wide prior
    "dist.StudentT(1000.0, 0.0, 1.0)",  # df, not scale
    "dist.HalfCauchy(5.0)",
    "dist.Uniform(-99, 99)",
    "dist.Uniform(0, 150)",
    "dist.Exponential(0.011)",
    "dist.Exponential(1.0)",
    "dist.TruncatedNormal(0.0, 1000.0, low=0.0, high=1.0)",
    "dist.Normal(0.0, -1000.0)",  # invalid, not wide
    "dist.Gamma(1000.0, 1000.0)",
    # exactly at the threshold: reported only strictly above it
    "dist.Normal(loc=0.0, scale=100)",
    "dist.HalfCauchy(100)",
    "dist.Uniform(-100, 100)",
    "dist.Exponential(0.01)",
    # the location is at least the scale: the parameter is in the data's large units
    "dist.Normal(500.0, 100.0)",
    "dist.Normal(-2000.0, 1000.0)",
    "dist.StudentT(3.0, 1e4, 1e3)",
    # LogNormal's scale is in log units: 5 is wide (e^5 per sd) but not above the threshold
    "dist.LogNormal(0.0, 5.0)",
    "dist.LogNormal(-20.0, 5.0)",
    "dist.LogNormal(0.0, 1.5)",
])
def test_narrow_or_other_priors_are_not_flagged(prior):
    assert found(f"""
        def model():
            x = numpyro.sample("x", {prior})
    """, "NPL401") == []


def test_every_import_style_is_read():
    source = """
        import numpyro as npr
        import numpyro.distributions as D
        from numpyro import distributions as nd
        from numpyro.distributions import Normal as N
        from numpyro.distributions.continuous import Cauchy

        def model():
            a = npr.sample("a", D.Normal(0, 1000))
            b = npr.sample("b", nd.Normal(0, 1000))
            c = npr.sample("c", N(0, 1000))
            d = npr.sample("d", Cauchy(0, 1000))
    """
    assert [d.code for d in lint_text(textwrap.dedent(source)).diagnostics] == ["NPL401"] * 4


def test_module_constants_assigned_once_count_as_literals():
    assert found("""
        SCALE = 1000.0
        WIDE = -1e6
        RESCALED = 5.0
        RESCALED = 5000.0

        def model():
            a = numpyro.sample("a", dist.Normal(0.0, SCALE))
            b = numpyro.sample("b", dist.Uniform(WIDE, -WIDE))
            c = numpyro.sample("c", dist.Normal(0.0, RESCALED))
    """, "NPL401") == [7, 8]


def test_observed_sites_are_not_flagged():
    assert found("""
        def model(y=None):
            numpyro.sample("y", dist.Normal(0.0, 1000.0), obs=y)
            numpyro.sample("z", dist.Uniform(-1e6, 1e6), obs=jnp.zeros(3))
    """, "NPL401") == []


def test_obs_none_is_a_latent_site():
    assert found("""
        def model():
            x = numpyro.sample("x", dist.Normal(0.0, 1000.0), obs=None)
    """, "NPL401") == [2]


def test_scales_from_data_or_variables_are_not_flagged():
    assert found("""
        def model(y, prior_scale=1000.0):
            s = 1000.0
            a = numpyro.sample("a", dist.Normal(0.0, prior_scale))
            b = numpyro.sample("b", dist.Normal(0.0, s))
            c = numpyro.sample("c", dist.Normal(0.0, 10 * y.std()))
            d = numpyro.sample("d", dist.Normal(0.0, jnp.array(1000.0)))
    """, "NPL401") == []


def test_a_location_computed_from_the_data_means_large_units():
    assert found("""
        def model(y, x):
            a = numpyro.sample("a", dist.Normal(y.mean(), 1000.0))
            b = numpyro.sample("b", dist.Normal(jnp.zeros(3), 1000.0))
    """, "NPL401") == [3]


def test_the_prior_on_the_observation_noise_sets_the_data_units():
    body = """
        def model(weeks, fvc=None):
            intercept = numpyro.sample("intercept", dist.Normal(0.0, 500.0))
            far = numpyro.sample("far", dist.Normal(0.0, 1e5))
            sigma = numpyro.sample("sigma", {noise})
            with numpyro.plate("data", weeks.shape[0]):
                numpyro.sample("fvc", dist.Normal(intercept + far * weeks, sigma), obs=fvc)
    """
    assert found(body.format(noise="dist.HalfNormal(100.0)"), "NPL401") == [3]  # units of 100: 1e5 is still wide
    assert found(body.format(noise="dist.Exponential(0.02)"), "NPL401") == [3]  # units of 50
    assert found(body.format(noise="dist.HalfCauchy(1.0)"), "NPL401") == [2, 3]
    assert found(body.format(noise="dist.HalfNormal(0.1)"), "NPL401") == [2, 3]  # never narrower than 1
    # a noise prior that is itself wide says nothing about the units
    assert found(body.format(noise="dist.HalfCauchy(1000.0)"), "NPL401") == [2, 3, 4]


def test_a_wide_prior_in_the_data_units_names_the_noise_prior():
    [diagnostic] = diagnostics("""
        def model(y=None):
            mu = numpyro.sample("mu", dist.Normal(0.0, 1e4))
            sigma = numpyro.sample("sigma", dist.HalfNormal(50.0))
            numpyro.sample("y", dist.Normal(mu, sigma), obs=y)
    """, "NPL401")
    assert "times 50 for the data's units that the prior on `sigma` implies" in diagnostic.message


def test_a_wide_lognormal_says_its_threshold_is_in_log_units_and_gets_no_fix():
    [diagnostic] = diagnostics("""
        def model():
            s = numpyro.sample("s", dist.LogNormal(0.0, 10.0))
    """, "NPL401")
    assert "log-space threshold is 5" in diagnostic.message
    assert diagnostic.fix is None


def test_distributions_in_guides_and_outside_models_are_not_priors():
    assert found("""
        def guide():
            loc = numpyro.param("loc", 0.0)
            numpyro.sample("x", dist.Normal(loc, 1000.0))

        def log_prior(x):
            return dist.Normal(0.0, 1000.0).log_prob(x)
    """, "NPL401") == []


def test_a_distribution_bound_to_a_name_first_is_read():
    assert found("""
        def model():
            prior = dist.Normal(0.0, 1000.0)
            x = numpyro.sample("x", prior)
    """, "NPL401") == [2]


def test_wide_prior_scale_setting():
    body = """
        def model():
            a = numpyro.sample("a", dist.Normal(0.0, 20.0))
            b = numpyro.sample("b", dist.Normal(0.0, 500.0))
            c = numpyro.sample("c", dist.Uniform(0.0, 50.0))
    """
    assert found(body, "NPL401") == [3]
    assert found(body, "NPL401", settings=Settings(wide_prior_scale=19.9)) == [2, 3, 4]
    assert found(body, "NPL401", settings=Settings(wide_prior_scale=20.0)) == [3, 4]  # strictly above
    assert found(body, "NPL401", settings=Settings(wide_prior_scale=1000.0)) == []


def test_wide_prior_points_at_the_scale_and_teaches():
    [diagnostic] = diagnostics("""
        def model():
            beta = numpyro.sample("beta", dist.Normal(0.0, 1e3))
    """, "NPL401")
    assert (diagnostic.span.col, diagnostic.span.end_col) == (51, 54)  # `1e3`
    assert "scale 1e3" in diagnostic.message and "`beta`" in diagnostic.message
    assert '`Normal(0, 1e6)` is "super-vague"' in diagnostic.message
    assert '`Normal(0, 10)` "very weak"' in diagnostic.message
    assert "unit-scale parameters" in diagnostic.message


def test_wide_prior_message_names_the_constant_and_its_value():
    [diagnostic] = diagnostics("""
        SCALE = 1_000
        def model():
            numpyro.sample("x", dist.HalfCauchy(SCALE))
    """, "NPL401")
    assert "scale SCALE (= 1000)" in diagnostic.message


def test_noqa_suppresses_wide_prior():
    assert found("""
        def model():
            x = numpyro.sample("x", dist.Normal(0.0, 1000.0))  # noqa: NPL401
    """, "NPL401") == []


# NPL402 vague-gamma


@pytest.mark.parametrize("prior", [
    "dist.Gamma(0.001, 0.001)",
    "dist.Gamma(1e-2, 1e-2)",
    "dist.Gamma(concentration=0.1, rate=0.1)",
    "dist.Gamma(rate=0.001, concentration=0.001)",
    "dist.InverseGamma(0.001, 0.001)",
    "dist.InverseGamma(0.01, rate=0.01)",
    "dist.Gamma(EPS, EPS)",
    "dist.Gamma(0.001, 0.001).expand([4])",
])
def test_vague_gammas_are_flagged(prior):
    assert found(f"""
        EPS = 0.001
        def model():
            tau = numpyro.sample("tau", {prior})
    """, "NPL402") == [3]


@pytest.mark.parametrize("prior", [
    "dist.Gamma(2.0, 0.1)",
    "dist.Gamma(0.001, 0.01)",
    "dist.Gamma(1.0, 1.0)",
    "dist.Gamma(2.0, 2.0)",
    "dist.InverseGamma(3.0, 0.5)",
    "dist.Gamma(a, a)",
    "dist.Gamma(0.001)",
    "dist.Beta(0.5, 0.5)",
    "dist.Gamma(0.3, 0.3)",  # above 0.1 and not used as a precision or variance
    "dist.Gamma(concentration=0.5, rate=0.5)",
])
def test_other_gammas_are_not_flagged(prior):
    assert found(f"""
        def model(a):
            tau = numpyro.sample("tau", {prior})
    """, "NPL402") == []


def test_a_gamma_below_one_used_as_a_precision_or_variance_is_flagged():
    assert found("""
        def model(y=None):
            tau = numpyro.sample("tau", dist.Gamma(0.5, 0.5))
            var = numpyro.sample("var", dist.InverseGamma(0.3, 0.3))
            sd = jnp.sqrt(var)
            numpyro.sample("y", dist.Normal(0.0, 1.0 / jnp.sqrt(tau)), obs=y)
            numpyro.sample("z", dist.Normal(0.0, sd), obs=y)
    """, "NPL402") == [2, 3]


def test_a_sparsity_gamma_below_one_is_not_flagged():
    assert found("""
        def model(counts=None):
            with numpyro.plate("k", 5):
                beta = numpyro.sample("beta", dist.Gamma(0.3, 0.3))
                theta = numpyro.sample("theta", dist.Gamma(0.3, 0.3))
            numpyro.sample("counts", dist.Poisson(beta * theta), obs=counts)
    """, "NPL402") == []


def test_vague_gamma_on_an_observed_site_is_not_flagged():
    assert found("""
        def model(y):
            numpyro.sample("y", dist.Gamma(0.001, 0.001), obs=y)
    """, "NPL402") == []


def test_vague_gamma_points_at_the_distribution_and_cites_gelman():
    [diagnostic] = diagnostics("""
        def model():
            tau = numpyro.sample("tau", dist.Gamma(0.001, 0.001))
    """, "NPL402")
    assert (diagnostic.span.line, diagnostic.span.col, diagnostic.span.end_col) == (8, 32, 56)
    assert "Gelman 2006" in diagnostic.message and "`tau`" in diagnostic.message
    assert "Gamma(2, 0.1)" in diagnostic.message  # the `gamma-replacement` setting


# NPL403 improper-prior


def test_improper_uniform_on_a_latent_site_is_flagged():
    assert found("""
        from numpyro.distributions import ImproperUniform
        def model(y=None):
            a = numpyro.sample("a", dist.ImproperUniform(constraints.real, (), ()))
            b = numpyro.sample("b", ImproperUniform(constraints.positive, (), (3,)))
            numpyro.sample("y", dist.Normal(a, b), obs=y)
    """, "NPL403") == [3, 4]


def test_improper_uniform_suggests_a_proper_prior_for_its_support():
    ordered, positive, interval, unknown = diagnostics("""
        def model(K, support, y=None):
            c = numpyro.sample("c", dist.ImproperUniform(dist.constraints.ordered_vector, (), event_shape=(K,)))
            s = numpyro.sample("s", dist.ImproperUniform(constraints.positive, (), ()))
            u = numpyro.sample("u", dist.ImproperUniform(support=constraints.interval(0.0, 2.0),
                                                         batch_shape=(), event_shape=()))
            v = numpyro.sample("v", dist.ImproperUniform(support, (), ()))
            numpyro.sample("y", dist.OrderedLogistic(s * u * v, c), obs=y)
    """, "NPL403")
    assert "(`ordered_vector`)" in ordered.message and "transforms.OrderedTransform()" in ordered.message
    assert "HalfNormal" not in ordered.message and "Uniform(low, high)" not in ordered.message
    assert "(`positive`): `HalfNormal(10)` or `LogNormal(0, 1)`" in positive.message
    assert "(`interval`): `Uniform(low, high)`" in interval.message
    assert "`Normal(0, 10)` for a real value, `HalfNormal` for a positive one" in unknown.message


def test_improper_uniform_on_an_observed_site_is_not_flagged():
    assert found("""
        def model(y):
            numpyro.sample("y", dist.ImproperUniform(constraints.real, (), ()), obs=y)
    """, "NPL403") == []


def test_improper_uniform_with_a_factor_for_its_density_is_not_flagged():
    assert found("""
        def model():
            x = numpyro.sample("x", dist.ImproperUniform(constraints.real, (), ()))
            numpyro.factor("x_density", -jnp.abs(x))
    """, "NPL403") == []


def test_improper_uniform_observed_under_a_proper_density_is_not_flagged():
    assert found("""
        def model(x, y=None):
            c = numpyro.sample("c", dist.ImproperUniform(constraints.ordered_vector, (), (2,)))
            numpyro.sample("c_prior", dist.Normal(0.0, 1.0), obs=c)
            d = numpyro.sample("d", dist.ImproperUniform(constraints.real, (), ()))
            numpyro.sample("y", dist.OrderedLogistic(x * d, c), obs=y)
    """, "NPL403") == [4]  # `d` only sets the likelihood's parameters: no density of its own


# NPL404 support-mismatch


@pytest.mark.parametrize(("prior", "use"), [
    ("dist.Normal(0.0, 1.0)", "dist.Normal(0.0, s)"),
    ("dist.Normal(0.0, 1.0)", "dist.Normal(0.0, scale=s)"),
    ("dist.Cauchy(0.0, 5.0)", "dist.HalfCauchy(s)"),
    ("dist.StudentT(3.0, 0.0, 1.0)", "dist.StudentT(s, 0.0, 1.0)"),
    ("dist.Laplace(0.0, 1.0)", "dist.Exponential(s)"),
    ("dist.Logistic(0.0, 1.0)", "dist.Gamma(s, 1.0)"),
    ("dist.Gumbel(0.0, 1.0)", "dist.Gamma(2.0, rate=s)"),
    ("dist.Normal(5.0, 1.0)", "dist.Beta(s, 1.0)"),
    ("dist.Normal(0.0, 1.0)", "dist.Normal(0.0, s * 2)"),
    ("dist.Normal(0.0, 1.0)", "dist.Normal(0.0, 0.5 + s)"),
    ("dist.Normal(0.0, 1.0)", "dist.Normal(0.0, -s)"),
])
def test_real_line_values_used_as_positive_parameters_are_flagged(prior, use):
    assert found(f"""
        def model(y=None):
            s = numpyro.sample("s", {prior})
            numpyro.sample("y", {use}, obs=y)
    """, "NPL404") == [2]


def test_support_mismatch_through_an_alias_and_indexing():
    assert found("""
        def model(group, y=None):
            with numpyro.plate("groups", 3):
                sigma_raw = numpyro.sample("sigma_raw", dist.Normal(0.0, 1.0))
            sigma = sigma_raw
            per_obs = sigma[group]
            with numpyro.plate("data", len(group)):
                numpyro.sample("y", dist.Normal(0.0, per_obs), obs=y)
    """, "NPL404") == [3]


def test_positive_support_priors_are_not_flagged():
    assert found("""
        def model(y=None):
            a = numpyro.sample("a", dist.HalfNormal(1.0))
            b = numpyro.sample("b", dist.LogNormal(0.0, 1.0))
            c = numpyro.sample("c", dist.Exponential(1.0))
            d = numpyro.sample("d", dist.Gamma(2.0, 0.1))
            e = numpyro.sample("e", dist.HalfCauchy(5.0))
            numpyro.sample("y", dist.StudentT(d, a, b + c + e), obs=y)
    """, "NPL404") == []


def test_exp_and_softplus_of_a_real_value_are_not_flagged():
    assert found("""
        def model(y=None):
            log_s = numpyro.sample("log_s", dist.Normal(0.0, 1.0))
            z = numpyro.sample("z", dist.Normal(0.0, 1.0))
            numpyro.sample("y1", dist.Normal(0.0, jnp.exp(log_s)), obs=y)
            numpyro.sample("y2", dist.Normal(0.0, jax.nn.softplus(z)), obs=y)
            numpyro.sample("y3", dist.Normal(0.0, jnp.exp(log_s) * 2), obs=y)
            z = jnp.abs(z)
            numpyro.sample("y4", dist.Normal(0.0, z), obs=y)
            numpyro.sample("y5", dist.Normal(0.0, z ** 2 + log_s ** 2), obs=y)
    """, "NPL404") == []


def test_real_values_used_as_locations_are_not_flagged():
    assert found("""
        def model(y=None):
            mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
            numpyro.sample("y", dist.Normal(mu, 1.0), obs=y)
            numpyro.sample("z", dist.StudentT(3.0, mu * 2, 1.0), obs=y)
    """, "NPL404") == []


def test_an_observed_real_line_site_used_as_a_scale_is_not_flagged():
    assert found("""
        def model(x, y=None):
            s = numpyro.sample("s", dist.Normal(0.0, 1.0), obs=x)
            numpyro.sample("y", dist.Normal(0.0, s), obs=y)
    """, "NPL404") == []


def test_support_mismatch_names_the_fitting_distribution_and_the_use():
    [diagnostic] = diagnostics("""
        def model(y=None):
            sigma = numpyro.sample("sigma", dist.Cauchy(0.0, 5.0))
            numpyro.sample("a", dist.Normal(0.0, sigma), obs=y)
            numpyro.sample("b", dist.Gamma(2.0, sigma), obs=y)
    """, "NPL404")
    assert (diagnostic.span.line, diagnostic.span.col) == (8, 36)  # the prior `dist.Cauchy(0.0, 5.0)`
    assert "`HalfCauchy(5.0)`" in diagnostic.message and "`scale` of `dist.Normal`" in diagnostic.message
    assert [(r.span.line, r.message) for r in diagnostic.related] == [
        (9, "used as `scale` of `dist.Normal`"), (10, "used as `rate` of `dist.Gamma`"),
    ]


def test_support_mismatch_on_a_df_suggests_a_prior_for_degrees_of_freedom():
    [diagnostic] = diagnostics("""
        def model(y=None):
            nu = numpyro.sample("nu", dist.Normal(10.0, 3.0))
            numpyro.sample("y", dist.StudentT(nu, 0.0, 1.0), obs=y)
    """, "NPL404")
    assert "`Gamma(2, 0.1)`" in diagnostic.message and "`df` of `dist.StudentT`" in diagnostic.message


def test_a_function_passed_as_the_guide_is_not_a_model_of_priors():
    assert found("""
        def model(y):
            sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
            numpyro.sample("s", dist.Normal(0.0, 1000.0))

        def q(y):
            numpyro.sample("sigma", dist.Normal(0.0, 500.0))

        def q_kw(y):
            numpyro.sample("sigma", dist.Normal(0.0, 500.0))

        svi = numpyro.infer.SVI(model, q, None, numpyro.infer.Trace_ELBO())
        svi_kw = numpyro.infer.SVI(model, guide=q_kw, optim=None, loss=numpyro.infer.Trace_ELBO())
    """, "NPL401") == [3]
