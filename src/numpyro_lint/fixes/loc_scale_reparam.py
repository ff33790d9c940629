"""NPL501 (safe): non-center a site with `LocScaleReparam(0)`.

The site joins the model's reparam config when it has one (`@reparam(config=...)`, a `with reparam(...)`
around the site, a `reparam(model, config=...)` wrapper; a dict literal or a module-level dict name);
otherwise the site's own `with` (its plate's) gains `reparam(config={"<name>": LocScaleReparam(0)})`, or
the site's statement is wrapped in one. The site keeps its name and its values (the reparam handler
records it as a deterministic site), so posterior samples are keyed as before.
"""

from __future__ import annotations

import re

from numpyro_lint.config import Settings
from numpyro_lint.diagnostic import Applicability, Diagnostic, Edit, Fix, Span
from numpyro_lint.fixes.imports import import_name
from numpyro_lint.fixes.region import (
    Region, enclosing_region, indentation, parse_lines, parse_snippet, wrap_in_with,
)
from numpyro_lint.fixes.sites import is_plain_string, site_at, text_at
from numpyro_lint.ir.model import FunctionIR, ModuleIR, ReparamConfig, Site


def fix(diagnostic: Diagnostic, module: ModuleIR, settings: Settings) -> Fix | None:
    found = site_at(module, diagnostic.span)
    if found is None:
        return None
    function, site = found
    if site.name is None or not is_plain_string(site.name_expr.text):
        return None
    reparam_class, import_edits = import_name(
        module, "numpyro.infer.reparam.LocScaleReparam", through="numpyro.infer.reparam")
    entry = f"{site.name_expr.text}: {reparam_class}(0)"
    config = _config_in_force(function, site)
    if config is not None:
        edits = _add_to_config(module, config, entry)
    else:
        handler, handler_edits = import_name(module, "numpyro.handlers.reparam")
        import_edits += handler_edits
        edits = _enter_reparam(module, site, f"{handler}(config={{{entry}}})")
    if edits is None:
        return None
    title = f"Non-center `{site.name}` with `LocScaleReparam(0)`"
    return Fix(title, Applicability.SAFE, (*edits, *import_edits))


def _config_in_force(function: FunctionIR, site: Site) -> ReparamConfig | None:
    """The reparam config nearest the site: its innermost `with`, the decorator, then outer wrappers."""
    candidates = [*reversed(site.context.reparams)]
    if function.reparam is not None:
        candidates.append(function.reparam)
    candidates += function.outer_reparams
    return next((config for config in candidates if config.covered is not None), None)


def _add_to_config(module: ModuleIR, config: ReparamConfig, entry: str) -> tuple[Edit, ...] | None:
    import libcst as cst

    region = parse_snippet(module.source, config.span)
    call = region and region.node_at(config.span, cst.Call)
    if call is None:
        return None
    keyword = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == "config"), None)
    positional = [a.value for a in call.args if a.keyword is None and not a.star]
    value = keyword or (positional[1] if len(positional) >= 2 else positional[0] if positional else None)
    if isinstance(value, cst.Name):
        region, value = _module_dict(module, value.value)
    if region is None or not isinstance(value, cst.Dict):
        return None
    return (_dict_entry_edit(region, value, entry),)


def _module_dict(module: ModuleIR, name: str) -> tuple[Region | None, object]:
    """The dict literal a module-level `NAME = {...}` binds, parsed from that statement alone."""
    import libcst as cst

    pattern = re.compile(rf"{re.escape(name)}\s*(:[^=]*)?=\s*\{{")
    for number, line in enumerate(module.source.lines, start=1):
        if pattern.match(line):
            last = _statement_end(module, number)
            region = parse_lines(module.source, number, last) if last else None
            if region is None:
                return None, None
            assign = next(region.nodes((cst.Assign, cst.AnnAssign)), None)
            return region, getattr(assign, "value", None)
    return None, None


def _statement_end(module: ModuleIR, line: int) -> int | None:
    """The last line of the statement that starts at `line` (brackets and strings followed)."""
    import io
    import tokenize

    text = module.source.newline.join(module.source.lines[line - 1:]) + "\n"
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.NEWLINE:
                return line + token.start[0] - 1
    except (tokenize.TokenError, SyntaxError):
        return None
    return None


def _dict_entry_edit(region: Region, value, entry: str) -> Edit:
    """Add `entry` to a dict literal: on a line of its own in a one-entry-per-line dict, else after the
    last entry (an insertion, so that two sites added in one pass both land); `{}` is replaced whole."""
    import libcst as cst

    span = region.span(value)
    if not value.elements:
        return Edit(span, "{" + entry + "}")
    last = region.span(value.elements[-1])
    trailing_comma = isinstance(value.elements[-1].comma, cst.Comma)
    if trailing_comma and span.end_line > last.end_line and region.source.line(last.line).strip():
        line = span.end_line
        indent = indentation(region.source, last.line)
        return Edit(Span(line, 0, line, 0), f"{indent}{entry},{region.source.newline}")
    return Edit(Span(last.end_line, last.end_col, last.end_line, last.end_col), f", {entry}")


def _enter_reparam(module: ModuleIR, site: Site, handler: str) -> tuple[Edit, ...] | None:
    """Add the handler to the `with` that holds the site's statement, else wrap the statement in one."""
    import libcst as cst

    region = enclosing_region(module, site.span)
    statement = region and region.statement(site.span)
    if isinstance(statement, cst.SimpleStatementLine):
        owner = region.owner(statement)
    elif isinstance(statement, cst.With) and isinstance(statement.body, cst.SimpleStatementSuite):
        owner = statement  # `with plate(...): x = sample(...)` on one line
    else:
        return None
    if isinstance(owner, cst.With) and owner.asynchronous is None:
        item_span = region.span(owner.items[-1])
        # Replacing the last item (not inserting after it) makes two sites of one `with` take turns: the
        # second then joins the first one's config instead of stacking a second handler.
        return (Edit(item_span, f"{text_at(module, item_span)}, {handler}"),)
    if owner is statement:
        return None
    return (wrap_in_with(region, statement, handler),)
