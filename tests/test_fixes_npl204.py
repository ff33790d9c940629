"""NPL204 fix: NumPyro's own `scan` (safe) and `cond` (unsafe) instead of `jax.lax`'s."""

from __future__ import annotations

from fix_helpers import dedent, fixed, offered
from numpyro_lint.diagnostic import Applicability

RANDOM_WALK = """\
    import jax
    import numpyro
    import numpyro.distributions as dist

    def model(T):
        def step(x, _):
            x = numpyro.sample("x", dist.Normal(x, 1))
            return x, x
        jax.lax.scan(step, 0.0, None, length=T)
"""


def test_lax_scan_becomes_numpyros_scan_with_its_import():
    assert fixed(RANDOM_WALK, "NPL204") == dedent("""\
        import jax
        import numpyro
        import numpyro.distributions as dist
        from numpyro.contrib.control_flow import scan

        def model(T):
            def step(x, _):
                x = numpyro.sample("x", dist.Normal(x, 1))
                return x, x
            scan(step, 0.0, None, length=T)
    """)
    assert offered(RANDOM_WALK, "NPL204")[0].applicability == Applicability.SAFE


def test_an_imported_jax_scan_keeps_its_name_and_numpyros_comes_in_under_an_alias():
    source = RANDOM_WALK.replace("import jax\n", "from jax.lax import scan\n").replace("jax.lax.scan(", "scan(")
    result = fixed(source, "NPL204")
    assert "from numpyro.contrib.control_flow import scan as numpyro_scan\n" in result
    assert "    numpyro_scan(step, 0.0, None, length=T)\n" in result


def test_an_existing_contrib_import_is_extended_and_a_missing_xs_becomes_none():
    source = """\
        from jax import lax
        import numpyro
        import numpyro.distributions as dist
        from numpyro.contrib.control_flow import cond

        def model(T):
            def step(x, _):
                return numpyro.sample("x", dist.Normal(x, 1)), x
            lax.scan(step, 0.0, length=T)
    """
    result = fixed(source, "NPL204")
    assert "from numpyro.contrib.control_flow import cond, scan\n" in result
    assert "    scan(step, 0.0, None, length=T)\n" in result


def test_lax_cond_with_one_operand_is_an_unsafe_fix():
    source = """\
        import jax
        import numpyro
        import numpyro.distributions as dist

        def model(flag):
            def heads(_):
                return numpyro.sample("h", dist.Normal(0, 1))
            def tails(_):
                return numpyro.sample("t", dist.Normal(0, 2))
            return jax.lax.cond(flag, heads, tails, None)
    """
    [fix] = offered(source, "NPL204", line=7)
    assert fix.applicability == Applicability.UNSAFE
    assert "    return cond(flag, heads, tails, None)\n" in fixed(source, "NPL204", line=7)


def test_no_fix_where_numpyro_has_no_equivalent_call():
    unrolled = RANDOM_WALK.replace("length=T)", "length=T, unroll=2)")
    looped = RANDOM_WALK.replace("jax.lax.scan(step, 0.0, None, length=T)",
                                 "jax.lax.fori_loop(0, T, lambda i, x: step(x, i)[0], 0.0)")
    assert offered(unrolled, "NPL204") == []
    assert offered(looped, "NPL204") == []
