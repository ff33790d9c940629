"""NPL501 (unsafe): write the non-centered form out by hand.

`theta = numpyro.sample("theta", dist.Normal(mu, tau))` becomes
`theta_raw = numpyro.sample("theta_raw", dist.Normal(0, 1))` and
`theta = numpyro.deterministic("theta", mu + tau * theta_raw)`, in the same place (same plates; `.expand`
and `.to_event` kept). The same family is standardized (StudentT keeps its `df`). Unsafe: the latent
site is now `theta_raw`, so initial values, conditioning and saved samples keyed by `theta` change.
"""

from __future__ import annotations

from numpyro_lint.config import Settings
from numpyro_lint.diagnostic import Applicability, Diagnostic, Edit, Fix, Span
from numpyro_lint.fixes.imports import import_name
from numpyro_lint.fixes.region import enclosing_region, indentation, simple_statement
from numpyro_lint.fixes.sites import is_plain_string, parse_distribution, site_at
from numpyro_lint.ir.model import FunctionIR, ModuleIR, Site

_ATOMS = ("Name", "Attribute", "Call", "Subscript", "Integer", "Float", "Imaginary", "SimpleString")
_MULTIPLICATIVE = ("Multiply", "Divide", "FloorDivide", "Modulo", "MatrixMultiply", "Power")
_ADDITIVE = ("Add", "Subtract", *_MULTIPLICATIVE)


def fix(diagnostic: Diagnostic, module: ModuleIR, settings: Settings) -> Fix | None:
    found = site_at(module, diagnostic.span)
    if found is None:
        return None
    function, site = found
    names = _new_names(function, site)
    if names is None:
        return None
    raw_variable, raw_site = names
    rewritten = _rewrite(module, site, raw_variable)
    if rewritten is None:
        return None
    statement_span, sample_callee, standardized, value = rewritten
    deterministic, import_edits = import_name(module, "numpyro.deterministic")
    indent = indentation(module.source, statement_span.line)
    text = (
        f"{indent}{raw_variable} = {sample_callee}({raw_site}, {standardized}){module.source.newline}"
        f"{indent}{site.bound_to} = {deterministic}({site.name_expr.text}, {value})"
    )
    edit = Edit(Span(statement_span.line, 0, statement_span.end_line, statement_span.end_col), text)
    title = f"Sample `{raw_variable}` from the standardized prior and make `{site.name}` deterministic"
    return Fix(title, Applicability.UNSAFE, (edit, *import_edits))


def _new_names(function: FunctionIR, site: Site) -> tuple[str, str] | None:
    """(`theta_raw` variable, `"theta_raw"` site name literal), when neither is taken in the function."""
    if site.bound_to is None or site.name is None or not is_plain_string(site.name_expr.text):
        return None
    variable = f"{site.bound_to}_raw"
    literal = site.name_expr.text
    raw_site = f"{literal[:-1]}_raw{literal[-1]}"
    taken = function.created_names | {p.name for p in function.params}
    if variable in taken or function.site_named(f"{site.name}_raw") is not None:
        return None
    return variable, raw_site


def _rewrite(module: ModuleIR, site: Site, raw_variable: str):
    """(statement span, sample callee text, standardized distribution text, `loc + scale * raw` text)."""
    import libcst as cst

    region = enclosing_region(module, site.span)
    statement = region and simple_statement(region, site.span)
    if statement is None or len(statement.body) != 1 or not isinstance(statement.body[0], cst.Assign):
        return None
    assign = statement.body[0]
    call = assign.value
    if (len(assign.targets) != 1 or not isinstance(assign.targets[0].target, cst.Name)
            or region.span(call) != site.span or not isinstance(call, cst.Call) or len(call.args) != 2
            or any(arg.star or (arg.keyword and arg.keyword.value not in ("name", "fn")) for arg in call.args)):
        return None  # `obs=`, `sample_shape=`, `infer=`: leave those to the author
    distribution = site.distribution
    loc, scale = distribution.param("loc"), distribution.param("scale")
    if loc is None or scale is None:
        return None
    standardized = _standardized(module, site)
    if standardized is None:
        return None
    scaled = f"{_operand(scale.text, _MULTIPLICATIVE)} * {raw_variable}"
    value = scaled if loc.value == 0 else f"{_operand(loc.text, _ADDITIVE)} + {scaled}"
    return region.span(statement), region.tree.code_for_node(call.func), standardized, value


def _standardized(module: ModuleIR, site: Site) -> str | None:
    """The site's distribution text with loc 0 and scale 1, other arguments and chained calls kept."""
    import libcst as cst

    node, base = parse_distribution(module, site.distribution)
    if base is None:
        return None
    replacements = {"loc": "0", "scale": "1"}
    names = [name for name, _ in site.distribution.params][:sum(1 for a in base.args if a.keyword is None)]
    args = []
    for position, arg in enumerate(base.args):
        if arg.star:
            return None
        name = arg.keyword.value if arg.keyword else (names[position] if position < len(names) else None)
        args.append(arg.with_changes(value=cst.Integer(replacements[name])) if name in replacements else arg)
    return cst.Module(body=[]).code_for_node(node.deep_replace(base, base.with_changes(args=args)))


def _operand(text: str, allowed: tuple[str, ...]) -> str:
    """`text` as an operand of `+` or `*`: parenthesized unless it binds at least as tightly."""
    import libcst as cst

    try:
        node = cst.parse_expression(text)
    except cst.ParserSyntaxError:
        return f"({text})"
    kind = type(node).__name__
    if node.lpar or kind in _ATOMS or kind == "UnaryOperation" and node.operator.__class__.__name__ != "Not":
        return text
    if kind == "BinaryOperation" and type(node.operator).__name__ in allowed:
        return text
    return f"({text})"
