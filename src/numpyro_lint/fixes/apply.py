"""Fixing a file's text to a fixed point: lint, apply every allowed fix that does not overlap another,
lint again, repeat. Text in, text out; writing files is the `fix` command's business (`commands/fix.py`).

A fix can make room for another (each round of NPL301 splits one more link of a chain of reused keys), so
a file may need many rounds. As ruff does, at most `MAX_ROUNDS`; a text seen before means two fixes undo
each other, and the loop stops there. Either way the outcome says it did not converge.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from numpyro_lint.config import Settings
from numpyro_lint.diagnostic import Diagnostic
from numpyro_lint.fixes.edits import apply_diagnostic_fixes, fix_is_allowed
from numpyro_lint.linter import FixesWanted, LintResult, lint_document

MAX_ROUNDS = 100


@dataclass(frozen=True)
class FixOutcome:
    text: str
    applied: int
    remaining: tuple[Diagnostic, ...]
    #: False when fixes were still being made after MAX_ROUNDS rounds, or undid each other.
    converged: bool = True

    @property
    def still_fixable(self) -> list[str]:
        """The codes of the remaining diagnostics that a fix was offered for."""
        return sorted({d.code for d in self.remaining if d.fix is not None})


def fix_text(text: str, path: str | None, settings: Settings, unsafe: bool,
             *, fixes: FixesWanted = "all", first: LintResult | None = None) -> FixOutcome:
    """Lint, apply the allowed fixes, re-lint, repeat until nothing changes (at most MAX_ROUNDS rounds).
    A Markdown or reStructuredText document is fixed in its code blocks (see code_blocks).
    `fixes`: the fixes computed each round (and left on the remaining diagnostics); "safe" saves the
    LibCST work of unsafe fixes when only safe ones are applied. `first`: `text`'s lint result with
    those fixes, when the caller has it (the language server does)."""
    wanted: FixesWanted = "all" if unsafe else fixes
    applied = 0
    diagnostics, broken = _lint(text, path, settings, wanted, first)
    seen = {_digest(text)}
    for _ in range(MAX_ROUNDS):
        new_text, count = apply_diagnostic_fixes(text, diagnostics, unsafe)
        if count == 0 or new_text == text:
            return FixOutcome(text, applied, diagnostics)
        if _digest(new_text) in seen:
            break  # fixes that undo each other: stop before going round in circles
        seen.add(_digest(new_text))
        new_diagnostics, new_broken = _lint(new_text, path, settings, wanted)
        if new_broken > broken:
            break  # never hand back a file (or a code block) that no longer parses
        text, diagnostics, applied = new_text, new_diagnostics, applied + count
    converged = not any(fix_is_allowed(d.fix, unsafe) for d in diagnostics)
    return FixOutcome(text, applied, diagnostics, converged)


def _lint(text: str, path: str | None, settings: Settings, fixes: FixesWanted,
          first: LintResult | None = None) -> tuple[tuple[Diagnostic, ...], int]:
    """(diagnostics, how many programs do not parse) of a file or of a document's code blocks."""
    if first is not None:
        return first.diagnostics, int(first.module.syntax_error is not None)
    result = lint_document(text, path, settings, fixes=fixes)
    return result.diagnostics, result.syntax_errors


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
