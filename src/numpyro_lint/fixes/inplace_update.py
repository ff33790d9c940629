"""NPL106 (safe): `x[i] = v` -> `x = x.at[i].set(v)`; `x[i] += v` -> `x = x.at[i].add(v)`."""

from __future__ import annotations

from numpyro_lint.config import Settings
from numpyro_lint.diagnostic import Applicability, Diagnostic, Edit, Fix
from numpyro_lint.fixes.sites import text_at
from numpyro_lint.ir.model import ModuleIR, Mutation

_AT_METHODS = {"+": "add", "*": "multiply", "/": "divide", "**": "power", "-": "add"}


def fix(diagnostic: Diagnostic, module: ModuleIR, settings: Settings) -> Fix | None:
    mutation = _mutation_at(module, diagnostic)
    if mutation is None or mutation.statement_span is None or mutation.value_text is None:
        return None
    import libcst as cst

    statement_text = text_at(module, mutation.statement_span)
    try:
        statement = cst.parse_statement(statement_text)
    except cst.ParserSyntaxError:
        return None
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None  # `a[0] = 1; b = 2` or a compound statement: leave it to the author
    node = statement.body[0]
    if isinstance(node, cst.Assign) and len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Subscript):
        target, method, value = node.targets[0].target, "set", node.value
    elif isinstance(node, cst.AugAssign) and isinstance(node.target, cst.Subscript):
        operator = mutation.operator or "+"
        if operator not in _AT_METHODS:
            return None
        target, method, value = node.target, _AT_METHODS[operator], node.value
        if operator == "-":
            value = cst.UnaryOperation(cst.Minus(), _parenthesize(value))
    else:
        return None
    array = target.value
    at_call = cst.Call(
        func=cst.Attribute(cst.Subscript(cst.Attribute(array, cst.Name("at")), target.slice), cst.Name(method)),
        args=[cst.Arg(value)],
    )
    new_node = cst.Assign(targets=[cst.AssignTarget(array)], value=at_call)
    new_text = cst.Module(body=[]).code_for_node(statement.with_changes(body=[new_node])).rstrip("\r\n")
    array_text = cst.Module(body=[]).code_for_node(array)
    title = f"Use `{array_text} = {array_text}.at[...].{method}(...)`"
    return Fix(title, Applicability.SAFE, (Edit(mutation.statement_span, new_text),))


def _parenthesize(value):
    import libcst as cst

    if isinstance(value, (cst.Name, cst.Integer, cst.Float, cst.Call, cst.Attribute, cst.Subscript)):
        return value
    return value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


def _mutation_at(module: ModuleIR, diagnostic: Diagnostic) -> Mutation | None:
    for function in module.functions:
        for mutation in function.mutations:
            if mutation.span == diagnostic.span and mutation.kind in ("item-assign", "item-aug-assign"):
                return mutation
    return None
