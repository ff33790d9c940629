"""Model insight in the editor, as plain functions over the IR and the last smoke run's facts: which
site is under the cursor, its hover (distribution, support, plates; shapes, prior quantiles and smoke
posterior once a run measured them), the code lens above each model, and the shape hints after each
`sample(...)`. `app.py` turns these into LSP values.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Iterable

from numpyro_lint.diagnostic import Diagnostic, Severity, Span
from numpyro_lint.graph import reachable_functions, site_kind, top_models
from numpyro_lint.ir import distributions
from numpyro_lint.ir.model import Distribution, FunctionIR, ModuleIR, Plate, Site
from numpyro_lint.runner.protocol import ModelFacts, SiteFacts

#: Which finding a model's code lens reports first: the most severe (then the first in the file).
_SEVERITY_RANK = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFORMATION: 2, Severity.HINT: 3}
_WORD = re.compile(r"[A-Za-z_]\w*")
#: A lens shows the start of its finding's message; the hover and Problems have the rest.
LENS_MESSAGE_CHARS = 60
_DTYPES = {"float32": "f32", "float64": "f64", "float16": "f16", "bfloat16": "bf16", "int32": "i32",
           "int64": "i64", "int8": "i8", "uint8": "u8", "bool": "bool"}


# Which site is under the cursor ---------------------------------------------------------------------

@dataclass(frozen=True)
class SiteHit:
    function: FunctionIR
    site: Site
    #: What the cursor is on: the name string, or the variable bound to the site.
    span: Span


def site_at(module: ModuleIR, line: int, col: int) -> SiteHit | None:
    """The sample site whose name string, or the variable bound to it, is at 1-based `line`, code-point
    `col`; None elsewhere."""
    functions = [f for f in module.functions if f.sites and _contains(f.span, line, col)]
    if not functions:
        return None
    for function in sorted(functions, key=lambda f: (f.span.line, f.span.col), reverse=True):  # innermost first
        for site in function.sites:
            if _contains(site.name_expr.span, line, col) and site.kind == "sample":
                return SiteHit(function, site, site.name_expr.span)
    word = _word_at(module.source.line(line), col)
    if word is None:
        return None
    name, start, end = word
    for function in sorted(functions, key=lambda f: (f.span.line, f.span.col), reverse=True):
        bound = [site for site in function.sites if site.bound_to == name and site.kind == "sample"]
        if bound:
            before = [site for site in bound if site.span.line <= line]
            return SiteHit(function, (before or bound)[-1], Span(line, start, line, end))
    return None


def _contains(span: Span, line: int, col: int) -> bool:
    return (span.line, span.col) <= (line, col) <= (span.end_line, span.end_col)


def _word_at(text: str, col: int) -> tuple[str, int, int] | None:
    for match in _WORD.finditer(text):
        if match.start() <= col <= match.end():
            before = text[:match.start()].rstrip()
            if before.endswith("."):  # an attribute (`self.theta`, `dist.Normal`), not the variable
                return None
            return match.group(), match.start(), match.end()
    return None


# Hover ----------------------------------------------------------------------------------------------

def site_markdown(module: ModuleIR, hit: SiteHit, facts: ModelFacts | None) -> str:
    """At most ~12 lines of Markdown about the site: what the code says, then what a smoke run measured."""
    site, function = hit.site, hit.function
    name = site.name or site.name_expr.text
    lines = [f"**{name}** ~ `{distribution_text(site.distribution)}`" if site.distribution is not None
             else f"**{name}** (sample site)"]
    traits = [site_kind(site)]
    if site.is_observed and site.obs is not None:
        traits[0] = f"observed (`obs={_clip(site.obs.text, 30)}`)"
    support = support_text(site.distribution)
    if support:
        traits.append(f"support: {support}")
    if _reparameterized(function, site):
        traits.append("reparameterized (`reparam`)")
    if _enumerated(function, site):
        traits.append("enumerated")
    elif site.is_latent and site.distribution is not None and site.distribution.name in distributions.DISCRETE:
        traits.append("discrete latent")
    lines.append(" · ".join(traits))
    lines.append(plates_text(function.inherited_plates + site.context.plates))
    site_facts = facts.site(site.name) if facts is not None and site.name else None
    if site_facts is None:
        return "  \n".join(lines) + "\n\n_Smoke-run the model for its shape, prior quantiles and smoke posterior._"
    measured = [f"shape `{shape_text(site_facts)}` · batch `{_tuple(site_facts.batch_shape)}` · "
                f"event `{_tuple(site_facts.event_shape)}`"]
    if site_facts.prior_quantiles:
        low, mid, high = site_facts.prior_quantiles
        kind = "prior predictive" if site_facts.kind == "observed" else "prior"
        measured.append(f"{kind} 5–50–95%: {_num(low)} · {_num(mid)} · {_num(high)}")
    posterior = posterior_text(site_facts)
    if posterior:
        measured.append(posterior)
    return "  \n".join(lines) + "\n\n---\n\n" + "  \n".join(measured)


def distribution_text(distribution: Distribution) -> str:
    name = distribution.name or distribution.callee_text
    params = ", ".join(f"{key}={_clip(expr.text, 24)}" if not key.startswith("#") else _clip(expr.text, 24)
                       for key, expr in distribution.params)
    chain = "".join(f".{call.method}({', '.join(_clip(a.expr.text, 12) for a in call.args)})"
                    for call in distribution.chain)
    return f"{name}({params}){chain}"


def support_text(distribution: Distribution | None) -> str | None:
    if distribution is None or distribution.name is None:
        return None
    template = distributions.ARGUMENT_SUPPORTS.get(distribution.name)
    if template is not None:
        fields = [field for _, field, _, _ in string.Formatter().parse(template) if field]
        values = {field: distribution.param(field) for field in fields}
        if all(value is not None for value in values.values()):
            return template.format(**{k: _clip(v.text, 16) for k, v in values.items() if v is not None})
    return distributions.SUPPORTS.get(distribution.name)


def plate_dims(plates: tuple[Plate, ...]) -> list[int | None]:
    """Each plate's batch dim as NumPyro allocates it: `dim=` when given, else the rightmost free one."""
    given = [_int(plate.dim_text) for plate in plates]
    occupied = {dim for dim in given if dim is not None}
    dims: list[int | None] = []
    for plate, dim in zip(plates, given):
        if dim is None and plate.dim_text is not None:
            dims.append(None)  # a dim computed at run time
            continue
        if dim is None:
            dim = -1
            while dim in occupied:
                dim -= 1
            occupied.add(dim)
        dims.append(dim)
    return dims


def plates_text(plates: tuple[Plate, ...]) -> str:
    if not plates:
        return "plates: none"
    parts = []
    for plate, dim in zip(plates, plate_dims(plates)):
        size = f"size `{_clip(plate.size_text, 20)}`" if plate.size_text else "size unknown"
        if plate.subsample_size_text:
            size += f", subsample `{_clip(plate.subsample_size_text, 12)}`"
        where = f"dim {dim}" if dim is not None else f"dim `{plate.dim_text}`"
        parts.append(f"`{plate.name or '?'}` ({size}, {where})")
    return "plates: " + " › ".join(parts)


def shape_text(site: SiteFacts) -> str:
    """`f32[8]`, `f32[]`, `i32[3,4]`: the dtype and shape of the site's value."""
    return f"{_DTYPES.get(site.dtype, site.dtype)}[{','.join(str(n) for n in site.shape)}]"


def posterior_text(site: SiteFacts) -> str | None:
    if not site.posterior_mean:
        return None
    if len(site.posterior_mean) == 1:
        text = f"smoke posterior {_num(site.posterior_mean[0])} ± {_num(site.posterior_sd[0])}"
    else:
        means, sds = site.posterior_mean, site.posterior_sd
        shown = f"first {len(means)} of " if _size(site.shape) > len(means) else ""
        text = (f"smoke posterior ({shown}{_size(site.shape)} elements): mean {_num(min(means))} … "
                f"{_num(max(means))}, sd {_num(min(sds))} … {_num(max(sds))}")
    if site.rhat is not None:
        text += f" · R̂ {site.rhat:.2f}"
    if site.ess is not None:
        text += f" · ESS {site.ess:.0f}"
    return text


def _reparameterized(function: FunctionIR, site: Site) -> bool:
    configs = [*site.context.reparams, *function.outer_reparams]
    if function.reparam is not None:
        configs.append(function.reparam)
    return any(config.covers(site.name) for config in configs)


def _enumerated(function: FunctionIR, site: Site) -> bool:
    return site.enumerated or any(decorator.rsplit(".", 1)[-1] == "config_enumerate"
                                  for decorator in function.decorators)


# Code lens and inlay hints --------------------------------------------------------------------------

@dataclass(frozen=True)
class Lens:
    model: FunctionIR
    title: str


def model_lenses(module: ModuleIR, facts: dict[str, ModelFacts] | None, findings: Iterable[Diagnostic] | None,
                 running: bool) -> list[Lens]:
    """One lens per model: run it; or, after a run, its outcome (ok with its size, or its worst finding)."""
    lenses = []
    findings = list(findings or ())
    for model in top_models(module):
        if running:
            title = "$(sync~spin) Smoke run in progress…"
        elif facts is None:
            title = "▶ Smoke-run"
        else:
            title = _outcome(model, facts.get(model.qualname), findings)
        lenses.append(Lens(model, title))
    return lenses


def _outcome(model: FunctionIR, facts: ModelFacts | None, findings: list[Diagnostic]) -> str:
    own = [d for d in findings if d.code.startswith("NPL9") or d.code == "NPL501"
           if model.span.line <= d.span.line <= model.span.end_line]
    seconds = f" · {facts.seconds:.1f} s" if facts is not None else ""
    if own:
        worst = min(own, key=lambda d: (_SEVERITY_RANK.get(d.severity, 9), d.span.line))
        more = f" (+{len(own) - 1} more)" if len(own) > 1 else ""
        return f"⚠ smoke {worst.code}: {_clip(worst.message, LENS_MESSAGE_CHARS)}{more}{seconds} · ▶ rerun"
    if facts is None:
        return "▶ Smoke-run"
    if not facts.sampled:
        return f"smoke ok · prior predictive only (no continuous latent site){seconds}"
    rhat = f" · max R̂ {facts.max_rhat:.2f}" if facts.max_rhat is not None else ""
    plural = "" if facts.divergences == 1 else "s"
    return (f"smoke ok · {facts.chains}×{facts.samples} draws · {facts.divergences} divergence{plural}"
            f"{rhat}{seconds}")


def shape_hints(module: ModuleIR, facts: dict[str, ModelFacts]) -> list[tuple[Span, str]]:
    """(the `sample(...)` call's span, `: f32[8]`) for each site of a model the last run measured."""
    hints = []
    for model in top_models(module):
        found = facts.get(model.qualname)
        if found is None:
            continue
        for function in reachable_functions(module, model):
            for site in function.sites:
                measured = found.site(site.name) if site.name and site.kind == "sample" else None
                if measured is not None:
                    hints.append((site.span, f": {shape_text(measured)}"))
    return sorted(set(hints), key=lambda hint: (hint[0].end_line, hint[0].end_col))


def facts_for(module: ModuleIR, function: FunctionIR, facts: dict[str, ModelFacts]) -> ModelFacts | None:
    """The facts of the model that `function` is (or runs inside)."""
    for model in top_models(module):
        if model.qualname in facts and any(f.qualname == function.qualname for f in reachable_functions(module, model)):
            return facts[model.qualname]
    return None


# Formatting -----------------------------------------------------------------------------------------

def _num(value: float) -> str:
    return f"{value:.3g}"


def _tuple(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def _size(shape: tuple[int, ...]) -> int:
    size = 1
    for n in shape:
        size *= n
    return size


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
