"""NPL907 (issue 10): NUTS run without the data must reproduce the prior that Predictive draws exactly.
Neal's funnel fails it for every seed, including seeds with no divergences; its non-centered and
well-conditioned twins pass for every seed."""

from __future__ import annotations

import pytest

from smoke_helpers import folder_fixture, runner_fixture  # noqa: F401 - the fixtures folder, runner
from smoke_helpers import fixture, line_of, lines_of, needs_smoke_extra, smoke_settings

pytestmark = [pytest.mark.smoke, needs_smoke_extra]
SEEDS = range(8)


async def by_seed(runner, folder, name):
    path, text = fixture(name)
    return text, {seed: await runner.run(path, text, smoke_settings(folder, seed=seed)) for seed in SEEDS}


async def test_funnel_fails_prior_recovery_on_y_for_every_seed(runner, folder):
    text, results = await by_seed(runner, folder, "funnel.py")
    y = line_of(text, '"y"')
    for seed, diagnostics in results.items():
        assert lines_of(diagnostics, "NPL907") == {y}, seed
    quiet = [seed for seed, diagnostics in results.items() if not lines_of(diagnostics, "NPL901")]
    assert quiet, "some seeds must show no divergences: NPL907 catches what they miss"
    [message] = [d.message for d in results[quiet[0]] if d.code == "NPL907"]
    assert message.startswith("NUTS could not reproduce the prior of `y`")
    assert "quantile" in message and "prior" in message and "non-center" in message
    [finding] = [d for d in results[quiet[0]] if d.code == "NPL907"]
    assert line_of(text, '"x"') in {r.span.line for r in finding.related}


@pytest.mark.parametrize("name", ["funnel_noncentered.py", "well_conditioned.py"])
async def test_well_conditioned_models_recover_the_prior_for_every_seed(runner, folder, name):
    _, results = await by_seed(runner, folder, name)
    assert {seed: lines_of(d, "NPL907") for seed, d in results.items()} == {seed: set() for seed in SEEDS}


async def test_centered_eight_schools_fails_prior_recovery(runner, folder):
    path, text = fixture("eight_schools.py")
    diagnostics = await runner.run(path, text, smoke_settings(folder))
    assert lines_of(diagnostics, "NPL907") & {line_of(text, '"tau"'), line_of(text, '"theta"')}


async def test_discrete_latent_sites_are_skipped_without_error(runner, folder):
    path, text = fixture("discrete.py")
    diagnostics = await runner.run(path, text, smoke_settings(folder))
    assert not lines_of(diagnostics, "NPL905")
    assert line_of(text, '"z"') not in lines_of(diagnostics, "NPL907")


async def test_threshold_is_a_setting(runner, folder):
    path, text = fixture("eight_schools_noncentered.py")
    strict = await runner.run(path, text, smoke_settings(folder, prior_recovery_threshold=1e-6))
    assert lines_of(strict, "NPL907")
