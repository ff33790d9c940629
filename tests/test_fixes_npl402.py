"""NPL402 fix (unsafe): `gamma-replacement` instead of the vague Gamma(ε, ε)."""

from __future__ import annotations

from dataclasses import replace

from fix_helpers import fixed, offered
from numpyro_lint.diagnostic import Applicability
from numpyro_lint.linter import DEFAULT_SETTINGS

SOURCE = """\
    import numpyro
    import numpyro.distributions as dist
    from numpyro.distributions import InverseGamma

    EPS = 1e-3

    def model():
        tau = numpyro.sample("tau", dist.Gamma(0.001, 0.001))
        v = numpyro.sample("v", InverseGamma(concentration=EPS, rate=0.001))
        w = numpyro.sample("w", dist.Gamma(rate=0.01, concentration=0.01).expand([3]))
"""


def test_the_parameters_are_replaced_where_they_are_written():
    assert '    tau = numpyro.sample("tau", dist.Gamma(2.0, 0.1))\n' in fixed(SOURCE, "NPL402", line=8)
    assert '    v = numpyro.sample("v", InverseGamma(concentration=2, rate=0.1))\n' in fixed(SOURCE, "NPL402", line=9)
    assert '    w = numpyro.sample("w", dist.Gamma(rate=0.1, concentration=2.0).expand([3]))\n' in fixed(
        SOURCE, "NPL402", line=10)
    assert offered(SOURCE, "NPL402", line=8)[0].applicability == Applicability.UNSAFE


def test_the_replacement_is_a_setting():
    settings = replace(DEFAULT_SETTINGS, gamma_replacement=(3.0, 0.5))
    assert "dist.Gamma(3.0, 0.5)" in fixed(SOURCE, "NPL402", line=8, settings=settings)
