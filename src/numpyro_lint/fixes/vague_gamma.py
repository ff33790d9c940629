"""NPL402 (unsafe): `Gamma(ε, ε)` -> `Gamma(a, b)` from `gamma-replacement` (default `(2, 0.1)`);
`InverseGamma(ε, ε)` -> `InverseGamma(a, b)`, the same prior on the reciprocal. Keywords, argument order
and chained calls stay as written. Unsafe: the prior changes."""

from __future__ import annotations

from numpyro_lint.config import Settings
from numpyro_lint.diagnostic import Applicability, Diagnostic, Edit, Fix
from numpyro_lint.fixes.numbers import number_text
from numpyro_lint.fixes.sites import site_with_distribution_at
from numpyro_lint.ir.model import ModuleIR


def fix(diagnostic: Diagnostic, module: ModuleIR, settings: Settings) -> Fix | None:
    found = site_with_distribution_at(module, diagnostic.span)
    if found is None:
        return None
    distribution = found[1].distribution
    assert distribution is not None
    concentration, rate = distribution.param("concentration"), distribution.param("rate")
    if concentration is None or rate is None or concentration.span == rate.span:
        return None
    a, b = settings.gamma_replacement
    if a == b and a < 1:
        return None  # the replacement would be just as vague
    edits = (Edit(concentration.span, number_text(a, concentration.text)), Edit(rate.span, number_text(b, rate.text)))
    return Fix(f"Use `{distribution.name}({number_text(a)}, {number_text(b)})`", Applicability.UNSAFE, edits)
