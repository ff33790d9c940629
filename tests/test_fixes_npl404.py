"""NPL404 fix (unsafe): the real-line prior truncated at zero, in its own family where NumPyro has it."""

from __future__ import annotations

from fix_helpers import fixed, offered
from numpyro_lint.diagnostic import Applicability

SOURCE = """\
    import numpyro
    import numpyro.distributions as dist

    def model(y=None):
        sigma = numpyro.sample("sigma", dist.Normal(0.0, 5.0))
        scale = numpyro.sample("scale", dist.Cauchy(0.0, 2.0))
        nu = numpyro.sample("nu", dist.Normal(10.0, 3.0))
        with numpyro.plate("groups", 3):
            s = numpyro.sample("s", dist.StudentT(3.0, 0.0, 1.0))
        g = numpyro.sample("g", dist.Gumbel(0.0, 1.0))
        numpyro.sample("y", dist.StudentT(nu, 0.0, sigma), obs=y)
        numpyro.sample("z", dist.Normal(0.0, scale), obs=y)
        numpyro.sample("w", dist.Normal(0.0, s[0]), obs=y)
        numpyro.sample("v", dist.Normal(0.0, g), obs=y)
"""


def test_centred_normal_and_cauchy_become_their_half_families():
    assert '    sigma = numpyro.sample("sigma", dist.HalfNormal(5.0))\n' in fixed(SOURCE, "NPL404", line=5)
    assert '    scale = numpyro.sample("scale", dist.HalfCauchy(2.0))\n' in fixed(SOURCE, "NPL404", line=6)
    assert offered(SOURCE, "NPL404", line=5)[0].applicability == Applicability.UNSAFE


def test_an_offset_normal_is_truncated_at_zero():
    expected = '    nu = numpyro.sample("nu", dist.TruncatedNormal(10.0, 3.0, low=0.0))\n'
    assert expected in fixed(SOURCE, "NPL404", line=7)


def test_student_t_is_truncated_as_it_is_and_other_families_get_a_half_normal_of_the_same_scale():
    assert ('        s = numpyro.sample("s", dist.TruncatedDistribution(dist.StudentT(3.0, 0.0, 1.0), low=0.0))\n'
            in fixed(SOURCE, "NPL404", line=9))
    assert '    g = numpyro.sample("g", dist.HalfNormal(1.0))\n' in fixed(SOURCE, "NPL404", line=10)


def test_a_from_import_of_the_family_gains_the_new_one_and_chains_are_kept():
    source = """\
        from numpyro import sample
        from numpyro.distributions import Cauchy, Normal

        def model(y=None):
            sigma = sample("sigma", Cauchy(0, 5).expand([2]).to_event(1))
            sample("y", Normal(0, sigma), obs=y)
    """
    result = fixed(source, "NPL404")
    assert "from numpyro.distributions import Cauchy, Normal, HalfCauchy\n" in result
    assert '    sigma = sample("sigma", HalfCauchy(5).expand([2]).to_event(1))\n' in result
