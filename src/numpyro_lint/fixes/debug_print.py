"""NPL102 (unsafe): `print(a, b)` -> `jax.debug.print("{} {}", a, b)`, which prints at run time."""

from __future__ import annotations

from numpyro_lint.config import Settings
from numpyro_lint.diagnostic import Applicability, Diagnostic, Edit, Fix
from numpyro_lint.fixes.imports import import_edit, local_name_for
from numpyro_lint.fixes.sites import text_at
from numpyro_lint.ir.model import ModuleIR


def fix(diagnostic: Diagnostic, module: ModuleIR, settings: Settings) -> Fix | None:
    call = next((c for f in module.functions for c in f.calls if c.span == diagnostic.span), None)
    if call is None or call.callee not in ("print", "builtins.print"):
        return None
    import libcst as cst

    span = call.span
    try:
        node = cst.parse_expression(text_at(module, span))
    except cst.ParserSyntaxError:
        return None
    if not isinstance(node, cst.Call):
        return None
    converted = _format_and_args(node)
    if converted is None:
        return None
    template, arguments = converted
    function = local_name_for(module, "jax.debug.print")
    edits = []
    if function is None:
        function = "jax.debug.print"
        edits.append(import_edit(module, "import jax"))
    new_call = cst.Call(
        func=cst.parse_expression(function),
        args=[cst.Arg(cst.SimpleString(_quote(template))), *(cst.Arg(a) for a in arguments)],
    )
    edits.insert(0, Edit(span, cst.Module(body=[]).code_for_node(new_call)))
    return Fix(f"Use `{function}` (prints at run time)", Applicability.UNSAFE, tuple(edits))


def _format_and_args(node) -> tuple[str, list] | None:
    import libcst as cst

    separator = " "
    pieces: list[str] = []
    arguments: list = []
    for arg in node.args:
        if arg.keyword is not None:
            if arg.keyword.value == "sep" and isinstance(arg.value, cst.SimpleString):
                separator = str(arg.value.evaluated_value)
                continue
            if arg.keyword.value == "flush":
                continue
            return None  # file=, end=: no faithful jax.debug.print equivalent
        if arg.star:
            return None
        value = arg.value
        if isinstance(value, cst.SimpleString) and isinstance(value.evaluated_value, str):
            pieces.append(value.evaluated_value.replace("{", "{{").replace("}", "}}"))
        elif isinstance(value, cst.FormattedString):
            converted = _formatted_string(value)
            if converted is None:
                return None
            pieces.append(converted[0])
            arguments.extend(converted[1])
        else:
            pieces.append("{}")
            arguments.append(value)
    return separator.join(pieces), arguments


def _formatted_string(node) -> tuple[str, list] | None:
    import libcst as cst

    text = []
    arguments = []
    for part in node.parts:
        if isinstance(part, cst.FormattedStringText):
            if "\\" in part.value:
                return None
            text.append(part.value)
        else:
            if part.format_spec is not None and any(
                not isinstance(spec, cst.FormattedStringText) for spec in part.format_spec
            ):
                return None
            conversion = f"!{part.conversion}" if part.conversion else ""
            spec = ":" + "".join(s.value for s in part.format_spec) if part.format_spec else ""
            text.append("{" + conversion + spec + "}")
            arguments.append(part.expression)
    return "".join(text), arguments


def _quote(text: str) -> str:
    body = repr(text)[1:-1]
    if repr(text).startswith("'"):
        body = body.replace('"', '\\"').replace("\\'", "'")
    return f'"{body}"'
