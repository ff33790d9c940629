"""Property tests on generated models: linting never fails, and fix-all is safe on every one of them."""

from __future__ import annotations

import ast
from collections import Counter

from hypothesis import HealthCheck, given, settings

from model_strategies import model_source
from numpyro_lint.fixes.apply import fix_text
from numpyro_lint.linter import DEFAULT_SETTINGS, lint_text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model_source())
def test_fix_all_on_generated_models(source):
    ast.parse(source)
    before = lint_text(source).diagnostics
    assert all(d.code != "NPL000" for d in before)
    for unsafe in (False, True):
        fixed = fix_text(source, None, DEFAULT_SETTINGS, unsafe)
        ast.parse(fixed.text)
        assert fix_text(fixed.text, None, DEFAULT_SETTINGS, unsafe).applied == 0  # a fixed point
        grown = Counter(d.code for d in fixed.remaining) - Counter(d.code for d in before)
        assert not grown


@settings(max_examples=40, deadline=None)
@given(model_source())
def test_generated_models_report_what_was_planted(source):
    found = {d.code for d in lint_text(source).diagnostics}
    if "    print(mu)\n" in source:
        assert "NPL102" in found
    if "buf[0] = mu" in source:
        assert "NPL106" in found
    if "    if mu > 0:" in source:
        assert "NPL104" in found
