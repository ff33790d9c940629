"""NPL404 (unsafe): give a real-line prior that is used as a scale the positive support it needs.

What Stan's `real<lower=0>` meant: the prior truncated at zero, kept in its family where NumPyro has a
name for it. Centred at zero, `Normal(0, s)` -> `HalfNormal(s)` and `Cauchy(0, s)` -> `HalfCauchy(s)`;
elsewhere `TruncatedNormal(loc, s, low=0.0)` / `TruncatedCauchy(loc, s, low=0.0)`; StudentT, Laplace and
Logistic -> `TruncatedDistribution(<prior>, low=0.0)`; other families -> `HalfNormal(s)`. Chained
`.expand`/`.to_event` calls are kept. Unsafe: the prior changes (for the better, but it changes).
"""

from __future__ import annotations

from numpyro_lint.config import Settings
from numpyro_lint.diagnostic import Applicability, Diagnostic, Edit, Fix
from numpyro_lint.fixes.imports import import_name
from numpyro_lint.fixes.sites import parse_distribution, site_with_distribution_at, text_at
from numpyro_lint.ir.model import Distribution, ModuleIR

HALF = {"Normal": "HalfNormal", "Cauchy": "HalfCauchy"}
TRUNCATED = {"Normal": "TruncatedNormal", "Cauchy": "TruncatedCauchy"}
#: Families `TruncatedDistribution` accepts as its base in numpyro 0.22.
TRUNCATABLE = frozenset({"StudentT", "Laplace", "Logistic"})


def fix(diagnostic: Diagnostic, module: ModuleIR, settings: Settings) -> Fix | None:
    found = site_with_distribution_at(module, diagnostic.span)
    if found is None:
        return None
    distribution = found[1].distribution
    assert distribution is not None and distribution.span == diagnostic.span
    replaced = _replacement(module, distribution)
    if replaced is None:
        return None
    family, arguments = replaced
    local, import_edits = import_name(module, f"numpyro.distributions.{family}")
    new_base = f"{local}({arguments})"
    edit = _replace_base_call(module, distribution, new_base)
    if edit is None:
        return None
    return Fix(f"Use `{family}({arguments})`", Applicability.UNSAFE, (edit, *import_edits))


def _replacement(module: ModuleIR, distribution: Distribution) -> tuple[str, str] | None:
    """(family, argument text) of the positive prior to use instead."""
    name = distribution.name or ""
    loc, scale = distribution.param("loc"), distribution.param("scale")
    if scale is None:
        return None
    centred = loc is None or loc.value == 0
    if name in HALF and centred:
        return HALF[name], scale.text
    if name in TRUNCATED:
        return TRUNCATED[name], f"{loc.text}, {scale.text}, low=0.0"
    if name in TRUNCATABLE:
        return "TruncatedDistribution", f"{_base_call_text(module, distribution)}, low=0.0"
    return "HalfNormal", scale.text


def _base_call_text(module: ModuleIR, distribution: Distribution) -> str:
    import libcst as cst

    _, base = parse_distribution(module, distribution)
    return cst.Module(body=[]).code_for_node(base) if base is not None else text_at(module, distribution.span)


def _replace_base_call(module: ModuleIR, distribution: Distribution, new_base: str) -> Edit | None:
    import libcst as cst

    node, base = parse_distribution(module, distribution)
    if base is None:
        return None
    replaced = node.deep_replace(base, cst.parse_expression(new_base))
    return Edit(distribution.span, cst.Module(body=[]).code_for_node(replaced))
