"""Fixes: text rewrites offered for diagnostics, apart from detection.

A fixer is `fix(diagnostic, module, settings) -> Fix | None`, registered by code in `FIXERS`. Fixes are
computed with the diagnostic (they travel in JSON output and in the LSP diagnostic's `data`), so
applying one never re-analyses anything.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

from numpyro_lint.config import Settings
from numpyro_lint.diagnostic import Diagnostic, Fix
from numpyro_lint.fixes import debug_print, inplace_update
from numpyro_lint.fixes.noqa import disable_for_line
from numpyro_lint.ir.model import ModuleIR

Fixer = Callable[[Diagnostic, ModuleIR, Settings], "Fix | None"]

FIXERS: dict[str, Fixer] = {
    "NPL102": debug_print.fix,
    "NPL106": inplace_update.fix,
}


def attach_fixes(diagnostics: list[Diagnostic], module: ModuleIR, settings: Settings) -> list[Diagnostic]:
    result = []
    for diagnostic in diagnostics:
        fixer = FIXERS.get(diagnostic.code)
        fix = None
        if fixer is not None:
            try:
                fix = fixer(diagnostic, module, settings)
            except Exception:  # a fixer bug must never cost the user their diagnostics
                fix = None
        alternatives = (disable_for_line(diagnostic, module.source),) if diagnostic.code != "NPL000" else ()
        result.append(replace(diagnostic, fix=fix, alternatives=alternatives))
    return result
