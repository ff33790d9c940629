"""Tiers of the plate rules (issue 14): what NumPyro's own plate check makes harmless is pedantic, what
changes results is reported by default. Reduced cases written for these tests."""

from __future__ import annotations

import textwrap

from conftest import run_cli

from numpyro_lint.config import Settings, settings_from_mapping
from numpyro_lint.diagnostic import Severity
from numpyro_lint.linter import lint_text

HEADER = """\
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from numpyro.infer import MCMC, NUTS, SVI, Predictive, Trace_ELBO, TraceEnum_ELBO
from numpyro.infer.autoguide import AutoNormal
"""
PEDANTIC = Settings(select=("NPL", "pedantic"))


def found(body: str, code: str, settings: Settings = Settings()):
    text = HEADER + textwrap.dedent(body)
    return [d for d in lint_text(text, settings=settings).diagnostics if d.code.startswith(code)]


REGRESSION = """
    def model(X, y=None):
        beta = numpyro.sample("beta", dist.Normal(jnp.zeros(X.shape[1]), 1.0))
        numpyro.sample("y", dist.Normal(X @ beta, 1.0), obs=y)
    MCMC(NUTS(model), num_warmup=10, num_samples=10)
"""


def test_batched_global_latent_under_nuts_is_pedantic_only():
    assert found(REGRESSION, "NPL202") == []
    [diagnostic] = found(REGRESSION, "NPL202", PEDANTIC)
    assert diagnostic.pedantic and "Harmless under NUTS" in diagnostic.message
    assert "subsampling" not in diagnostic.message
    # What NumPyro's `_validate_model` does in each case: MCMC raises, the enumerating ELBOs warn.
    assert "raises \"Missing a plate statement\" for it when MCMC enumerates" in diagnostic.message
    assert "warns under `TraceEnum_ELBO` and `TraceGraph_ELBO`" in diagnostic.message
    assert "`infer_discrete` does not check it" in diagnostic.message


def test_pedantic_is_selected_by_extend_select_in_pyproject_and_on_the_command_line(tmp_path):
    settings = settings_from_mapping({"extend-select": ["pedantic"]})
    assert settings.pedantic and found(REGRESSION, "NPL202", settings)
    assert not settings_from_mapping({"extend-select": ["pedantic"], "ignore": ["pedantic"]}).pedantic
    (tmp_path / "model.py").write_text(HEADER + textwrap.dedent(REGRESSION))
    default = run_cli("check", "--isolated", "model.py", cwd=tmp_path).stdout.decode()
    pedantic = run_cli("check", "--isolated", "--extend-select", "PEDANTIC", "model.py", cwd=tmp_path).stdout.decode()
    assert "NPL202" not in default and "NPL202" in pedantic


def test_batched_global_latent_in_an_enumerated_model_is_a_default_error():
    [diagnostic] = found("""
        def mixture(data, K=3):
            locs = numpyro.sample("locs", dist.Normal(jnp.zeros(K), 10.0))
            with numpyro.plate("data", len(data)):
                z = numpyro.sample("z", dist.Categorical(jnp.ones(K) / K))
                numpyro.sample("obs", dist.Normal(locs[z], 1.0), obs=data)
        MCMC(NUTS(mixture), num_warmup=10, num_samples=10)
    """, "NPL202")
    assert diagnostic.severity == Severity.ERROR and not diagnostic.pedantic
    assert "discrete latent site under NUTS" in diagnostic.message
    assert "raises \"Missing a plate statement\" for it under MCMC, only warns under `TraceEnum_ELBO`" in (
        diagnostic.message)


def test_enumeration_through_trace_enum_elbo_and_infer_discrete_predictive():
    for run in ("SVI(model, guide, None, loss=TraceEnum_ELBO())",
                "Predictive(model, num_samples=5, infer_discrete=True)"):
        [diagnostic] = found(f"""
            def model(K):
                locs = numpyro.sample("locs", dist.Normal(0.0, 1.0).expand([K]))
            def guide(K):
                pass
            {run}
        """, "NPL202")
        assert diagnostic.severity == Severity.ERROR, run


def test_vector_of_different_parameters_gets_to_event_never_a_plate():
    [diagnostic] = found("""
        def model():
            v_mu = numpyro.sample("v_mu", dist.Normal(0, jnp.array([4.0, 1.0])))
    """, "NPL202", PEDANTIC)
    assert "`.to_event(1)`" in diagnostic.message and "numpyro.plate" not in diagnostic.message


def test_observed_site_smaller_than_its_data_is_default():
    [diagnostic] = found("""
        def model(y):
            mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
            s = numpyro.param("s", 1.0)
            numpyro.sample("y", dist.Normal(mu, s), obs=y)
    """, "NPL201")
    assert not diagnostic.pedantic and "`Predictive`" in diagnostic.message
    assert "subsampling" not in diagnostic.message


def test_scalar_distribution_says_it_draws_one_value_only_when_predicting_with_the_data_none():
    [diagnostic] = found("""
        def model(N, y=None):
            mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
            numpyro.sample("y", dist.Normal(mu, 1.0), obs=y)
    """, "NPL201")
    assert not diagnostic.pedantic
    assert "when you call the model with `y=None` for prediction" in diagnostic.message
    assert "`Predictive` returns it unchanged" in diagnostic.message
    assert "y.shape[0]` fails when `y` is None" in diagnostic.message
    assert 'numpyro.plate("data", y.shape[0])' not in diagnostic.message


def test_scalar_distribution_over_data_fixed_in_the_model_is_not_a_default_finding():
    body = """
        def model(x):
            z = numpyro.sample("z", dist.Normal(0.0, 1.0))
            numpyro.sample("listed", dist.Normal(z, 1.0), obs=jnp.array([1.0, 2.0, 3.0]))
            numpyro.sample("column", dist.Normal(z, 1.0), obs=x[:, 0])
        MCMC(NUTS(model), num_warmup=10, num_samples=10)
    """
    assert found(body, "NPL201") == []
    pedantic = found(body, "NPL201", PEDANTIC)
    assert [d.pedantic for d in pedantic] == [True, True]
    assert all("The data is fixed in the model, so `Predictive` returns it unchanged" in d.message
               for d in pedantic)


def test_observed_site_as_large_as_its_data_is_pedantic_unless_the_model_enumerates_or_subsamples():
    assert found(REGRESSION, "NPL201") == []
    assert found(REGRESSION, "NPL201", PEDANTIC)[0].pedantic
    [enumerated] = found("""
        def model(X, y=None):
            z = numpyro.sample("z", dist.Bernoulli(0.5), infer={"enumerate": "parallel"})
            numpyro.sample("y", dist.Normal(X * z, 1.0), obs=y)
    """, "NPL201")
    assert enumerated.severity == Severity.ERROR
    [subsampled] = found("""
        def model(X, y=None):
            with numpyro.plate("rows", 1000, subsample_size=100):
                pass
            numpyro.sample("y", dist.Normal(X, 1.0), obs=y)
    """, "NPL201")
    assert "rescale" in subsampled.message


def test_a_submodel_of_an_enumerating_model_is_promoted_too():
    [diagnostic] = found("""
        def prior(K):
            return numpyro.sample("w", dist.Normal(jnp.zeros(K), 1.0))
        @numpyro.contrib.funsor.config_enumerate
        def model(K, data):
            w = prior(K)
            with numpyro.plate("data", len(data)):
                numpyro.sample("obs", dist.Normal(w.sum(), 1.0), obs=data)
    """, "NPL202")
    assert diagnostic.severity == Severity.ERROR


def test_extra_unplated_dimension_inside_a_plate_is_reported_by_default_also_through_a_caller():
    diagnostics = found("""
        def row(D):
            return numpyro.sample("z", dist.Normal(jnp.zeros((3, D)), 1.0))
        def model(N, D):
            with numpyro.plate("rows", N):
                row(D)
                numpyro.sample("ok", dist.Normal(jnp.zeros(N), 1.0))
                numpyro.sample("vec", dist.Normal(jnp.zeros((N, D)), 1.0).to_event(1))
    """, "NPL206")
    assert [(d.span.line - HEADER.count("\n"), d.pedantic) for d in diagnostics] == [(3, False)]
    assert "Missing a plate statement" in diagnostics[0].message


def test_outputs_say_which_findings_are_pedantic(tmp_path):
    import json

    (tmp_path / "model.py").write_text(HEADER + textwrap.dedent(REGRESSION))
    text = run_cli("check", "--isolated", "--extend-select", "pedantic", "model.py", cwd=tmp_path).stdout.decode()
    assert "NPL202 (pedantic) " in text
    report = json.loads(run_cli("check", "--isolated", "--extend-select", "pedantic", "--output-format", "json",
                                "model.py", cwd=tmp_path).stdout)
    assert {item["code"]: item["tier"] for item in report}["NPL202"] == "pedantic"


def test_eager_cells_get_no_plate_findings():
    assert found("""
        from numpyro import handlers
        with handlers.seed(rng_seed=0):
            w = numpyro.sample("w", dist.Normal(jnp.zeros(3), 1.0))
            mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
            numpyro.sample("y", dist.Normal(mu, 1.0), obs=jnp.ones(5))
    """, "NPL2", PEDANTIC) == []


def test_discrete_sites_updated_by_gibbs_are_not_enumerated():
    for run in ("MCMC(DiscreteHMCGibbs(NUTS(model)), num_warmup=10, num_samples=10)",
                "kernel = NUTS(model)\n        MCMC(DiscreteHMCGibbs(kernel), num_warmup=10, num_samples=10)"):
        assert found(f"""
        from numpyro.infer import DiscreteHMCGibbs
        def model(K):
            w = numpyro.sample("w", dist.Normal(jnp.zeros(K), 1.0))
            z = numpyro.sample("z", dist.Bernoulli(0.5))
        {run}
        """, "NPL202") == [], run


def test_all_selects_every_rule_but_not_the_pedantic_tier():
    assert found(REGRESSION, "NPL202", Settings(select=("ALL",))) == []
    assert found(REGRESSION, "NPL202", Settings(select=("ALL", "pedantic")))
