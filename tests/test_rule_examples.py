"""Every rule's own VALID and INVALID examples: the lines marked `# expect` and only those."""

from __future__ import annotations

import pytest

from numpyro_lint.linter import lint_text
from numpyro_lint.rules import ALL_RULES
from numpyro_lint.rules.base import EXPECT_MARKER

CASES = [
    pytest.param(rule, kind, index, example, id=f"{rule.code}-{kind}-{index}")
    for rule in ALL_RULES
    for kind, examples in (("valid", rule.VALID), ("invalid", rule.INVALID))
    for index, example in enumerate(examples)
]


@pytest.mark.parametrize(("rule", "kind", "index", "example"), CASES)
def test_rule_example(rule, kind, index, example):
    flagged = sorted(d.span.line for d in lint_text(example).diagnostics if d.code == rule.code)
    expected = [n for n, line in enumerate(example.split("\n"), start=1) if EXPECT_MARKER in line]
    if kind == "valid":
        assert flagged == []
    else:
        assert expected, "an invalid example must mark at least one line"
        assert flagged == expected


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda rule: rule.code)
def test_rule_is_documented_in_ruff_sections(rule):
    doc = type(rule).__doc__ or ""
    positions = [doc.find(section) for section in (
        "## What it does", "## Why is this bad?", "## Example", "## Use instead", "## Fix safety", "## Options",
    )]
    assert -1 not in positions and positions == sorted(positions)
    assert rule.INVALID and rule.summary
