"""NPL204: `jax.lax.scan` -> `numpyro.contrib.control_flow.scan` (safe), `jax.lax.cond` ->
`numpyro.contrib.control_flow.cond` (unsafe: NumPyro's `cond` takes one operand, and sites in its
branches must agree in name and shape under inference).

The fix renames the callee at every control-flow call that traces the primitive's function; it is
offered only when all of them are a `scan` or `cond` whose arguments NumPyro's versions accept.
"""

from __future__ import annotations

from numpyro_lint.config import Settings
from numpyro_lint.diagnostic import Applicability, Diagnostic, Edit, Fix, Span
from numpyro_lint.fixes.imports import import_name
from numpyro_lint.fixes.region import parse_snippet
from numpyro_lint.ir.model import Call, ModuleIR
from numpyro_lint.ir.plates import call_at

#: jax.lax callee -> (NumPyro replacement, keywords both accept, most positional arguments).
REPLACEMENTS = {
    "jax.lax.scan": ("numpyro.contrib.control_flow.scan", frozenset({"f", "init", "xs", "length", "reverse"}), 5),
    "jax.lax.cond": ("numpyro.contrib.control_flow.cond", frozenset(), 4),
}


def fix(diagnostic: Diagnostic, module: ModuleIR, settings: Settings) -> Fix | None:
    # NPL204 relates each control-flow call (or decorator) that traces the primitive as "traced once by ...".
    calls = [_call_at(module, related.span) for related in diagnostic.related
             if related.message.startswith("traced once by")]
    if not calls or any(call is None or call.callee not in REPLACEMENTS for call in calls):
        return None
    if len({call.callee for call in calls}) != 1:
        return None  # one import per fix keeps its edits apart
    callee = calls[0].callee
    replacement, _, _ = REPLACEMENTS[callee]
    local, import_edits = import_name(module, replacement, through="numpyro.contrib.control_flow")
    edits: list[Edit] = []
    for call in dict.fromkeys(calls):
        rewritten = _rewrite(module, call, local)
        if rewritten is None:
            return None
        edits += rewritten
    applicability = Applicability.SAFE if callee == "jax.lax.scan" else Applicability.UNSAFE
    return Fix(f"Use `{replacement}`", applicability, (*edits, *import_edits))


def _call_at(module: ModuleIR, span: Span) -> Call | None:
    return next((call for function in module.functions if (call := call_at(function, span)) is not None), None)


def _rewrite(module: ModuleIR, call: Call, local: str) -> list[Edit] | None:
    """The callee renamed; for `scan` without `xs`, an explicit `None` (NumPyro's `xs` has no default)."""
    import libcst as cst

    _, keywords, most = REPLACEMENTS[call.callee]
    region = parse_snippet(module.source, call.span)
    node = region and region.node_at(call.span, cst.Call)
    if node is None or call.callee_span is None:
        return None
    positional = [arg for arg in node.args if arg.keyword is None]
    if any(arg.star for arg in node.args) or len(positional) > most or any(
            arg.keyword is not None and arg.keyword.value not in keywords for arg in node.args):
        return None
    if call.callee == "jax.lax.cond" and len(positional) != 4:
        return None  # no operand, or several: NumPyro's cond passes exactly one
    edits = [Edit(call.callee_span, local)]
    if call.callee == "jax.lax.scan" and len(positional) < 3 and not any(
            arg.keyword is not None and arg.keyword.value == "xs" for arg in node.args):
        if len(positional) != 2:
            return None
        end = region.span(positional[1].value)
        edits.append(Edit(Span(end.end_line, end.end_col, end.end_line, end.end_col), ", None"))
    return edits
