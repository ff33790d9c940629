"""Text -> ModuleIR in one `ast` parse and one walk.

`ast` costs about a tenth of LibCST per line (see shared/FACTS.md), so detection runs on `ast` and only
fixes parse with LibCST, and only the code they rewrite. The walk records, per function, every fact a
rule asks about: sites, calls, branches, mutations, loops and data flow. Rules never walk the tree.
"""

from __future__ import annotations

import ast
import itertools
import re
import warnings
from dataclasses import replace
from typing import Callable

from numpyro_lint.diagnostic import Span
from numpyro_lint.ir import distributions
from numpyro_lint.ir.conventions import candidate_names, unbound_bindings
from numpyro_lint.ir.imports import ImportTable
from numpyro_lint.ir.inference import mark_inference
from numpyro_lint.ir.model import (
    NO_DEPS,
    Argument,
    Branch,
    Call,
    ChainCall,
    Context,
    Deps,
    Distribution,
    Expr,
    FunctionIR,
    Loop,
    ModuleIR,
    Mutation,
    Parameter,
    Plate,
    ReparamConfig,
    Site,
    SyntaxErrorInfo,
)
from numpyro_lint.ir.keyflow import attach_key_events
from numpyro_lint.ir.models import mark_models
from numpyro_lint.ir.newer_syntax import RUNNING, newer_python_for
from numpyro_lint.ir.plates import attach_inherited_plates
from numpyro_lint.source import SourceText

SITE_PRIMITIVES = {
    "numpyro.sample": "sample",
    "numpyro.deterministic": "deterministic",
    "numpyro.factor": "factor",
    "numpyro.param": "param",
}
SHAPE_ATTRIBUTES = frozenset({"shape", "ndim", "size", "dtype"})
SHAPE_FUNCTIONS = frozenset(
    {"len", "isinstance", "type", "id", "callable", "hasattr",
     "jax.numpy.shape", "jax.numpy.ndim", "jax.numpy.size", "numpy.shape", "numpy.ndim", "numpy.size"}
)
CHAIN_METHODS = frozenset({"expand", "expand_by", "to_event", "mask"})
ARRAY_MODULES = ("jax.numpy.", "jax.random.", "jax.nn.", "jax.scipy.", "jax.lax.")
CONTAINER_CALLS = frozenset({"list", "dict", "set", "collections.defaultdict", "collections.OrderedDict"})
_NOQA_RE = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Za-z]+[0-9]+(?:\s*,\s*[A-Za-z]+[0-9]+)*))?", re.I)


class AnalysisCancelled(Exception):
    """`cancelled()` turned true while the IR was being built: its result is no longer wanted."""


def build_module_ir(text: str, path: str | None = None, cancelled: Callable[[], bool] | None = None, *,
                    conventional_names: bool = True) -> ModuleIR:
    """The model IR of one file's text. Never raises for any text; raises AnalysisCancelled soon after
    `cancelled()` turns true (the language server gives up on an older version of the text). With
    `conventional_names`, names the file uses without binding them resolve as NumPyro code conventionally
    means them (ir.conventions)."""
    source = SourceText(text)
    noqa = _noqa_lines(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # Not the real path: for a file that exists, CPython re-reads the failing line from disk to
            # place a SyntaxError, which misplaces it for notebooks, code blocks and unsaved buffers.
            tree = ast.parse(text, filename="<numpyro-lint>")
    except SyntaxError as error:
        return ModuleIR(path, source, (), (), (), noqa, _syntax_error_info(error, source, text))
    except (RecursionError, MemoryError):
        info = SyntaxErrorInfo("too deeply nested for Python's parser", Span(1, 0, 1, 0))
        return ModuleIR(path, source, (), (), (), noqa, info)
    except ValueError as error:  # e.g. "source code string cannot contain null bytes"
        return ModuleIR(path, source, (), (), (), noqa, SyntaxErrorInfo(str(error), Span(1, 0, 1, 0)))
    try:
        return _ModuleBuilder(source, path, noqa, cancelled, conventional_names).build(tree)
    except RecursionError:
        info = SyntaxErrorInfo("too deeply nested to analyse", Span(1, 0, 1, 0))
        return ModuleIR(path, source, (), (), (), noqa, info)


def _syntax_error_info(error: SyntaxError, source: SourceText, text: str) -> SyntaxErrorInfo:
    line = max(error.lineno or 1, 1)
    col = max((error.offset or 1) - 1, 0)
    end_line = error.end_lineno if error.end_lineno and error.end_lineno >= line else line
    end_col = max((error.end_offset or 0) - 1, col) if end_line == line else max((error.end_offset or 1) - 1, 0)
    if line > len(source.lines):
        line = end_line = len(source.lines)
        col = end_col = len(source.line(line))
    length = len(source.line(line))
    col = min(col, length)
    if end_line == line:
        end_col = min(max(end_col, col), length)
    newer = newer_python_for(text, error)
    if newer is not None:
        version, what = newer
        return SyntaxErrorInfo(f"uses Python {version} syntax ({what}); numpyro-lint is running on Python "
                               f"{RUNNING}: run it with Python {version} or newer", Span(line, col, end_line, end_col),
                               requires_python=version)
    return SyntaxErrorInfo(error.msg, Span(line, col, end_line, end_col))


def _noqa_lines(source: SourceText) -> tuple[tuple[int, frozenset[str] | None], ...]:
    if "noqa" not in source.text.lower():
        return ()
    found = []
    for lineno, line in enumerate(source.lines, start=1):
        if "noqa" not in line.lower():
            continue
        match = _NOQA_RE.search(line)
        if match:
            codes = match.group("codes")
            found.append((lineno, None if codes is None else frozenset(
                code.strip().upper() for code in codes.split(","))))
    return tuple(found)


class _ModuleBuilder:
    def __init__(self, source: SourceText, path: str | None, noqa,
                 cancelled: Callable[[], bool] | None = None, conventional_names: bool = True) -> None:
        self.source = source
        self.cancelled = cancelled
        self.conventional_names = conventional_names
        self._ascii = source.text.isascii()
        self.path = path
        self.noqa = noqa
        self.imports = ImportTable()
        self.constants: dict[str, float] = {}
        self.module_dicts: dict[str, ast.Dict] = {}
        self.functions: list[FunctionIR] = []
        #: The `ast` node of each of `functions`, for the key-flow pass.
        self.function_nodes: list[ast.AST] = []
        self.branch_ids = itertools.count()

    def build(self, tree: ast.Module) -> ModuleIR:
        self._scan_module_level(tree)
        stars, conventional = tuple(self.imports.star_modules), self.conventional_names
        self.imports.defer_unbound(candidate_names(stars, conventional),
                                   lambda: unbound_bindings(tree, stars, conventional))
        module = _FunctionBuilder(self, "<module>", "<module>", "module", parent=None)
        module.walk_module(tree)
        functions = attach_key_events([module.result(), *self.functions], [tree, *self.function_nodes],
                                      self.imports, self.constants, self)
        functions = mark_inference(attach_inherited_plates(mark_models(functions)))
        return ModuleIR(
            self.path, self.source, tuple(self.imports.names.items()),
            tuple(self.constants.items()), tuple(functions), self.noqa,
        )

    def _scan_module_level(self, tree: ast.Module) -> None:
        """Imports, numeric constants and dict literals bound once at module level, before the walk, so
        that functions defined above an import still resolve it."""
        assignments: dict[str, list[ast.expr]] = {}
        pending = list(tree.body)
        while pending:
            node = pending.pop(0)
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                self.imports.add(node)
            elif isinstance(node, (ast.If, ast.Try)):
                pending.extend(node.body)
                pending.extend(getattr(node, "orelse", []))
                for handler in getattr(node, "handlers", []):
                    pending.extend(handler.body)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    for name in _target_names(target):
                        assignments.setdefault(name, []).append(node.value)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
                assignments.setdefault(node.target.id, []).append(node.value)
            elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                assignments.setdefault(node.target.id, []).append(node.value)
                assignments[node.target.id].append(node.value)
        for name, values in assignments.items():
            if len(values) != 1:
                continue
            value = _numeric_literal(values[0], {})
            if value is not None:
                self.constants[name] = value
            elif isinstance(values[0], ast.Dict):
                self.module_dicts[name] = values[0]

    # Helpers shared by function builders.

    def span(self, node: ast.AST) -> Span:
        line = node.lineno  # type: ignore[attr-defined]
        end_line = node.end_lineno or line  # type: ignore[attr-defined]
        if self._ascii:  # byte columns are code-point columns (most files: the hot path)
            return Span(line, node.col_offset, end_line, node.end_col_offset or 0)  # type: ignore[attr-defined]
        source = self.source
        return Span(
            line,
            source.col_from_utf8(line, node.col_offset),  # type: ignore[attr-defined]
            end_line,
            source.col_from_utf8(end_line, node.end_col_offset or 0),  # type: ignore[attr-defined]
        )

    def text(self, span: Span) -> str:
        source = self.source
        return source.text[source.offset(span.line, span.col):source.offset(span.end_line, span.end_col)]


def _target_names(target: ast.expr) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [name for element in target.elts for name in _target_names(element)]
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    return []


def _numeric_literal(node: ast.expr, constants: dict[str, float]) -> float | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _numeric_literal(node.operand, constants)
        if inner is not None:
            return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id]
    return None


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _root_subscript(node: ast.expr) -> ast.expr:
    while isinstance(node, ast.Subscript):
        node = node.value
    return node


_PLATE_WORD = re.compile(r"(?:^|_)plates?(?:$|_)")


def _names_a_plate(dotted: str) -> bool:
    """`data_plate`, `self.plate`, `plates`, `make_plate`: a name that says it is (or makes) a plate."""
    return bool(_PLATE_WORD.search(dotted.rsplit(".", 1)[-1].lower()))


def _terminates(body: list[ast.stmt]) -> bool:
    return bool(body) and isinstance(body[-1], (ast.Return, ast.Raise, ast.Continue, ast.Break))


class _FunctionBuilder:
    """Walks one function body (or the module body), recording facts in order of execution."""

    def __init__(self, module: _ModuleBuilder, name: str, qualname: str, kind: str, parent: str | None) -> None:
        self.module = module
        self.imports = module.imports
        self.name = name
        self.qualname = qualname
        self.kind = kind
        self.parent = parent
        self.env: dict[str, Deps] = {}
        self.params: list[Parameter] = []
        self.created: set[str] = set()
        self.declared_outer: dict[str, str] = {}  # name -> "global" | "nonlocal"
        self.array_names: set[str] = set()
        self.container_names: set[str] = set()
        self.plate_vars: dict[str, tuple[Plate, ...]] = {}
        self.distribution_vars: dict[str, ast.Call] = {}
        #: Names bound to a site's value, up to indexing and literal arithmetic (see Expr.site_value).
        self.site_values: dict[str, int] = {}
        self.sites: list[Site] = []
        self.calls: list[Call] = []
        self.branches: list[Branch] = []
        self.mutations: list[Mutation] = []
        self.loops: list[Loop] = []
        self.plates: list[Plate] = []
        self.decorators: tuple[str, ...] = ()
        self.reparam: ReparamConfig | None = None
        self.span = Span(1, 0, 1, 0)
        self.name_span = Span(1, 0, 1, 0)
        self.current_statement: ast.stmt | None = None

    # Entry points.

    def walk_module(self, tree: ast.Module) -> None:
        lines = len(self.module.source.lines)
        self.span = Span(1, 0, lines, len(self.module.source.line(lines)))
        self.block(tree.body, Context())

    def walk_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        self._bind_parameters(node.args)
        if isinstance(node, ast.Lambda):
            self.expr(node.body, Context())
        else:
            self.block(node.body, Context())

    def _bind_parameters(self, arguments: ast.arguments) -> None:
        positional = [*arguments.posonlyargs, *arguments.args]
        defaults: list[ast.expr | None] = [None] * (len(positional) - len(arguments.defaults))
        defaults += list(arguments.defaults)
        pairs = list(zip(positional, defaults))
        if arguments.vararg:
            pairs.append((arguments.vararg, None))
        pairs += list(zip(arguments.kwonlyargs, arguments.kw_defaults))
        if arguments.kwarg:
            pairs.append((arguments.kwarg, None))
        for arg, default in pairs:
            span = self.module.span(arg)
            default_text = self.module.text(self.module.span(default)) if default is not None else None
            self.params.append(Parameter(arg.arg, default is not None, default_text, span))
            self.env[arg.arg] = Deps(args=frozenset({arg.arg}))

    def result(self) -> FunctionIR:
        return FunctionIR(
            name=self.name, qualname=self.qualname, kind=self.kind, span=self.span,
            name_span=self.name_span, params=tuple(self.params), sites=tuple(self.sites),
            plates=tuple(self.plates), calls=tuple(self.calls), branches=tuple(self.branches),
            mutations=tuple(self.mutations), loops=tuple(self.loops), decorators=self.decorators,
            reparam=self.reparam, parent=self.parent, array_names=frozenset(self.array_names),
            created_names=frozenset(name for name in self.created if name not in self.declared_outer),
        )

    # Statements.

    def block(self, body: list[ast.stmt], context: Context) -> None:
        for statement in body:
            self.statement(statement, context)
            if isinstance(statement, ast.If):
                # After `if c: ...; return`, the rest of the block runs only when `c` was false.
                if _terminates(statement.body) and not _terminates(statement.orelse):
                    context = replace(context, path=context.path + ((self._last_if_id, 1),))
                elif _terminates(statement.orelse) and not _terminates(statement.body):
                    context = replace(context, path=context.path + ((self._last_if_id, 0),))

    def statement(self, node: ast.stmt, context: Context) -> None:
        if self.module.cancelled is not None and self.module.cancelled():
            raise AnalysisCancelled
        self.current_statement = node
        handler = _STMT_HANDLERS.get(type(node))
        if handler is not None:
            handler(self, node, context)
            return
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.expr(child, context)

    def _stmt_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef, context: Context) -> None:
        decorator_names = []
        reparam = None
        for decorator in node.decorator_list:
            self.expr(decorator, context)
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            decorator_name = self.imports.qualify(target) or ""
            decorator_names.append(decorator_name)
            if isinstance(decorator, ast.Call) and _is_reparam_handler(decorator_name):
                reparam = self._reparam_config(decorator)
        for default in [*node.args.defaults, *node.args.kw_defaults]:
            if default is not None:
                self.expr(default, context)
        kind = "method" if self.kind == "class" else "function"
        qualname = self._child_qualname(node.name)
        child = _FunctionBuilder(self.module, node.name, qualname, kind, parent=self._function_qualname())
        child.span = self.module.span(node)
        child.name_span = self._def_name_span(node)
        child.decorators = tuple(decorator_names)
        child.reparam = reparam
        child.walk_function(node)
        self.module.functions.append(child.result())
        self.module.function_nodes.append(node)
        self._bind_name(node.name, NO_DEPS, None)

    _stmt_AsyncFunctionDef = _stmt_FunctionDef

    def _def_name_span(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> Span:
        line = node.lineno
        text = self.module.source.line(line)
        col = self.module.source.col_from_utf8(line, node.col_offset)
        found = re.compile(rf"\b{re.escape(node.name)}\b").search(text, col)
        if found:
            return Span(line, found.start(), line, found.end())
        return Span(line, col, line, col)

    def _child_qualname(self, name: str) -> str:
        if self.kind == "module":
            return name
        if self.kind == "class":
            return f"{self.qualname}.{name}"
        return f"{self.qualname}.<locals>.{name}"

    def _function_qualname(self) -> str | None:
        return None if self.kind == "module" else self.qualname

    def _stmt_ClassDef(self, node: ast.ClassDef, context: Context) -> None:
        for expression in [*node.bases, *node.decorator_list, *(k.value for k in node.keywords)]:
            self.expr(expression, context)
        class_builder = _FunctionBuilder(self.module, node.name, self._child_qualname(node.name), "class",
                                         parent=self._function_qualname())
        for statement in node.body:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                class_builder.statement(statement, Context())
        self._bind_name(node.name, NO_DEPS, None)

    def _stmt_Import(self, node: ast.Import | ast.ImportFrom, context: Context) -> None:
        self.imports.add(node)
        for alias in node.names:
            local = alias.asname or alias.name.split(".", 1)[0]
            self.created.add(local)

    _stmt_ImportFrom = _stmt_Import

    def _stmt_Global(self, node: ast.Global | ast.Nonlocal, context: Context) -> None:
        kind = "global" if isinstance(node, ast.Global) else "nonlocal"
        for name in node.names:
            self.declared_outer[name] = kind

    _stmt_Nonlocal = _stmt_Global

    def _stmt_Assign(self, node: ast.Assign, context: Context) -> None:
        deps = self.expr(node.value, context)
        for target in node.targets:
            self.assign(target, deps, node.value, context)
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            self._note_bound(node.value, node.targets[0].id)

    def _stmt_AnnAssign(self, node: ast.AnnAssign, context: Context) -> None:
        if node.value is not None:
            deps = self.expr(node.value, context)
            self.assign(node.target, deps, node.value, context)
            if isinstance(node.target, ast.Name):
                self._note_bound(node.value, node.target.id)

    def _stmt_AugAssign(self, node: ast.AugAssign, context: Context) -> None:
        deps = self.expr(node.value, context)
        target = node.target
        operator = _OPERATORS.get(type(node.op))
        if isinstance(target, ast.Name):
            if target.id in self.declared_outer:
                self._mutation(self.declared_outer[target.id], target.id, node, context, False)
            self.env[target.id] = self.env.get(target.id, NO_DEPS) | deps
            self.site_values.pop(target.id, None)
            return
        root = _root_name(target)
        self.expr(target.value, context)
        if isinstance(target, ast.Subscript):
            self.expr(target.slice, context)
            if root is not None:
                self._mutation("item-aug-assign", root, node, context, self._created(root),
                               index=target.slice, value=node.value, operator=operator)
        elif root is not None and not self._created(root):
            self._mutation("aug-assign", root, node, context, False)

    def _stmt_Delete(self, node: ast.Delete, context: Context) -> None:
        for target in node.targets:
            if isinstance(target, (ast.Subscript, ast.Attribute)):
                self.expr(target, context)
                root = _root_name(target)
                if root is not None:
                    self._mutation("del", root, target, context, self._created(root))

    def _stmt_For(self, node: ast.For | ast.AsyncFor, context: Context) -> None:
        deps = self.expr(node.iter, context)
        loop = Loop("for", self.module.span(node), frozenset(_target_names(node.target)),
                    _literal_strings(node.iter), _trip_count(node.iter))
        self.loops.append(loop)
        self.assign(node.target, deps, None, context)
        inner = replace(context, loops=context.loops + (loop,))
        self.block(node.body, inner)
        self.block(node.orelse, context)

    _stmt_AsyncFor = _stmt_For

    def _stmt_While(self, node: ast.While, context: Context) -> None:
        loop = Loop("while", self.module.span(node))
        self.loops.append(loop)
        inner = replace(context, loops=context.loops + (loop,))
        self._branch("while", node.test, inner)  # the test runs again before every iteration
        self.block(node.body, inner)
        self.block(node.orelse, context)

    def _stmt_If(self, node: ast.If, context: Context) -> None:
        self._branch("if", node.test, context)
        branch_id = next(self.module.branch_ids)
        self.block(node.body, replace(context, path=context.path + ((branch_id, 0),)))
        self.block(node.orelse, replace(context, path=context.path + ((branch_id, 1),)))
        self._last_if_id = branch_id

    def _stmt_Match(self, node: ast.Match, context: Context) -> None:
        self.expr(node.subject, context)
        branch_id = next(self.module.branch_ids)
        for arm, case in enumerate(node.cases):
            if case.guard is not None:
                self.expr(case.guard, context)
            self.block(case.body, replace(context, path=context.path + ((branch_id, arm),)))

    def _stmt_Assert(self, node: ast.Assert, context: Context) -> None:
        self._branch("assert", node.test, context)
        if node.msg is not None:
            self.expr(node.msg, context)

    def _stmt_With(self, node: ast.With | ast.AsyncWith, context: Context) -> None:
        plates: list[Plate] = []
        reparams: list[ReparamConfig] = []
        handlers: list[tuple[str, Span]] = []
        for item in node.items:
            expression = item.context_expr
            self.expr(expression, context)
            if isinstance(expression, ast.Call):
                callee = self.imports.qualify(expression.func) or ""
                if callee == "numpyro.plate":
                    plates.append(self._plate(expression))
                elif callee == "numpyro.plate_stack":
                    plates.extend(self._plate_stack(expression))
                elif _is_reparam_handler(callee):
                    reparams.append(self._reparam_config(expression))
                elif callee.startswith("numpyro.handlers."):
                    handlers.append((callee, self.module.span(expression)))
                elif _names_a_plate(callee):
                    plates.append(self._unknown_plate(expression))  # `with self.plate(...)`
            elif isinstance(expression, ast.Name) and expression.id in self.plate_vars:
                plates.extend(self.plate_vars[expression.id])
            elif _names_a_plate(self.imports.qualify(_root_subscript(expression)) or ""):
                plates.append(self._unknown_plate(expression))  # `with data_plate:`, `with plates["N"]:`
            if item.optional_vars is not None:
                self.assign(item.optional_vars, NO_DEPS, None, context)
        self.plates.extend(plates)
        inner = replace(context, plates=context.plates + tuple(plates),
                        reparams=context.reparams + tuple(reparams), handlers=context.handlers + tuple(handlers))
        self.block(node.body, inner)

    _stmt_AsyncWith = _stmt_With

    def _stmt_Try(self, node: ast.Try, context: Context) -> None:
        # The try body and each handler are treated as alternatives: a handler usually redoes what
        # the body failed to do.
        branch_id = next(self.module.branch_ids)
        self.block(node.body, replace(context, path=context.path + ((branch_id, 0),)))
        for arm, handler in enumerate(node.handlers, start=1):
            if handler.type is not None:
                self.expr(handler.type, context)
            if handler.name:
                self._bind_name(handler.name, NO_DEPS, None)
            self.block(handler.body, replace(context, path=context.path + ((branch_id, arm),)))
        self.block(node.orelse, replace(context, path=context.path + ((branch_id, 0),)))
        self.block(node.finalbody, context)

    _stmt_TryStar = _stmt_Try

    # Binding names and recording mutations.

    def assign(self, target: ast.expr, deps: Deps, value: ast.expr | None, context: Context) -> None:
        if isinstance(target, ast.Name):
            self._bind_name(target.id, deps, value)
            if target.id in self.declared_outer:
                self._mutation(self.declared_outer[target.id], target.id, target, context, False)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self.assign(element, deps, None, context)
        elif isinstance(target, ast.Starred):
            self.assign(target.value, deps, None, context)
        elif isinstance(target, ast.Subscript):
            self.expr(target.value, context)
            self.expr(target.slice, context)
            root = _root_name(target)
            if root is not None:
                self._mutation("item-assign", root, target, context, self._created(root),
                               index=target.slice, value=value)
        elif isinstance(target, ast.Attribute):
            self.expr(target.value, context)
            root = _root_name(target)
            if root is not None and not self._created(root):
                self._mutation("attr-assign", root, target, context, False)

    def _bind_name(self, name: str, deps: Deps, value: ast.expr | None) -> None:
        site_value = self._site_value(value) if value is not None else None
        if site_value is None:
            self.site_values.pop(name, None)
        else:
            self.site_values[name] = site_value
        self.env[name] = deps
        self.array_names.discard(name)
        self.container_names.discard(name)
        self.plate_vars.pop(name, None)
        self.distribution_vars.pop(name, None)
        if isinstance(value, ast.Name) and not self._created(value.id):
            self.created.discard(name)  # an alias of an outer object is not an object we created
            return
        self.created.add(name)
        if value is None:
            return
        kind = self._value_kind(value)
        if kind == "array":
            self.array_names.add(name)
        elif kind == "container":
            self.container_names.add(name)
        if isinstance(value, ast.Call):
            callee = self.imports.qualify(value.func) or ""
            if callee == "numpyro.plate":
                self.plate_vars[name] = (self._plate(value),)
            elif callee == "numpyro.plate_stack":
                self.plate_vars[name] = self._plate_stack(value)
            elif self._distribution_name(value.func) is not None or _chained_distribution(value, self):
                self.distribution_vars[name] = value

    def _created(self, name: str) -> bool:
        return name in self.created and name not in self.declared_outer

    def _value_kind(self, value: ast.expr) -> str:
        if isinstance(value, (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)):
            return "container"
        if isinstance(value, ast.Call):
            callee = self.imports.qualify(value.func) or ""
            if callee in CONTAINER_CALLS:
                return "container"
            if callee.startswith(ARRAY_MODULES) or callee in SITE_PRIMITIVES:
                return "array"
            if isinstance(value.func, ast.Attribute) and value.func.attr in {"set", "add", "multiply", "get"}:
                inner = value.func.value
                if isinstance(inner, ast.Subscript) and isinstance(inner.value, ast.Attribute) and inner.value.attr == "at":
                    return "array"
        if isinstance(value, ast.BinOp):
            kinds = {self._value_kind(value.left), self._value_kind(value.right)}
            return "array" if "array" in kinds else "unknown"
        if isinstance(value, ast.Name) and value.id in self.array_names:
            return "array"
        return "unknown"

    def _mutation(self, kind: str, target: str, node: ast.AST, context: Context, created: bool,
                  index: ast.expr | None = None, value: ast.expr | None = None,
                  operator: str | None = None) -> None:
        module = self.module
        if target in self.array_names:
            target_kind = "array"
        elif target in self.container_names:
            target_kind = "container"
        else:
            target_kind = "unknown"
        self.mutations.append(Mutation(
            kind, target, module.span(node), context, created, target_kind,
            index_text=module.text(module.span(index)) if index is not None else None,
            value_text=module.text(module.span(value)) if value is not None else None,
            operator=operator,
            statement_span=module.span(self.current_statement) if self.current_statement is not None else None,
        ))

    def _note_bound(self, value: ast.expr, name: str) -> None:
        if not isinstance(value, ast.Call):
            return
        span = self.module.span(value)
        if self.sites and self.sites[-1].span == span:
            self.sites[-1] = replace(self.sites[-1], bound_to=name)
        for index in range(len(self.calls) - 1, -1, -1):
            if self.calls[index].span == span:
                self.calls[index] = replace(self.calls[index], bound_to=name)
                break

    # Expressions: each returns the Deps of its value and records what it finds.

    def expr(self, node: ast.expr, context: Context) -> Deps:
        handler = _EXPR_HANDLERS.get(type(node))
        if handler is not None:
            return handler(self, node, context)
        deps = NO_DEPS
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                deps = deps | self.expr(child, context)
            elif isinstance(child, ast.comprehension):
                deps = deps | self._comprehension(child, context)
        return deps

    def _expr_Constant(self, node: ast.Constant, context: Context) -> Deps:
        return NO_DEPS

    def _expr_Name(self, node: ast.Name, context: Context) -> Deps:
        return self.env.get(node.id, NO_DEPS)

    def _expr_Attribute(self, node: ast.Attribute, context: Context) -> Deps:
        deps = self.expr(node.value, context)
        return NO_DEPS if node.attr in SHAPE_ATTRIBUTES else deps

    def _expr_Compare(self, node: ast.Compare, context: Context) -> Deps:
        deps = self.expr(node.left, context)
        for comparator in node.comparators:
            deps = deps | self.expr(comparator, context)
        if any(isinstance(op, (ast.Is, ast.IsNot)) for op in node.ops):
            return NO_DEPS
        return deps

    def _expr_BoolOp(self, node: ast.BoolOp, context: Context) -> Deps:
        deps = NO_DEPS
        for position, value in enumerate(node.values):
            if position < len(node.values) - 1:
                deps = deps | self._branch("boolop", value, context)
            else:
                deps = deps | self.expr(value, context)
        return deps

    def _expr_IfExp(self, node: ast.IfExp, context: Context) -> Deps:
        self._branch("ifexp", node.test, context)
        branch_id = next(self.module.branch_ids)
        body = self.expr(node.body, replace(context, path=context.path + ((branch_id, 0),)))
        orelse = self.expr(node.orelse, replace(context, path=context.path + ((branch_id, 1),)))
        return body | orelse

    def _expr_NamedExpr(self, node: ast.NamedExpr, context: Context) -> Deps:
        deps = self.expr(node.value, context)
        self._bind_name(node.target.id, deps, node.value)
        return deps

    def _expr_Lambda(self, node: ast.Lambda, context: Context) -> Deps:
        for default in [*node.args.defaults, *node.args.kw_defaults]:
            if default is not None:
                self.expr(default, context)
        child = _FunctionBuilder(self.module, "<lambda>", _lambda_qualname(self.module.span(node)), "lambda",
                                 parent=self._function_qualname())
        child.span = child.name_span = self.module.span(node)
        child.walk_function(node)
        self.module.functions.append(child.result())
        self.module.function_nodes.append(node)
        return NO_DEPS

    def _expr_ListComp(self, node, context: Context) -> Deps:
        targets = frozenset(name for generator in node.generators for name in _target_names(generator.target))
        loop = Loop("comprehension", self.module.span(node), targets, _literal_strings(node.generators[0].iter),
                    _trip_count(node.generators[0].iter) if len(node.generators) == 1 else None)
        self.loops.append(loop)
        deps = NO_DEPS
        for generator in node.generators:
            deps = deps | self._comprehension(generator, context)
        inner = replace(context, loops=context.loops + (loop,))
        if isinstance(node, ast.DictComp):
            return deps | self.expr(node.key, inner) | self.expr(node.value, inner)
        return deps | self.expr(node.elt, inner)

    _expr_SetComp = _expr_GeneratorExp = _expr_DictComp = _expr_ListComp

    def _comprehension(self, generator: ast.comprehension, context: Context) -> Deps:
        deps = self.expr(generator.iter, context)
        self.assign(generator.target, deps, None, context)
        for condition in generator.ifs:
            self._branch("comprehension-if", condition, context)
        return deps

    def _expr_Call(self, node: ast.Call, context: Context) -> Deps:
        callee = self.imports.qualify(node.func)
        if callee in SITE_PRIMITIVES:
            return self._site(node, SITE_PRIMITIVES[callee], context)
        receiver = method = None
        if isinstance(node.func, ast.Attribute):
            func_deps = self.expr(node.func.value, context)
            method = node.func.attr
            receiver = _root_name(node.func.value) if not isinstance(node.func.value, ast.Call) else None
        elif isinstance(node.func, ast.Name):
            func_deps = NO_DEPS
        else:
            func_deps = self.expr(node.func, context)
        arguments = self._arguments(node, context)
        module = self.module
        self.calls.append(Call(
            callee or "", module.span(node), arguments, context, receiver, method,
            callee_span=module.span(node.func), receiver_deps=func_deps, reparam=self._wrapping_reparam(node, callee),
        ))
        if callee in SHAPE_FUNCTIONS:
            return NO_DEPS
        deps = func_deps
        for argument in arguments:
            deps = deps | argument.expr.deps
        return deps

    def _arguments(self, node: ast.Call, context: Context) -> tuple[Argument, ...]:
        arguments = []
        for value in node.args:
            inner = value.value if isinstance(value, ast.Starred) else value
            arguments.append(Argument(None, self.make_expr(inner, context), self._function_ref(inner)))
        for keyword in node.keywords:
            arguments.append(Argument(keyword.arg or "**", self.make_expr(keyword.value, context),
                                      self._function_ref(keyword.value)))
        return tuple(arguments)

    def _wrapping_reparam(self, node: ast.Call, callee: str | None) -> ReparamConfig | None:
        """The config of `reparam(fn, config=...)` or `reparam(config=...)(fn)`, when a function is passed."""
        if not node.args and not any(keyword.arg == "fn" for keyword in node.keywords):
            return None
        if callee is not None:
            return self._reparam_config(node) if _is_reparam_handler(callee) else None
        if isinstance(node.func, ast.Call) and _is_reparam_handler(self.imports.qualify(node.func.func) or ""):
            return self._reparam_config(node.func)
        return None

    def _function_ref(self, node: ast.expr) -> str | None:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
            return node.attr
        if isinstance(node, ast.Lambda):
            return _lambda_qualname(self.module.span(node))
        if isinstance(node, ast.Call) and node.args:
            callee = self.imports.qualify(node.func) or ""
            if callee in ("functools.partial", "partial") or callee.startswith("numpyro.handlers."):
                return self._function_ref(node.args[0])
        return None

    def make_expr(self, node: ast.expr, context: Context) -> Expr:
        """Walk `node` once and describe it for rules."""
        deps = self.expr(node, context)
        span = self.module.span(node)
        value = _numeric_literal(node, self.module.constants)
        return Expr(self.module.text(span), span, deps, value, self._shape(node, value),
                    node.id if isinstance(node, ast.Name) else None, self._site_value(node))

    def _site_value(self, node: ast.expr) -> int | None:
        """The site whose value `node` is, up to indexing and shifts/scales by numeric literals."""
        while True:
            if isinstance(node, ast.Subscript):
                node = node.value
            elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
                node = node.operand
            elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
                if _numeric_literal(node.right, self.module.constants) is not None:
                    node = node.left
                elif _numeric_literal(node.left, self.module.constants) is not None:
                    node = node.right
                else:
                    return None
            else:
                break
        if isinstance(node, ast.Name):
            return self.site_values.get(node.id)
        if isinstance(node, ast.Call) and self.sites and self.sites[-1].span == self.module.span(node):
            return len(self.sites) - 1
        return None

    def _shape(self, node: ast.expr, value: float | None) -> str:
        if isinstance(node, ast.Constant) and node.value is None:
            return "none"
        if value is not None:
            return "scalar"
        if isinstance(node, (ast.List, ast.Tuple)):
            return "array"
        if isinstance(node, ast.Subscript) and (isinstance(node.slice, ast.Slice) or (
            isinstance(node.slice, ast.Tuple) and any(isinstance(e, ast.Slice) for e in node.slice.elts)
        )):
            return "array"
        if self._value_kind(node) == "array":
            return "array"
        return "unknown"

    # NumPyro constructs.

    def _site(self, node: ast.Call, kind: str, context: Context) -> Deps:
        positional = [value for value in node.args if not isinstance(value, ast.Starred)]
        keywords = {keyword.arg: keyword.value for keyword in node.keywords if keyword.arg}
        slot_names = {
            "sample": ("name", "fn", "obs"),
            "deterministic": ("name", "value"),
            "factor": ("name", "log_factor"),
            "param": ("name", "init_value"),
        }[kind]
        slots = dict(zip(slot_names, positional))
        slots.update({key: value for key, value in keywords.items() if key in slot_names})
        name_node = slots.get("name")
        name_expr = self.make_expr(name_node, context) if name_node is not None else Expr("", self.module.span(node))
        distribution = None
        obs = value = None
        deps = NO_DEPS
        if kind == "sample" and "fn" in slots:
            distribution, deps = self._distribution(slots["fn"], context)
        if "obs" in slots:
            obs = self.make_expr(slots["obs"], context)
        for slot in ("value", "log_factor", "init_value"):
            if slot in slots:
                value = self.make_expr(slots[slot], context)
                deps = deps | value.deps
        for key, extra in keywords.items():
            if key not in slot_names:
                self.expr(extra, context)
        literal_name = name_node.value if isinstance(name_node, ast.Constant) and isinstance(name_node.value, str) else None
        name_refs = frozenset(n.id for n in ast.walk(name_node) if isinstance(n, ast.Name)) if name_node else frozenset()
        infer = keywords.get("infer")
        enumerated = infer is not None and any(
            isinstance(n, ast.Constant) and n.value == "enumerate" for n in ast.walk(infer))
        index = len(self.sites)
        self.sites.append(Site(kind, literal_name, name_expr, distribution, obs, context,
                               self.module.span(node), name_refs=name_refs, value=value, enumerated=enumerated))
        if kind == "sample" and obs is not None and obs.shape != "none":
            return obs.deps
        return Deps(sites=frozenset({index})) | (deps if kind == "deterministic" else NO_DEPS)

    def _distribution(self, node: ast.expr, context: Context) -> tuple[Distribution | None, Deps]:
        if isinstance(node, ast.Name) and node.id in self.distribution_vars:
            deps = self.expr(node, context)
            distribution = self._describe_distribution(self.distribution_vars[node.id])
            return distribution, deps | _distribution_deps(distribution)
        chain: list[ChainCall] = []
        base = node
        while (isinstance(base, ast.Call) and isinstance(base.func, ast.Attribute)
               and base.func.attr in CHAIN_METHODS):
            chain.insert(0, ChainCall(base.func.attr, self._arguments(base, context), self.module.span(base)))
            base = base.func.value
        if not isinstance(base, ast.Call):
            return None, self.expr(base, context)
        name = self._distribution_name(base.func)
        callee_deps = self.expr(base.func, context) if not isinstance(base.func, ast.Name) else NO_DEPS
        arguments = self._arguments(base, context)
        names = distributions.name_params(name, sum(1 for a in arguments if a.keyword is None))
        params = []
        positional = iter(names)
        for argument in arguments:
            params.append((argument.keyword or next(positional), argument.expr))
        distribution = Distribution(name, self.module.text(self.module.span(base.func)), tuple(params),
                                    tuple(chain), self.module.span(node))
        return distribution, callee_deps | _distribution_deps(distribution)

    def _describe_distribution(self, node: ast.Call) -> Distribution | None:
        """Describe a distribution bound earlier to a name (its args were walked at that assignment)."""
        saved = (self.calls[:], self.branches[:], self.sites[:], self.loops[:], self.mutations[:])
        distribution, _ = self._distribution(node, Context())
        self.calls, self.branches, self.sites, self.loops, self.mutations = (list(x) for x in saved)
        return distribution

    def _distribution_name(self, func: ast.expr) -> str | None:
        callee = self.imports.qualify(func) or ""
        prefix = "numpyro.distributions."
        if callee.startswith(prefix):
            name = callee.rsplit(".", 1)[-1]
            return name if name[:1].isupper() else None
        return None

    def _plate(self, node: ast.Call) -> Plate:
        slots = dict(zip(("name", "size", "subsample_size", "dim"), node.args))
        slots.update({k.arg: k.value for k in node.keywords if k.arg})
        name = slots.get("name")
        literal = name.value if isinstance(name, ast.Constant) and isinstance(name.value, str) else None
        size, subsample, dim = slots.get("size"), slots.get("subsample_size"), slots.get("dim")
        text = self.module.text
        span = self.module.span
        return Plate(literal, text(span(size)) if size is not None else None, span(node),
                     text(span(subsample)) if subsample is not None else None,
                     text(span(dim)) if dim is not None else None)

    def _unknown_plate(self, node: ast.expr) -> Plate:
        """A plate made elsewhere (a parameter, an attribute, a helper's result): its size is unknown."""
        return Plate(None, None, self.module.span(node))

    def _plate_stack(self, node: ast.Call) -> tuple[Plate, ...]:
        slots = dict(zip(("prefix", "sizes"), node.args))
        slots.update({k.arg: k.value for k in node.keywords if k.arg})
        prefix = slots.get("prefix")
        prefix_text = prefix.value if isinstance(prefix, ast.Constant) and isinstance(prefix.value, str) else None
        sizes = slots.get("sizes")
        span = self.module.span(node)
        if isinstance(sizes, (ast.List, ast.Tuple)):
            return tuple(
                Plate(f"{prefix_text}_{i}" if prefix_text else None, self.module.text(self.module.span(size)), span)
                for i, size in enumerate(sizes.elts)
            )
        return (Plate(prefix_text, None, span),)

    def _reparam_config(self, node: ast.Call) -> ReparamConfig:
        config = next((k.value for k in node.keywords if k.arg == "config"), None)
        if config is None and len(node.args) >= 2:
            config = node.args[1]
        elif config is None and len(node.args) == 1 and isinstance(node.args[0], (ast.Dict, ast.Name)):
            config = node.args[0]  # reparam(config) used as a decorator factory is not valid; tolerate it
        if isinstance(config, ast.Name) and config.id in self.module.module_dicts:
            config = self.module.module_dicts[config.id]
        covered = None
        if isinstance(config, ast.Dict) and all(
            isinstance(key, ast.Constant) and isinstance(key.value, str) for key in config.keys
        ):
            covered = frozenset(key.value for key in config.keys)  # type: ignore[union-attr]
        return ReparamConfig(covered, self.module.span(node))

    def _branch(self, kind: str, test: ast.expr, context: Context) -> Deps:
        expression = self.make_expr(test, context)
        self.branches.append(Branch(kind, expression, context))
        return expression.deps

    @property
    def _last_if_id(self) -> int:
        return self.__dict__.get("_last_if", -1)

    @_last_if_id.setter
    def _last_if_id(self, value: int) -> None:
        self.__dict__["_last_if"] = value


def _handlers(prefix: str) -> dict[type, Callable]:
    """`_FunctionBuilder`'s `<prefix><NodeType>` methods by node type (dispatch without a getattr)."""
    return {getattr(ast, name[len(prefix):]): method for name, method in vars(_FunctionBuilder).items()
            if name.startswith(prefix) and hasattr(ast, name[len(prefix):])}


_EXPR_HANDLERS = _handlers("_expr_")
_STMT_HANDLERS = _handlers("_stmt_")


def _distribution_deps(distribution: Distribution | None) -> Deps:
    if distribution is None:
        return NO_DEPS
    deps = NO_DEPS
    for _, expression in distribution.params:
        deps = deps | expression.deps
    return deps


def _chained_distribution(node: ast.Call, builder: _FunctionBuilder) -> bool:
    base: ast.expr = node
    while isinstance(base, ast.Call) and isinstance(base.func, ast.Attribute) and base.func.attr in CHAIN_METHODS:
        base = base.func.value
    return base is not node and isinstance(base, ast.Call) and builder._distribution_name(base.func) is not None


def _is_reparam_handler(callee: str) -> bool:
    return callee in ("numpyro.handlers.reparam", "numpyro.infer.reparam.reparam") or (
        callee.endswith(".reparam") and callee.startswith(("numpyro.", "handlers."))
    )


def _literal_strings(node: ast.expr) -> tuple[str, ...] | None:
    """The names a loop visits when they are written out: `["a", "b"]`, `[("a", 1.0), ("b", 2.0)]`,
    `{"a": 1}.items()`, `enumerate(["a", "b"])`, `zip(["a", "b"], scales)`."""
    if isinstance(node, ast.Call) and node.args and isinstance(node.func, ast.Name) and node.func.id in (
        "enumerate", "zip", "sorted", "reversed",
    ):
        return _literal_strings(node.args[0])
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not node.args
            and node.func.attr in ("items", "keys")):
        node = node.func.value
    if isinstance(node, ast.Dict):
        keys = node.keys
    elif isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        keys = [element.elts[0] if isinstance(element, ast.Tuple) and element.elts else element
                for element in node.elts]
    else:
        return None
    if keys and all(isinstance(key, ast.Constant) and isinstance(key.value, str) for key in keys):
        return tuple(key.value for key in keys)  # type: ignore[union-attr]
    return None


def _trip_count(node: ast.expr) -> int | None:
    """`range(3)` -> 3, `range(1, 4)` -> 3, `["a", "b"]` -> 2; None when not written out."""
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)) and not any(isinstance(e, ast.Starred) for e in node.elts):
        return len(node.elts)
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range"
            and 1 <= len(node.args) <= 3 and not node.keywords):
        bounds = [_numeric_literal(argument, {}) for argument in node.args]
        if all(bound is not None and bound == int(bound) for bound in bounds):
            return len(range(*(int(bound) for bound in bounds)))  # type: ignore[arg-type]
    return None


def _lambda_qualname(span: Span) -> str:
    return f"<lambda@{span.line}:{span.col}>"


_OPERATORS = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
    ast.Pow: "**", ast.MatMult: "@", ast.BitOr: "|", ast.BitAnd: "&", ast.BitXor: "^",
    ast.LShift: "<<", ast.RShift: ">>",
}
