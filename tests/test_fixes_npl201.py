"""NPL201 fix: wrap the observed site in a plate whose size also holds in prior predictive runs."""

from __future__ import annotations

from functools import partial

import fix_helpers
from fix_helpers import dedent
from numpyro_lint.config import Settings
from numpyro_lint.diagnostic import Applicability

# The fix is the same in either tier; most sites here are pedantic (the distribution is as large as the data).
EVERY_TIER = Settings(select=("NPL", "pedantic"))
fixed = partial(fix_helpers.fixed, settings=EVERY_TIER)
offered = partial(fix_helpers.offered, settings=EVERY_TIER)


def test_the_size_comes_from_a_data_argument_the_distribution_depends_on():
    source = """\
        import numpyro
        import numpyro.distributions as dist

        def model(x, y=None):
            beta = numpyro.sample("beta", dist.Normal(0, 1))
            numpyro.sample("y", dist.Normal(beta * x, 1), obs=y)
    """
    assert fixed(source, "NPL201") == dedent("""\
        import numpyro
        import numpyro.distributions as dist

        def model(x, y=None):
            beta = numpyro.sample("beta", dist.Normal(0, 1))
            with numpyro.plate("y_data", x.shape[0]):
                numpyro.sample("y", dist.Normal(beta * x, 1), obs=y)
    """)
    assert offered(source, "NPL201")[0].applicability == Applicability.SAFE


def test_arrays_beat_sizes_and_numbers_among_the_data_arguments():
    source = """\
        import jax.numpy as jnp
        import numpyro
        import numpyro.distributions as dist

        def model(noise, K, X, exposure, y=None):
            beta = numpyro.sample("beta", dist.Normal(jnp.zeros(K), 1).to_event(1))
            mean = jnp.log(exposure) + X @ beta * K
            numpyro.sample("y", dist.Normal(mean, noise), obs=y)
    """
    assert '    with numpyro.plate("y_data", X.shape[0]):\n' in fixed(source, "NPL201")


def test_a_literal_list_and_a_column_slice_know_their_sizes():
    source = """\
        import numpyro
        import numpyro.distributions as dist

        def model(x):
            mu = numpyro.sample("mu", dist.Normal(0, 1))
            numpyro.sample("first", dist.Normal(mu, 1), obs=x[:, 0])
            numpyro.sample("listed", dist.Normal(mu, 1), obs=[1.0, 2.0])
    """
    assert 'with numpyro.plate("first_data", x.shape[0]):' in fixed(source, "NPL201", line=6)
    assert 'with numpyro.plate("listed_data", 2):' in fixed(source, "NPL201", line=7)


def test_a_scalar_model_gets_the_observed_argument_guarded_for_none_as_an_unsafe_fix():
    source = """\
        import numpyro
        import numpyro.distributions as dist

        def model(y=None):
            mu = numpyro.sample("mu", dist.Normal(0, 1))
            numpyro.sample("y", dist.Normal(mu, 1), obs=y)
    """
    [fix] = offered(source, "NPL201")
    assert fix.applicability == Applicability.UNSAFE
    assert '    with numpyro.plate("y_data", len(y) if y is not None else 1):\n' in fixed(source, "NPL201")


def test_no_fix_when_no_size_works_without_the_data():
    batched = """\
        import numpyro
        import numpyro.distributions as dist

        def model(K, y=None):
            mu = numpyro.sample("mu", dist.Normal(0, 1).expand([K]).to_event(1))
            numpyro.sample("y", dist.Normal(mu, 1), obs=y)
    """
    sliced = """\
        import numpyro
        import numpyro.distributions as dist

        def model(y, n):
            mu = numpyro.sample("mu", dist.Normal(0, 1))
            numpyro.sample("y", dist.Normal(mu, 1), obs=y[:n])
    """
    assert offered(batched, "NPL201") == []
    assert offered(sliced, "NPL201") == []


def test_plate_import_joins_the_files_from_import_and_the_plate_name_is_unique():
    source = """\
        from numpyro import sample
        from numpyro.distributions import Normal

        def model(x, y=None):
            y_data = sample("y_data", Normal(0, 1))
            sample("y", Normal(y_data * x, 1), obs=y)
    """
    assert fixed(source, "NPL201") == dedent("""\
        from numpyro import sample, plate
        from numpyro.distributions import Normal

        def model(x, y=None):
            y_data = sample("y_data", Normal(0, 1))
            with plate("y_data2", x.shape[0]):
                sample("y", Normal(y_data * x, 1), obs=y)
    """)


def test_a_multi_line_site_moves_in_whole_and_its_string_lines_stay_as_written():
    source = '''\
        import numpyro
        import numpyro.distributions as dist

        def model(x, y=None):
            beta = numpyro.sample("beta", dist.Normal(0, 1))
            numpyro.sample(
                """y""",
                dist.Normal(beta * x, 1),
                obs=y,
            )
    '''
    assert fixed(source, "NPL201") == dedent('''\
        import numpyro
        import numpyro.distributions as dist

        def model(x, y=None):
            beta = numpyro.sample("beta", dist.Normal(0, 1))
            with numpyro.plate("y_data", x.shape[0]):
                numpyro.sample(
                    """y""",
                    dist.Normal(beta * x, 1),
                    obs=y,
                )
    ''')


def test_data_with_a_column_per_parameter_gets_the_plate_on_the_dimension_left_of_it():
    source = """\
        import numpyro
        import numpyro.distributions as dist

        def model(X, y=None):
            W = numpyro.sample("W", dist.Normal(0, 1).expand([3, 2]).to_event(2))
            sigma = numpyro.sample("sigma", dist.HalfNormal(1).expand([2]))
            numpyro.sample("y", dist.Normal(X @ W, sigma), obs=y)
    """
    assert 'with numpyro.plate("y_data", X.shape[0], dim=-2):' in fixed(source, "NPL201")


def test_a_size_argument_is_used_when_the_observed_argument_defaults_to_none():
    source = """\
        import numpyro
        import numpyro.distributions as dist

        def model(N, y=None):
            mu = numpyro.sample("mu", dist.Normal(0, 1))
            numpyro.sample("y", dist.Normal(mu, 1), obs=y)
            numpyro.sample("first", dist.Normal(mu, 1), obs=y[:, 0])
    """
    assert 'with numpyro.plate("y_data", N):' in fixed(source, "NPL201", line=6)
    assert 'with numpyro.plate("first_data", N):' in fixed(source, "NPL201", line=7)
    assert offered(source, "NPL201", line=7)[0].applicability == Applicability.UNSAFE
