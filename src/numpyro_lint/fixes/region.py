"""The code a fix rewrites, parsed with LibCST: the enclosing `def` (or top-level statement, or one
expression), never the whole file, with node positions in the file's coordinates; and the
statement-level edits fixes share (insert a line before a statement, wrap one in a `with`)."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterator, Mapping

from numpyro_lint.diagnostic import Edit, Span
from numpyro_lint.ir.model import ModuleIR
from numpyro_lint.source import SourceText

#: Prepended to an indented `def` so that it parses on its own; columns stay those of the file.
_NESTING = "if True:\n"


@dataclass(frozen=True)
class Region:
    """A parsed piece of the file. Text line 1 is file line `first_line`, shifted by `first_col` on
    that line only (snippets that start mid-line); `skipped` lines were prepended to make it parse."""

    source: SourceText
    first_line: int
    first_col: int
    skipped: int
    tree: Any  # libcst.Module
    positions: Mapping[Any, Any]
    parents: Mapping[Any, Any]

    def span(self, node: Any) -> Span:
        code_range = self.positions[node]
        return Span(*self._point(code_range.start), *self._point(code_range.end))

    def _point(self, position: Any) -> tuple[int, int]:
        line = position.line - self.skipped
        return self.first_line + line - 1, position.column + (self.first_col if line == 1 else 0)

    def nodes(self, kinds: type | tuple[type, ...]) -> Iterator[Any]:
        return (node for node in self.positions if isinstance(node, kinds))

    def node_at(self, span: Span, kinds: type | tuple[type, ...]) -> Any | None:
        """The node of one of `kinds` whose span is exactly `span`."""
        return next((node for node in self.nodes(kinds) if self.span(node) == span), None)

    def innermost(self, span: Span, kinds: type | tuple[type, ...]) -> Any | None:
        """The smallest node of one of `kinds` that contains `span`."""
        best = best_span = None
        for node in self.nodes(kinds):
            node_span = self.span(node)
            if contains(node_span, span) and (best_span is None or contains(best_span, node_span)):
                best, best_span = node, node_span
        return best

    def statement(self, span: Span) -> Any | None:
        """The innermost statement (simple line or compound) that contains `span`."""
        import libcst as cst

        return self.innermost(span, (cst.SimpleStatementLine, cst.BaseCompoundStatement))

    def owner(self, statement: Any) -> Any | None:
        """The compound statement whose indented block holds `statement` (None at module level)."""
        import libcst as cst

        block = self.parents.get(statement)
        owner = self.parents.get(block) if isinstance(block, cst.IndentedBlock) else None
        if owner is None or self.positions[owner].start.line <= self.skipped:
            return None  # module level, or the `if True:` added to make an indented `def` parse
        return owner

    def indent_unit(self, statement: Any) -> str:
        """The extra indentation of `statement` over its owner's header, else four spaces."""
        own = indentation(self.source, self.span(statement).line)
        owner = self.owner(statement)
        if owner is not None:
            outer = indentation(self.source, self.span(owner).line)
            if own.startswith(outer) and len(own) > len(outer):
                return own[len(outer):]
        return "    "

    def lines_inside_strings(self, span: Span) -> set[int]:
        """File lines within `span` that begin inside a multi-line string (their text is not code)."""
        import libcst as cst

        inside: set[int] = set()
        for node in self.nodes((cst.SimpleString, cst.FormattedString)):
            node_span = self.span(node)
            if node_span.end_line > node_span.line and contains(span, node_span):
                inside.update(range(node_span.line + 1, node_span.end_line + 1))
        return inside


def indentation(source: SourceText, line: int) -> str:
    text = source.line(line)
    return text[:len(text) - len(text.lstrip(" \t"))]


def parse_snippet(source: SourceText, span: Span) -> Region | None:
    """One expression or statement of the file, parsed on its own (a decorator's call, a config dict)."""
    return _parse(source, source.text[source.offset(span.line, span.col):source.offset(span.end_line, span.end_col)],
                  span.line, span.col, 0)


def parse_lines(source: SourceText, first: int, last: int) -> Region | None:
    """Whole lines `first`..`last` (a statement of the file), indented or not."""
    text = source.newline.join(source.lines[first - 1:last])
    if indentation(source, first):
        return _parse(source, _NESTING + text, first, 0, 1)
    return _parse(source, text, first, 0, 0)


def enclosing_region(module: ModuleIR, span: Span) -> Region | None:
    """The innermost `def` of the file that contains `span`, else the top-level statement that does."""
    best = None
    for function in module.functions:
        if function.kind in ("function", "method") and contains(function.span, span):
            if best is None or contains(best.span, function.span):
                best = function
    if best is not None:
        return parse_lines(module.source, best.span.line, best.span.end_line)
    lines = _top_level_statement(module.source.text, span.line)
    return parse_lines(module.source, *lines) if lines else None


@lru_cache(maxsize=4)
def _top_level_statement(text: str, line: int) -> tuple[int, int] | None:
    return next(((first, last) for first, last in _top_level_statements(text) if first <= line <= last), None)


@lru_cache(maxsize=4)
def _top_level_statements(text: str) -> tuple[tuple[int, int], ...]:
    """(first line, last line) of each top-level statement, decorators included."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ()
    return tuple(
        (min([statement.lineno, *(d.lineno for d in getattr(statement, "decorator_list", ()))]),
         statement.end_lineno or statement.lineno)
        for statement in tree.body
    )


def _parse(source: SourceText, text: str, first_line: int, first_col: int, skipped: int) -> Region | None:
    parsed = _parse_text(text)
    if parsed is None:
        return None
    return Region(source, first_line, first_col, skipped, *parsed)


@lru_cache(maxsize=16)
def _parse_text(text: str) -> tuple[Any, Mapping[Any, Any], Mapping[Any, Any]] | None:
    """Tree, positions and parents of `text`; cached, as every fix for one function parses that function."""
    import libcst as cst
    from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider

    try:
        tree = cst.parse_module(text)
    except (cst.ParserSyntaxError, RecursionError):
        return None
    wrapper = MetadataWrapper(tree, unsafe_skip_copy=True)
    return tree, wrapper.resolve(PositionProvider), wrapper.resolve(ParentNodeProvider)


def contains(outer: Span, inner: Span) -> bool:
    """Whether `inner` lies within `outer` (ends included)."""
    return (outer.line, outer.col) <= (inner.line, inner.col) and (inner.end_line, inner.end_col) <= (
        outer.end_line, outer.end_col)


# Statement-level edits -------------------------------------------------------------------------------

def simple_statement(region: Region, span: Span) -> Any | None:
    """The statement line holding `span`, when it is a line of its own in a block (not `if c: x = 1`)."""
    import libcst as cst

    statement = region.statement(span)
    return statement if isinstance(statement, cst.SimpleStatementLine) else None


def insert_line_before(region: Region, statement: Any, text: str) -> Edit:
    """A new line `text` just above `statement`, at its indentation."""
    line = region.span(statement).line
    return Edit(Span(line, 0, line, 0), indentation(region.source, line) + text + region.source.newline)


def wrap_in_with(region: Region, statement: Any, items: str) -> Edit:
    """`statement` (whole lines) moved one level in, under `with <items>:`."""
    source = region.source
    span = region.span(statement)
    indent = indentation(source, span.line)
    unit = region.indent_unit(statement)
    verbatim = region.lines_inside_strings(span)
    lines = [f"{indent}with {items}:"]
    for number in range(span.line, span.end_line + 1):
        text = source.line(number)
        lines.append(text if number in verbatim or not text.strip() else unit + text)
    end = len(source.line(span.end_line))
    return Edit(Span(span.line, 0, span.end_line, end), source.newline.join(lines))
