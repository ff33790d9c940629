"""Applying one diagnostic's fix to a snippet, as a user picking a quick fix would."""

from __future__ import annotations

import ast
import textwrap
from collections import Counter

from numpyro_lint.config import Settings
from numpyro_lint.diagnostic import Diagnostic, Fix
from numpyro_lint.fixes.apply import fix_text
from numpyro_lint.fixes.edits import apply_fixes
from numpyro_lint.linter import DEFAULT_SETTINGS, lint_text


def diagnostic(source: str, code: str, line: int | None = None,
               settings: Settings = DEFAULT_SETTINGS) -> Diagnostic:
    found = [d for d in lint_text(textwrap.dedent(source), settings=settings).diagnostics
             if d.code == code and (line is None or d.span.line == line)]
    assert len(found) == 1, f"expected one {code}, got {found}"
    return found[0]


def offered(source: str, code: str, line: int | None = None, settings: Settings = DEFAULT_SETTINGS) -> list[Fix]:
    """The fixes offered for the one `code` diagnostic (on `line`), the "disable for this line" one left out."""
    found = diagnostic(source, code, line, settings)
    return [fix for fix in (found.fix, *found.alternatives[:-1]) if fix is not None]


def fixed(source: str, code: str, line: int | None = None, which: int = 0,
          settings: Settings = DEFAULT_SETTINGS) -> str:
    """`source` (dedented) after the `which`-th fix offered for its `code` diagnostic."""
    source = textwrap.dedent(source)
    fix = offered(source, code, line, settings)[which]
    result, applied = apply_fixes(source, [fix])
    assert applied == 1
    ast.parse(result)
    return result


def fixed_all(source: str, unsafe: bool = False, settings: Settings = DEFAULT_SETTINGS) -> str:
    return fix_text(textwrap.dedent(source), None, settings, unsafe).text


def dedent(text: str) -> str:
    return textwrap.dedent(text)


def assert_fix_is_sound(text: str, before, diagnostic: Diagnostic, fix: Fix, where: str = "") -> None:
    """Applied alone, `fix` parses, leaves one fewer diagnostic like the one it fixes, adds no other code."""
    result, applied = apply_fixes(text, [fix])
    assert applied == 1
    ast.parse(result)
    after = lint_text(result).diagnostics
    same = Counter((d.code, d.message) for d in after)[(diagnostic.code, diagnostic.message)]
    assert same < Counter((d.code, d.message) for d in before)[(diagnostic.code, diagnostic.message)], (
        f"{where}: {fix.title} left its diagnostic")
    grown = Counter(d.code for d in after) - Counter(d.code for d in before)
    assert not grown, f"{where}: {fix.title} introduced {dict(grown)}"
