"""Applying fixes to text: non-overlapping edits in one pass; identical edits (an import that two fixes
both add) applied once."""

from __future__ import annotations

from typing import Iterable

from numpyro_lint.diagnostic import Applicability, Diagnostic, Edit, Fix
from numpyro_lint.source import SourceText


def fix_is_allowed(fix: Fix | None, unsafe: bool) -> bool:
    return fix is not None and (unsafe or fix.applicability == Applicability.SAFE)


def apply_fixes(text: str, fixes: Iterable[Fix]) -> tuple[str, int]:
    """Apply as many of `fixes` as do not overlap each other; returns (new text, fixes applied)."""
    source = SourceText(text)
    accepted: list[tuple[int, int, str]] = []
    applied = 0
    for fix in fixes:
        ranges = [_offsets(source, edit) for edit in fix.edits]
        new = [r for r in ranges if r not in accepted]
        if any(_overlaps(r, other) for r in new for other in accepted):
            continue
        accepted.extend(new)
        applied += 1
    result = text
    # From the end backwards; insertions at one point go in last-accepted first, so they read in order.
    ordered = sorted(enumerate(accepted), key=lambda item: (item[1][0], item[1][1], item[0]), reverse=True)
    for _, (start, end, content) in ordered:
        result = result[:start] + content + result[end:]
    return result, applied


def apply_diagnostic_fixes(text: str, diagnostics: Iterable[Diagnostic], unsafe: bool) -> tuple[str, int]:
    return apply_fixes(text, (d.fix for d in diagnostics if fix_is_allowed(d.fix, unsafe)))  # type: ignore[misc]


def _offsets(source: SourceText, edit: Edit) -> tuple[int, int, str]:
    span = edit.span
    return source.offset(span.line, span.col), source.offset(span.end_line, span.end_col), edit.content


def _overlaps(a: tuple[int, int, str], b: tuple[int, int, str]) -> bool:
    if a[0] == a[1] or b[0] == b[1]:  # insertions only clash when strictly inside the other range
        return b[0] < a[0] < b[1] or a[0] < b[0] < a[1]
    return a[0] < b[1] and b[0] < a[1]
