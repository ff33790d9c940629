"""NPL401 fix (unsafe): the wide scale becomes `weak-prior-scale`."""

from __future__ import annotations

from dataclasses import replace

from fix_helpers import dedent, fixed, offered
from numpyro_lint.diagnostic import Applicability
from numpyro_lint.linter import DEFAULT_SETTINGS

SOURCE = """\
    import numpyro
    import numpyro.distributions as dist

    SCALE = 1_000

    def model(x, y=None):
        a = numpyro.sample("a", dist.Normal(0.0, 1000.0))
        b = numpyro.sample("b", dist.HalfCauchy(scale=SCALE))
        r = numpyro.sample("r", dist.Exponential(0.001))
        u = numpyro.sample("u", dist.Uniform(-1e6, 1e6))
        numpyro.sample("y", dist.Normal(a + b * x + u, r), obs=y)
"""


def test_each_wide_prior_gets_the_weak_scale_in_its_own_literal_style():
    assert fixed(SOURCE, "NPL401", line=7).splitlines()[6] == '    a = numpyro.sample("a", dist.Normal(0.0, 10.0))'
    assert fixed(SOURCE, "NPL401", line=8).splitlines()[7] == '    b = numpyro.sample("b", dist.HalfCauchy(scale=10))'
    assert fixed(SOURCE, "NPL401", line=9).splitlines()[8] == '    r = numpyro.sample("r", dist.Exponential(0.1))'
    assert fixed(SOURCE, "NPL401", line=10).splitlines()[9] == (
        '    u = numpyro.sample("u", dist.Uniform(-10.0, 10.0))')
    assert "SCALE = 1_000\n" in fixed(SOURCE, "NPL401", line=8)  # other uses of the constant keep it
    assert offered(SOURCE, "NPL401", line=7)[0].applicability == Applicability.UNSAFE


def test_the_weak_scale_is_a_setting():
    settings = replace(DEFAULT_SETTINGS, weak_prior_scale=2.5)
    assert 'dist.Normal(0.0, 2.5)' in fixed(SOURCE, "NPL401", line=7, settings=settings)


def test_no_fix_for_an_asymmetric_uniform():
    source = dedent("""\
        import numpyro
        import numpyro.distributions as dist

        def model():
            numpyro.sample("u", dist.Uniform(0.0, 1000.0))
    """)
    assert offered(source, "NPL401") == []
