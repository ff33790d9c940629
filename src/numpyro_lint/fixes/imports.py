"""Adding an import in the file's own style, once."""

from __future__ import annotations

from numpyro_lint.diagnostic import Edit, Span
from numpyro_lint.ir.model import ModuleIR


def local_name_for(module: ModuleIR, qualname: str) -> str | None:
    """How the file already refers to `qualname` (`jax.debug.print` -> `jax.debug.print`, or `debug.print`
    after `from jax import debug`), or None when nothing imported covers it."""
    best = None
    for local, imported in module.imports:
        if qualname == imported:
            return local
        if qualname.startswith(imported + "."):
            candidate = local + qualname[len(imported):]
            if best is None or len(candidate) < len(best):
                best = candidate
    return best


def import_edit(module: ModuleIR, statement: str) -> Edit:
    """Insert `statement` after the file's last top-level import (or its docstring / first line)."""
    source = module.source
    last_import_line = 0
    for number, line in enumerate(source.lines, start=1):
        if line.startswith(("import ", "from ")) and not line.startswith("from __future__"):
            last_import_line = _logical_end(source.lines, number)
        elif line.startswith("from __future__"):
            last_import_line = max(last_import_line, _logical_end(source.lines, number))
        elif line and not line.startswith(("#", " ", "\t", '"', "'", "@")) and last_import_line:
            break
    newline = source.newline
    if last_import_line:
        end = len(source.line(last_import_line))
        return Edit(Span(last_import_line, end, last_import_line, end), newline + statement)
    return Edit(Span(1, 0, 1, 0), statement + newline)


def _logical_end(lines: list[str], start: int) -> int:
    """The last line of a statement starting at `start` (parenthesised or backslash-continued imports)."""
    depth = 0
    number = start
    while number <= len(lines):
        line = lines[number - 1]
        depth += line.count("(") - line.count(")")
        if depth <= 0 and not line.rstrip().endswith("\\"):
            return number
        number += 1
    return start
