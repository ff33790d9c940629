"""NPL401 (unsafe): narrow a wide prior to `weak-prior-scale` (default 10).

The literal scale is replaced (`Normal(0, 1000.0)` -> `Normal(0, 10.0)`; a module constant is replaced
at this site only), an `Exponential` rate becomes its inverse, and a `Uniform(-a, a)` becomes
`Uniform(-w, w)`; an asymmetric `Uniform` gets no fix (where to centre it is the author's call), nor does
a `LogNormal` (its scale is in log units, where `weak-prior-scale` means nothing).
Unsafe: the model changes; the narrower scale is right only once the parameter is on unit scale.
"""

from __future__ import annotations

from numpyro_lint.config import Settings
from numpyro_lint.diagnostic import Applicability, Diagnostic, Edit, Fix
from numpyro_lint.fixes.numbers import number_text
from numpyro_lint.fixes.sites import site_with_distribution_at
from numpyro_lint.ir.model import ModuleIR


def fix(diagnostic: Diagnostic, module: ModuleIR, settings: Settings) -> Fix | None:
    weak = settings.weak_prior_scale
    found = site_with_distribution_at(module, diagnostic.span)
    if found is None or not weak < settings.wide_prior_scale:
        return None
    distribution = found[1].distribution
    assert distribution is not None
    scale, rate = distribution.param("scale"), distribution.param("rate")
    low, high = distribution.param("low"), distribution.param("high")
    if distribution.name == "LogNormal":
        return None
    if scale is not None and scale.span == diagnostic.span:
        edits = (Edit(scale.span, number_text(weak, scale.text)),)
        title = f"Use scale {number_text(weak)}"
    elif rate is not None and rate.span == diagnostic.span:
        edits = (Edit(rate.span, number_text(1 / weak, rate.text)),)
        title = f"Use rate {number_text(1 / weak)} (scale {number_text(weak)})"
    elif (distribution.name == "Uniform" and low is not None and high is not None and low.value is not None
          and low.value == -(high.value or 0) and low.value < 0):
        edits = (Edit(low.span, number_text(-weak, low.text)), Edit(high.span, number_text(weak, high.text)))
        title = f"Use `Uniform({number_text(-weak)}, {number_text(weak)})`"
    else:
        return None
    return Fix(title, Applicability.UNSAFE, edits)
