"""Finding the IR objects a diagnostic points at, for fixers."""

from __future__ import annotations

from numpyro_lint.diagnostic import Span
from numpyro_lint.ir.model import Distribution, FunctionIR, ModuleIR, Site


def site_at(module: ModuleIR, span: Span) -> tuple[FunctionIR, Site] | None:
    """The site whose call is exactly `span`."""
    for function in module.functions:
        for site in function.sites:
            if site.span == span:
                return function, site
    return None


def site_with_obs_at(module: ModuleIR, span: Span) -> tuple[FunctionIR, Site] | None:
    """The observed site whose `obs` argument is exactly `span`."""
    for function in module.functions:
        for site in function.sites:
            if site.obs is not None and site.obs.span == span:
                return function, site
    return None


def site_with_distribution_at(module: ModuleIR, span: Span) -> tuple[FunctionIR, Site] | None:
    """The site whose distribution expression, or one of whose distribution's arguments, is `span`."""
    for function in module.functions:
        for site in function.sites:
            distribution = site.distribution
            if distribution is not None and (
                distribution.span == span or any(expr.span == span for _, expr in distribution.params)
            ):
                return function, site
    return None


def text_at(module: ModuleIR, span: Span) -> str:
    source = module.source
    return source.text[source.offset(span.line, span.col):source.offset(span.end_line, span.end_col)]


def is_plain_string(text: str) -> bool:
    """A one-line string literal without escapes (`"theta"`, `'a_b'`), safe to extend with a suffix."""
    body = text.lstrip("rRuU")
    return (
        len(body) >= 2 and body[0] in "'\"" and body[-1] == body[0] and not body.startswith(body[0] * 3)
        and "\\" not in body and body[0] not in body[1:-1]
    )


def parse_distribution(module: ModuleIR, distribution: Distribution):
    """(LibCST expression of the distribution with its chained calls, the constructor call inside it), or
    (None, None) when it does not parse on its own."""
    import libcst as cst

    try:
        node = cst.parse_expression(f"({text_at(module, distribution.span)})").with_changes(lpar=[], rpar=[])
    except cst.ParserSyntaxError:
        return None, None
    base = node
    while isinstance(base, cst.Call) and isinstance(base.func, cst.Attribute) and isinstance(base.func.value, cst.Call):
        base = base.func.value
    return (node, base) if isinstance(base, cst.Call) else (None, None)
