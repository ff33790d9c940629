"""The server/CLI side of the runner, without running anything: which models run, their cache keys,
directives, the facts sent to the child, where findings land, and reading crash stacks."""

from __future__ import annotations

import textwrap

from numpyro_lint.config import Settings
from numpyro_lint.linter import lint_text
from numpyro_lint.runner.placement import place
from numpyro_lint.runner.process import user_frames
from numpyro_lint.runner.protocol import Finding, Related, decode, encode
from numpyro_lint.runner.targets import targets

SOURCE = textwrap.dedent('''\
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist


    def helper(mu):
        return numpyro.sample("inner", dist.Normal(mu, 1))


    # numpyro-lint: smoke(J=8, y=None)
    def model(J, y=None):
        mu = numpyro.sample("mu", dist.Normal(0, 5))
        tau = numpyro.sample("tau", dist.HalfCauchy(5))
        helper(mu)
        with numpyro.plate("J", J):
            theta = numpyro.sample("theta", dist.Normal(mu, tau))
            numpyro.sample("obs", dist.Normal(theta, 1), obs=y)


    def other(scale=1.0):
        numpyro.sample("z", dist.Normal(0, scale))


    def guide(J, y=None):
        numpyro.sample("mu", dist.Normal(numpyro.param("m", 0.0), 1))
''')


def requests(text: str, settings: Settings | None = None):
    settings = settings or Settings()
    lint = lint_text(text, "model.py", settings)
    return {t.request.qualname: t for t in targets(lint.module, text, settings, lint.diagnostics, "process")}


def test_models_to_run_exclude_guides_and_helpers_their_callers_run():
    assert sorted(requests(SOURCE)) == ["model", "other"]


def test_facts_for_the_child_directive_defaults_dependencies_and_centered_sites():
    model, other = requests(SOURCE)["model"].request, requests(SOURCE)["other"].request
    assert (model.directive, model.directive_line, model.all_defaults) == ("J=8, y=None", 10, False)
    assert (other.directive, other.all_defaults) == (None, True)
    assert model.centered == ("theta",)
    assert model.scale_parents == {"theta": ["tau"]} and model.scale_children("tau") == ["theta"]
    assert model.parents["obs"] == ["theta"]


def test_comment_only_edits_keep_keys_code_edits_change_only_their_model():
    before = requests(SOURCE)
    commented = requests("# header\n" + SOURCE.replace("dist.Normal(0, 5))", "dist.Normal(0, 5))  # wide?"))
    assert {q: t.result_key for q, t in commented.items()} == {q: t.result_key for q, t in before.items()}
    edited = requests(SOURCE.replace('dist.Normal(0, scale)', 'dist.Normal(1, scale)'))
    assert edited["model"].result_key == before["model"].result_key
    assert edited["other"].result_key != before["other"].result_key
    helper_edited = requests(SOURCE.replace("dist.Normal(mu, 1)", "dist.Normal(mu, 2)"))
    assert helper_edited["model"].result_key != before["model"].result_key  # model calls helper


def test_seed_changes_the_result_key_but_not_the_compile_key():
    settings = Settings()
    reseeded = settings.__class__(smoke=settings.smoke.__class__(seed=7))
    before, after = requests(SOURCE)["model"], requests(SOURCE, reseeded)["model"]
    assert before.request.compile_key == after.request.compile_key
    assert before.result_key != after.result_key


def test_findings_land_on_sites_lines_or_defs_and_follow_moved_lines():
    lint = lint_text(SOURCE, "model.py")
    module = lint.module
    on_site = place(Finding("NPL901", "m", model="model", site="tau", related=(Related("r", site="theta"),)), module)
    assert (on_site.span.line, on_site.related[0].span.line) == (13, 16)
    assert place(Finding("NPL901", "m", model="model", site="inner"), module).span.line == 7  # in a callee
    assert place(Finding("NPL906", "m", model="model"), module).span.line == 11  # the def's name
    line_text = 'tau = numpyro.sample("tau", dist.HalfCauchy(5))'
    moved = lint_text("# one\n# two\n" + SOURCE.replace(line_text, line_text + "  # note"), "model.py").module
    assert place(Finding("NPL905", "m", model="model", line=13, line_text=line_text), moved).span.line == 15


def test_measured_advice_extends_the_static_npl501_diagnostic():
    lint = lint_text(SOURCE, "model.py")
    [static] = [d for d in lint.diagnostics if d.code == "NPL501"]
    advice = place(Finding("NPL501", "Measured: 12 -> 0.", model="model", site="theta"), lint.module, lint.diagnostics)
    assert advice.span == static.span and advice.fix == static.fix
    assert advice.message == static.message + " Measured: 12 -> 0."


def test_protocol_round_trip_and_stray_lines():
    finding = Finding("NPL905", "boom", model="m", line=3, line_text="x = 1", related=(Related("r", site="s"),))
    assert Finding.from_json(decode(encode(finding.to_json()))) == finding
    assert decode(b"not json\n") is None and decode(b"[1, 2]\n") is None


def test_user_frames_from_faulthandler_dumps_and_tracebacks():
    dump = textwrap.dedent('''\
        Fatal Python error: Segmentation fault

        Thread 0x00007f0000000001 (most recent call first):
          File "/lib/threading.py", line 324 in wait

        Current thread 0x00007f0000000002 (most recent call first):
          File "/lib/ctypes/__init__.py", line 519 in string_at
          File "/work/model.py", line 9 in model
          File "/work/model.py", line 20 in main
        ''')
    assert user_frames(dump, "/work/model.py") == [9, 20]
    traceback = 'Traceback (most recent call last):\n  File "/work/model.py", line 20, in main\n' \
                '  File "/work/model.py", line 9, in model\nValueError: x\n'
    assert user_frames(dump + traceback, "/work/model.py") == [9, 20]
    assert user_frames("nothing here", "/work/model.py") == []
