"""The smoke checks (issue 7), each on a model written for it in tests/fixtures/smoke/: divergences on
centered hierarchies and none on their non-centered twins, non-finite and far-off prior predictives,
exceptions on their line, arguments found three ways, and NPL501's fix measured."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from smoke_helpers import folder_fixture, runner_fixture  # noqa: F401 - the fixtures folder, runner
from smoke_helpers import fixture, line_of, lines_of, needs_smoke_extra, smoke_settings

pytestmark = [pytest.mark.smoke, needs_smoke_extra]


async def smoke(runner, folder, name, **smoke):
    path, text = fixture(name)
    return text, await runner.run(path, text, smoke_settings(folder, **smoke))


async def test_divergences_on_centered_eight_schools_placed_on_tau_and_theta(runner, folder):
    text, diagnostics = await smoke(runner, folder, "eight_schools.py")
    tau, theta = line_of(text, '"tau"'), line_of(text, '"theta"')
    assert lines_of(diagnostics, "NPL901") == {tau, theta}
    message = next(d.message for d in diagnostics if d.code == "NPL901" and d.span.line == tau)
    assert re.search(r"\d+ of 600 transitions \(\d+\.\d%\) diverged", message)
    assert re.search(r"`tau` sits (in its lowest decile|below its median) \(median percentile \d+%\)", message)


async def test_no_divergences_on_non_centered_eight_schools(runner, folder):
    _, diagnostics = await smoke(runner, folder, "eight_schools_noncentered.py")
    assert not lines_of(diagnostics, "NPL901")


async def test_divergences_on_neals_funnel_and_none_when_non_centered(runner, folder):
    text, diagnostics = await smoke(runner, folder, "funnel.py")
    assert line_of(text, '"y"') in lines_of(diagnostics, "NPL901")
    _, diagnostics = await smoke(runner, folder, "funnel_noncentered.py")
    assert not lines_of(diagnostics, "NPL901")


async def test_measured_advice_shows_fewer_divergences_after_non_centering(runner, folder):
    text, diagnostics = await smoke(runner, folder, "eight_schools.py")
    [advice] = [d for d in diagnostics if d.code == "NPL501"]
    assert advice.span.line == line_of(text, '"theta"')
    assert advice.message.startswith("`theta` is a centered hierarchical prior")  # the static message kept
    before, after = map(int, re.search(r"divergences (\d+) -> (\d+) in a smoke run", advice.message).groups())
    assert after < before


async def test_nan_log_density_from_a_negative_scale_reported_on_the_site(runner, folder):
    text, diagnostics = await smoke(runner, folder, "nan_prior.py")
    [nan] = [d for d in diagnostics if d.code == "NPL902"]
    assert nan.span.line == line_of(text, '"x"')
    assert "NaN" in nan.message and "`x`" in nan.message
    assert not lines_of(diagnostics, "NPL901")  # a broken prior is not sampled


async def test_prior_predictive_a_thousand_times_too_wide(runner, folder):
    text, diagnostics = await smoke(runner, folder, "wide_prior.py")
    [wide] = [d for d in diagnostics if d.code == "NPL903"]
    assert wide.span.line == line_of(text, '"obs"')
    ratio = int(re.search(r"is ([\d,]+)x wider than the data", wide.message).group(1).replace(",", ""))
    assert ratio > 500
    assert {r.span.line for r in wide.related} == {line_of(text, '"mu"'), line_of(text, '"sigma"')}


async def test_exception_inside_the_model_reported_on_its_line(runner, folder):
    text, diagnostics = await smoke(runner, folder, "raises.py")
    [raised] = diagnostics
    assert (raised.code, raised.span.line) == ("NPL905", line_of(text, "raise ValueError"))
    assert "ValueError: n must be at most 2, got 3" in raised.message


async def test_arguments_from_directive_main_block_and_defaults_else_npl900(runner, folder):
    text, diagnostics = await smoke(runner, folder, "arguments.py")
    messages = {d.span.line: d.message for d in diagnostics}
    assert "directive J=5 scale=2.0" in messages[line_of(text, 'raise ValueError(f"directive')]
    assert "main block data=[1, 2, 3] flag=True" in messages[line_of(text, 'raise ValueError(f"main block')]
    assert "defaults size=3" in messages[line_of(text, 'raise ValueError(f"{name}')]
    [missing] = [d for d in diagnostics if d.code == "NPL900"]
    assert missing.span.line == line_of(text, "def without_arguments")
    assert missing.severity.value == "information"
    assert "# numpyro-lint: smoke(data=...)" in missing.message


async def test_arguments_from_an_inference_call_made_at_import(runner, folder):
    text, diagnostics = await smoke(runner, folder, "module_level_call.py")
    [raised] = diagnostics
    assert "module level total=42" in raised.message
    assert raised.span.line == line_of(text, 'raise ValueError(f"module level')


async def test_smoke_findings_follow_select_ignore_and_noqa(runner, folder):
    path, text = fixture("raises.py")
    ignoring = replace(smoke_settings(folder), ignore=("NPL905",))
    assert await runner.run(path, text, ignoring) == []
    silenced = text.replace('got {n}")', 'got {n}")  # noqa: NPL905')
    assert await runner.run(path, silenced, smoke_settings(folder)) == []


async def test_progress_reports_compiling_warmup_and_sampling(runner, folder):
    messages = []
    runner.on_progress = lambda path, message: messages.append(message)
    try:
        path, text = fixture("funnel_noncentered.py")
        await runner.run(path, text, smoke_settings(folder, seed=5))
    finally:
        runner.on_progress = None
    assert "compiling" in messages
    assert messages.index("compiling") < messages.index("warmup 50/300") < messages.index("sampling 300/300")


async def test_prior_stage_diagnostics_arrive_before_the_nuts_stage(runner, folder):
    published = []
    runner.on_diagnostics = lambda path, found: published.append(sorted(d.code for d in found))
    try:
        path, text = fixture("wide_prior.py")
        final = await runner.run(path, text, smoke_settings(folder, seed=1))
    finally:
        runner.on_diagnostics = None
    assert published[0] == ["NPL903"]  # after the prior predictive, before NUTS ran
    assert len(published) >= 3  # prior, nuts, recovery
    assert sorted(d.code for d in final) == published[-1]
