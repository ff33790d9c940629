"""Every rule's own VALID and INVALID examples: the lines marked `# expect` and only those."""

from __future__ import annotations

import pytest

from numpyro_lint.config import Settings
from numpyro_lint.linter import lint_text
from numpyro_lint.rules import ALL_RULES
from numpyro_lint.rules.base import EXPECT_MARKER, PEDANTIC_EXPECT_MARKER

PEDANTIC = Settings(select=("NPL", "pedantic"))

CASES = [
    pytest.param(rule, kind, index, example, id=f"{rule.code}-{kind}-{index}")
    for rule in ALL_RULES
    for kind, examples in (("valid", rule.VALID), ("invalid", rule.INVALID))
    for index, example in enumerate(examples)
]


@pytest.mark.parametrize(("rule", "kind", "index", "example"), CASES)
def test_rule_example(rule, kind, index, example):
    """Valid: nothing, even with the pedantic tier. Invalid: `# expect` lines by default, and the
    `# expect: pedantic` lines too once the pedantic tier is selected."""
    flagged = sorted(d.span.line for d in lint_text(example).diagnostics if d.code == rule.code)
    flagged_pedantic = sorted(d.span.line for d in lint_text(example, settings=PEDANTIC).diagnostics
                              if d.code == rule.code)
    lines = list(enumerate(example.split("\n"), start=1))
    expected = [n for n, line in lines if EXPECT_MARKER in line and PEDANTIC_EXPECT_MARKER not in line]
    expected_pedantic = [n for n, line in lines if EXPECT_MARKER in line]
    if kind == "valid":
        assert flagged_pedantic == []
    else:
        assert expected_pedantic, "an invalid example must mark at least one line"
        assert flagged == expected
        assert flagged_pedantic == expected_pedantic


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda rule: rule.code)
def test_rule_is_documented_in_ruff_sections(rule):
    doc = type(rule).__doc__ or ""
    positions = [doc.find(section) for section in (
        "## What it does", "## Why is this bad?", "## Example", "## Use instead", "## Fix safety", "## Options",
    )]
    assert -1 not in positions and positions == sorted(positions)
    assert rule.INVALID and rule.summary
