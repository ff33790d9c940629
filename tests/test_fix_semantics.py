"""Safe fixes keep the model: the fixed source, executed in-process, draws the same prior, has the same
density, runs where the original could not, and (for NPL501) samples without the funnel's divergences."""

from __future__ import annotations

import textwrap

import pytest

from numpyro_lint.fixes.apply import fix_text
from numpyro_lint.linter import DEFAULT_SETTINGS, lint_text
from smoke_helpers import needs_smoke_extra

pytestmark = [pytest.mark.smoke, needs_smoke_extra]

EIGHT_SCHOOLS = textwrap.dedent("""\
    import numpyro
    import numpyro.distributions as dist

    def eight_schools(J, sigma, y=None):
        mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
        tau = numpyro.sample("tau", dist.HalfCauchy(5.0))
        with numpyro.plate("J", J):
            theta = numpyro.sample("theta", dist.Normal(mu, tau))
            numpyro.sample("obs", dist.Normal(theta, sigma), obs=y)
""")
J = 8
Y = [28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0]
SIGMA = [15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0]


def fixed_source(source: str, code: str, unsafe: bool = False) -> str:
    """`source` after fix-all, checked to have fixed every `code` diagnostic."""
    assert any(d.code == code for d in lint_text(source).diagnostics)
    result = fix_text(source, None, DEFAULT_SETTINGS, unsafe)
    assert not any(d.code == code for d in result.remaining), result.text
    return result.text


def load(source: str, name: str):
    namespace: dict = {"__name__": "fixed_model"}
    exec(compile(source, f"<{name}>", "exec"), namespace)
    return namespace[name]


@pytest.fixture(scope="module")
def eight_schools():
    fixed = fixed_source(EIGHT_SCHOOLS, "NPL501")
    assert "LocScaleReparam(0)" in fixed
    return load(EIGHT_SCHOOLS, "eight_schools"), load(fixed, "eight_schools")


def test_npl501_fix_keeps_the_prior_of_theta_and_obs(eight_schools):
    import jax
    import jax.numpy as jnp
    import numpy as np
    from numpyro.infer import Predictive

    centered, noncentered = eight_schools
    sigma = jnp.array(SIGMA)
    before = Predictive(centered, num_samples=8000)(jax.random.PRNGKey(1), J, sigma)
    after = Predictive(noncentered, num_samples=8000)(jax.random.PRNGKey(2), J, sigma)
    levels = np.array([0.1, 0.25, 0.5, 0.75, 0.9])
    for site in ("theta", "obs"):
        assert after[site].shape == before[site].shape == (8000, J)
        q_before, q_after = np.quantile(before[site], levels), np.quantile(after[site], levels)
        spread = q_before[3] - q_before[1]
        gaps = np.abs(q_before - q_after) / spread
        print(f"{site}: quantile gaps / IQR {np.round(gaps, 3)}")
        assert gaps.max() < 0.1, (site, q_before, q_after)


def test_npl501_fix_removes_most_divergences(eight_schools):
    import jax
    import jax.numpy as jnp
    from numpyro.infer import MCMC, NUTS

    counts = []
    for model in eight_schools:
        mcmc = MCMC(NUTS(model), num_warmup=500, num_samples=500, num_chains=4, chain_method="vectorized",
                    progress_bar=False)
        mcmc.run(jax.random.PRNGKey(0), J, jnp.array(SIGMA), y=jnp.array(Y), extra_fields=("diverging",))
        counts.append(int(mcmc.get_extra_fields()["diverging"].sum()))
        assert mcmc.get_samples()["theta"].shape == (2000, J)  # still keyed by `theta` after the fix
    before, after = counts
    print(f"divergences: centered {before}, fixed {after}")
    assert before > 0 and after * 5 <= before


REGRESSION = textwrap.dedent("""\
    import numpyro
    import numpyro.distributions as dist

    def regression(x, y=None):
        alpha = numpyro.sample("alpha", dist.Normal(0.0, 1.0))
        beta = numpyro.sample("beta", dist.Normal(0.0, 1.0))
        sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
        numpyro.sample("y", dist.Normal(alpha + beta * x, sigma), obs=y)

    def level(y=None):
        mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
        numpyro.sample("y", dist.Normal(mu, 1.0), obs=y)
""")


def test_npl201_fix_keeps_the_density_and_prior_predictive_still_runs():
    import jax
    import jax.numpy as jnp
    import numpy as np
    from numpyro.infer import Predictive
    from numpyro.infer.util import log_density

    fixed = fixed_source(REGRESSION, "NPL201", unsafe=True)  # `level` only has the unsafe, guarded size
    x = jnp.linspace(-1.0, 1.0, 20)
    y = 0.5 + 2.0 * x + 0.3 * jnp.sin(7.0 * x)
    cases = [("regression", (x,), {"alpha": 0.3, "beta": 1.5, "sigma": 0.8}), ("level", (), {"mu": 0.4})]
    for name, args, params in cases:
        original, plated = load(REGRESSION, name), load(fixed, name)
        before, _ = log_density(original, args, {"y": y}, params)
        after, _ = log_density(plated, args, {"y": y}, params)
        assert np.allclose(before, after, rtol=1e-6), (name, before, after)
        draws = Predictive(plated, num_samples=5)(jax.random.PRNGKey(0), *args)["y"]
        assert draws.shape == ((5, 20) if name == "regression" else (5, 1))


LAX_SCAN = textwrap.dedent("""\
    import jax
    import numpyro
    import numpyro.distributions as dist

    def walk(T):
        sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))

        def step(x, _):
            x = numpyro.sample("x", dist.Normal(x, sigma))
            return x, x

        _, xs = jax.lax.scan(step, 0.0, None, length=T)
        return xs
""")


def test_npl204_fixed_model_runs_under_predictive_where_the_original_leaks_a_tracer():
    import jax
    import numpy as np
    from numpyro.infer import Predictive

    with pytest.raises(jax.errors.UnexpectedTracerError):
        Predictive(load(LAX_SCAN, "walk"), num_samples=50)(jax.random.PRNGKey(0), 10)
    fixed = fixed_source(LAX_SCAN, "NPL204")
    draws = Predictive(load(fixed, "walk"), num_samples=50)(jax.random.PRNGKey(0), 10)
    assert draws["x"].shape == (50, 10) and np.isfinite(draws["x"]).all()
    assert np.std(draws["x"][:, -1]) > np.std(draws["x"][:, 0])  # a random walk spreads out
