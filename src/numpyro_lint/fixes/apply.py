"""Fixing a file's text to a fixed point: lint, apply the allowed fixes, lint again, repeat. Text in,
text out; writing files is the `fix` command's business (`commands/fix.py`)."""

from __future__ import annotations

from dataclasses import dataclass

from numpyro_lint.config import Settings
from numpyro_lint.fixes.edits import apply_diagnostic_fixes
from numpyro_lint.linter import lint_text

MAX_ROUNDS = 5


@dataclass(frozen=True)
class FixOutcome:
    text: str
    applied: int
    remaining: tuple


def fix_text(text: str, path: str | None, settings: Settings, unsafe: bool) -> FixOutcome:
    """Lint, apply the allowed fixes, re-lint, repeat until a fixed point (at most MAX_ROUNDS rounds)."""
    applied = 0
    result = lint_text(text, path, settings)
    for _ in range(MAX_ROUNDS):
        new_text, count = apply_diagnostic_fixes(text, result.diagnostics, unsafe)
        if count == 0 or new_text == text:
            break
        new_result = lint_text(new_text, path, settings)
        if new_result.module.syntax_error is not None and result.module.syntax_error is None:
            break  # never hand back a file that no longer parses
        text, result, applied = new_text, new_result, applied + count
    return FixOutcome(text, applied, result.diagnostics)
