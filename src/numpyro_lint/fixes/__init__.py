"""Fixes: text rewrites offered for diagnostics, apart from detection.

A fixer is `fix(diagnostic, module, settings) -> Fix | None`, registered by code in `FIXERS`; a fixer
may also return several fixes, the primary first (`Diagnostic.fix`), the others offered as
alternatives ahead of "disable for this line", which always comes last. `with_fixes` computes them for
one diagnostic: the language server calls it when a code action asks (each fix costs milliseconds of
LibCST work, too much to spend on every diagnostic at every keystroke), the CLI through `attach_fixes`
for the whole file. A file gets fixes for its first `MAX_FIXED_DIAGNOSTICS` fixable diagnostics only: a
generated file with thousands of findings must not cost a minute (`fix` applies the rest in its next
rounds).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Sequence, Union

from numpyro_lint.config import Settings
from numpyro_lint.diagnostic import Diagnostic, Fix
from numpyro_lint.fixes import (
    contrib_control_flow, debug_print, inplace_update, key_split, loc_scale_reparam, noncentered, obs_plate,
    positive_prior, vague_gamma, weak_prior,
)
from numpyro_lint.fixes.noqa import disable_for_line
from numpyro_lint.ir.model import ModuleIR
from numpyro_lint.rules import SAFELY_FIXABLE

Fixer = Callable[[Diagnostic, ModuleIR, Settings], Union[Fix, Sequence[Fix], None]]
MAX_FIXED_DIAGNOSTICS = 200


def offer_each(*fixers: Fixer) -> Fixer:
    """One fixer that offers what each of `fixers` offers, in order (a failing one is skipped)."""
    def fix(diagnostic: Diagnostic, module: ModuleIR, settings: Settings) -> tuple[Fix, ...]:
        return tuple(found for fixer in fixers for found in _run(fixer, diagnostic, module, settings))
    return fix


FIXERS: dict[str, Fixer] = {
    "NPL102": debug_print.fix,
    "NPL106": inplace_update.fix,
    "NPL201": obs_plate.fix,
    "NPL204": contrib_control_flow.fix,
    "NPL301": key_split.fix,
    "NPL303": key_split.fix,
    "NPL401": weak_prior.fix,
    "NPL402": vague_gamma.fix,
    "NPL404": positive_prior.fix,
    "NPL501": offer_each(loc_scale_reparam.fix, noncentered.fix),
}


def with_fixes(diagnostic: Diagnostic, module: ModuleIR, settings: Settings, *, run_fixer: bool = True) -> Diagnostic:
    """`diagnostic` with what it offers: its fixer's fixes (unless `run_fixer` is false) and "disable for
    this line", last (NPL000, a syntax error, has none)."""
    fixer = FIXERS.get(diagnostic.code) if run_fixer else None
    offered = _run(fixer, diagnostic, module, settings) if fixer is not None else ()
    noqa = (disable_for_line(diagnostic, module.source),) if diagnostic.code != "NPL000" else ()
    primary = offered[0] if offered else None
    return replace(diagnostic, fix=primary, alternatives=(*offered[1:], *noqa))


def attach_fixes(diagnostics: list[Diagnostic], module: ModuleIR, settings: Settings, *,
                 unsafe: bool = True) -> list[Diagnostic]:
    """`with_fixes` for each diagnostic. `unsafe=False`: skip the fixers that only ever offer unsafe
    fixes (a report that shows safe fixes alone need not pay for LibCST work it will not show)."""
    result = []
    budget = MAX_FIXED_DIAGNOSTICS
    for diagnostic in diagnostics:
        wanted = bool(budget) and (unsafe or diagnostic.code in SAFELY_FIXABLE) and diagnostic.code in FIXERS
        result.append(with_fixes(diagnostic, module, settings, run_fixer=wanted))
        budget -= wanted
    return result


def _run(fixer: Fixer, diagnostic: Diagnostic, module: ModuleIR, settings: Settings) -> tuple[Fix, ...]:
    try:
        found = fixer(diagnostic, module, settings)
    except Exception:  # a fixer bug must never cost the user their diagnostics
        return ()
    if found is None:
        return ()
    return (found,) if isinstance(found, Fix) else tuple(found)
