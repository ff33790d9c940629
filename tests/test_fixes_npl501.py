"""NPL501 fixes: `LocScaleReparam(0)` (safe; merged into the site's `with` or the model's existing
config) and the hand-written non-centered form (unsafe, offered as an alternative)."""

from __future__ import annotations

from fix_helpers import dedent, diagnostic, fixed, fixed_all, offered
from numpyro_lint.diagnostic import Applicability

EIGHT_SCHOOLS = """\
    import numpyro
    import numpyro.distributions as dist

    def model(J, sigma, y=None):
        mu = numpyro.sample("mu", dist.Normal(0, 5))
        tau = numpyro.sample("tau", dist.HalfCauchy(5))
        with numpyro.plate("J", J):
            theta = numpyro.sample("theta", dist.Normal(mu, tau))
            numpyro.sample("obs", dist.Normal(theta, sigma), obs=y)
"""


def test_the_reparam_joins_the_plates_with_and_the_import_is_added():
    assert fixed(EIGHT_SCHOOLS, "NPL501") == dedent("""\
        import numpyro
        import numpyro.distributions as dist
        from numpyro.infer.reparam import LocScaleReparam

        def model(J, sigma, y=None):
            mu = numpyro.sample("mu", dist.Normal(0, 5))
            tau = numpyro.sample("tau", dist.HalfCauchy(5))
            with numpyro.plate("J", J), numpyro.handlers.reparam(config={"theta": LocScaleReparam(0)}):
                theta = numpyro.sample("theta", dist.Normal(mu, tau))
                numpyro.sample("obs", dist.Normal(theta, sigma), obs=y)
    """)


def test_safe_fix_first_then_the_unsafe_variant_then_disable_for_this_line():
    found = diagnostic(EIGHT_SCHOOLS, "NPL501")
    assert found.fix.applicability == Applicability.SAFE
    variant, noqa = found.alternatives
    assert variant.applicability == Applicability.UNSAFE and "theta_raw" in variant.title
    assert noqa.title == "Disable NPL501 for this line"


def test_a_site_outside_any_with_is_wrapped_in_one():
    source = """\
        import numpyro
        import numpyro.distributions as dist
        from numpyro.handlers import reparam
        from numpyro.infer.reparam import LocScaleReparam

        def model(K):
            tau = numpyro.sample("tau", dist.HalfNormal(1))
            beta = numpyro.sample(
                "beta",
                dist.Normal(0, tau).expand([K]),
            )
            return beta
    """
    assert fixed(source, "NPL501") == dedent("""\
        import numpyro
        import numpyro.distributions as dist
        from numpyro.handlers import reparam
        from numpyro.infer.reparam import LocScaleReparam

        def model(K):
            tau = numpyro.sample("tau", dist.HalfNormal(1))
            with reparam(config={"beta": LocScaleReparam(0)}):
                beta = numpyro.sample(
                    "beta",
                    dist.Normal(0, tau).expand([K]),
                )
            return beta
    """)


def test_the_site_joins_the_decorators_config():
    source = """\
        import numpyro
        import numpyro.distributions as dist
        from numpyro.handlers import reparam
        from numpyro.infer.reparam import LocScaleReparam

        @reparam(config={"mu": LocScaleReparam(0)})
        def model(J):
            mu = numpyro.sample("mu", dist.Normal(0, 1))
            tau = numpyro.sample("tau", dist.HalfNormal(1))
            with numpyro.plate("J", J):
                theta = numpyro.sample("theta", dist.Normal(mu, tau))
    """
    assert '@reparam(config={"mu": LocScaleReparam(0), "theta": LocScaleReparam(0)})\n' in fixed(source, "NPL501")


def test_the_site_joins_a_with_reparam_config_written_one_entry_per_line():
    source = """\
        import numpyro
        import numpyro.distributions as dist
        from numpyro import handlers
        from numpyro.infer.reparam import LocScaleReparam, TransformReparam

        def model(J):
            tau = numpyro.sample("tau", dist.HalfNormal(1))
            with handlers.reparam(config={
                "other": TransformReparam(),
            }):
                with numpyro.plate("J", J):
                    theta = numpyro.sample('theta', dist.Normal(0, tau))
    """
    assert fixed(source, "NPL501") == dedent("""\
        import numpyro
        import numpyro.distributions as dist
        from numpyro import handlers
        from numpyro.infer.reparam import LocScaleReparam, TransformReparam

        def model(J):
            tau = numpyro.sample("tau", dist.HalfNormal(1))
            with handlers.reparam(config={
                "other": TransformReparam(),
                'theta': LocScaleReparam(0),
            }):
                with numpyro.plate("J", J):
                    theta = numpyro.sample('theta', dist.Normal(0, tau))
    """)


def test_the_site_joins_a_module_level_config_dict_and_the_reparam_import_is_extended():
    source = """\
        import numpyro as npr
        from numpyro import distributions as D
        from numpyro.infer.reparam import TransformReparam

        CONFIG = {"other": TransformReparam()}

        @npr.handlers.reparam(config=CONFIG)
        def model(J):
            tau = npr.sample("tau", D.HalfNormal(1))
            with npr.plate("J", J):
                theta = npr.sample("theta", D.Normal(0, tau))
    """
    result = fixed(source, "NPL501")
    assert 'CONFIG = {"other": TransformReparam(), "theta": LocScaleReparam(0)}\n' in result
    assert "from numpyro.infer.reparam import TransformReparam, LocScaleReparam\n" in result
    assert "@npr.handlers.reparam(config=CONFIG)\n" in result


def test_the_site_joins_a_reparam_wrapper_elsewhere_in_the_file():
    source = """\
        import numpyro
        import numpyro.distributions as dist
        from numpyro.handlers import reparam
        from numpyro.infer import NUTS
        from numpyro.infer.reparam import LocScaleReparam

        def model(J):
            tau = numpyro.sample("tau", dist.HalfNormal(1))
            with numpyro.plate("J", J):
                theta = numpyro.sample("theta", dist.Normal(0, tau))

        kernel = NUTS(reparam(model, config={}))
    """
    assert 'kernel = NUTS(reparam(model, config={"theta": LocScaleReparam(0)}))\n' in fixed(source, "NPL501")


def test_aliased_numpyro_writes_the_handler_through_the_alias():
    source = EIGHT_SCHOOLS.replace("numpyro.", "npr.").replace("import numpyro\n", "import numpyro as npr\n")
    source = source.replace("import npr.distributions", "import numpyro.distributions")
    assert 'with npr.plate("J", J), npr.handlers.reparam(config={"theta": LocScaleReparam(0)}):' in fixed(
        source, "NPL501")


def test_without_a_numpyro_module_import_the_handler_is_imported_by_name():
    source = """\
        from numpyro import plate, sample
        from numpyro.distributions import HalfNormal, Normal

        def model(J):
            tau = sample("tau", HalfNormal(1))
            with plate("J", J):
                theta = sample("theta", Normal(0, tau))
    """
    result = fixed(source, "NPL501")
    assert "from numpyro.handlers import reparam\n" in result
    assert "from numpyro.infer.reparam import LocScaleReparam\n" in result
    assert 'with plate("J", J), reparam(config={"theta": LocScaleReparam(0)}):' in result


def test_two_sites_of_one_with_end_up_in_one_config():
    source = EIGHT_SCHOOLS.replace(
        '            numpyro.sample("obs"',
        '            eta = numpyro.sample("eta", dist.Normal(mu, tau))\n            numpyro.sample("obs"')
    result = fixed_all(source)
    assert result.count("LocScaleReparam(0)") == 2 and result.count("reparam(config=") == 1
    assert 'numpyro.handlers.reparam(config={"theta": LocScaleReparam(0), "eta": LocScaleReparam(0)}):' in result
    assert result.count("from numpyro.infer.reparam import LocScaleReparam\n") == 1


def test_unsafe_variant_samples_a_standard_normal_and_keeps_the_name_deterministic():
    assert fixed(EIGHT_SCHOOLS, "NPL501", which=1) == dedent("""\
        import numpyro
        import numpyro.distributions as dist

        def model(J, sigma, y=None):
            mu = numpyro.sample("mu", dist.Normal(0, 5))
            tau = numpyro.sample("tau", dist.HalfCauchy(5))
            with numpyro.plate("J", J):
                theta_raw = numpyro.sample("theta_raw", dist.Normal(0, 1))
                theta = numpyro.deterministic("theta", mu + tau * theta_raw)
                numpyro.sample("obs", dist.Normal(theta, sigma), obs=y)
    """)


def test_unsafe_variant_standardizes_the_family_and_keeps_keywords_chains_and_precedence():
    source = """\
        import jax.numpy as jnp
        from numpyro import deterministic, plate, sample
        from numpyro.distributions import Gamma, HalfNormal, StudentT

        def model(K, a, b):
            nu = sample("nu", Gamma(2, 0.1))
            s1 = sample("s1", HalfNormal(1))
            s2 = sample("s2", HalfNormal(1))
            z = sample("z", StudentT(nu, loc=a + b, scale=s1 + s2).expand([K]))
            return z
    """
    assert fixed(source, "NPL501", which=1).splitlines()[8:10] == [
        '    z_raw = sample("z_raw", StudentT(nu, loc=0, scale=1).expand([K]))',
        '    z = deterministic("z", a + b + (s1 + s2) * z_raw)',
    ]


def test_no_unsafe_variant_when_the_value_is_not_bound_to_a_name():
    source = EIGHT_SCHOOLS.replace('theta = numpyro.sample("theta", dist.Normal(mu, tau))',
                                   'numpyro.sample("theta", dist.Normal(mu, tau))').replace(
        "dist.Normal(theta, sigma)", "dist.Normal(mu, sigma)")
    assert [fix.applicability for fix in offered(source, "NPL501")] == [Applicability.SAFE]
