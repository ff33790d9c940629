"""Properties every fix must have, over every rule's INVALID examples: the result parses, the fixed
diagnostic is gone, fix-all reaches a fixed point, and no new diagnostic appears."""

from __future__ import annotations

import ast
from collections import Counter

import pytest

from numpyro_lint.fixes.apply import fix_text
from numpyro_lint.fixes.edits import apply_fixes
from numpyro_lint.linter import DEFAULT_SETTINGS, lint_text
from numpyro_lint.rules import ALL_RULES

EXAMPLES = [
    pytest.param(example, id=f"{rule.code}-{index}")
    for rule in ALL_RULES
    for index, example in enumerate(rule.INVALID)
    if rule.code != "NPL000"
]


def _keys(diagnostics) -> Counter:
    return Counter(d.code for d in diagnostics)


@pytest.mark.parametrize("example", EXAMPLES)
def test_each_fix_parses_removes_its_diagnostic_and_adds_nothing(example):
    before = lint_text(example).diagnostics
    for diagnostic in before:
        for fix in filter(None, (diagnostic.fix, *diagnostic.alternatives)):
            fixed, applied = apply_fixes(example, [fix])
            assert applied == 1
            ast.parse(fixed)
            after = lint_text(fixed).diagnostics
            assert not [d for d in after if d.code == diagnostic.code and d.message == diagnostic.message
                        and d.span.line == diagnostic.span.line], f"{fix.title} left its diagnostic"
            grown = _keys(after) - _keys(before)
            assert not grown, f"{fix.title} introduced {dict(grown)}"


@pytest.mark.parametrize("example", EXAMPLES)
@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
def test_fix_all_reaches_a_fixed_point(example, unsafe):
    once = fix_text(example, None, DEFAULT_SETTINGS, unsafe)
    ast.parse(once.text)
    twice = fix_text(once.text, None, DEFAULT_SETTINGS, unsafe)
    assert twice.text == once.text and twice.applied == 0
    assert not (_keys(once.remaining) - _keys(lint_text(example).diagnostics))
