"""Adding an import in the file's own style, once."""

from __future__ import annotations

import re

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


def import_name(module: ModuleIR, qualname: str, through: str | None = None) -> tuple[str, tuple[Edit, ...]]:
    """How to write `qualname` in this file, and the edits that import it when no import reaches it yet.

    An import reaches it when it imports `qualname` or a module above it no higher than `through`
    (default: the top package; `import numpyro` does not load `numpyro.contrib.control_flow`). Otherwise
    `name` joins a one-line `from <parent> import ...` the file already has, or a new such line is added
    after the imports; under an alias when `name` is already used for something else in the file."""
    parent, _, name = qualname.rpartition(".")
    floor = through or qualname.split(".", 1)[0]
    best = None
    for local, imported in module.imports:
        if imported == qualname:
            return local, ()
        if qualname.startswith(imported + ".") and (imported == floor or imported.startswith(floor + ".")):
            candidate = local + qualname[len(imported):]
            if best is None or len(candidate) < len(best):
                best = candidate
    if best is not None:
        return best, ()
    local = name if _name_is_free(module, name) else f"{parent.split('.', 1)[0]}_{name}"
    imported_as = name if local == name else f"{name} as {local}"
    extended = _extend_from_import(module, parent, imported_as)
    return local, (extended or import_edit(module, f"from {parent} import {imported_as}"),)


def _name_is_free(module: ModuleIR, name: str) -> bool:
    """No import, assignment, parameter or function of the file binds `name`."""
    if any(local == name for local, _ in module.imports):
        return False
    return not any(
        name == function.name or name in function.created_names or any(p.name == name for p in function.params)
        for function in module.functions
    )


def _extend_from_import(module: ModuleIR, parent: str, imported_as: str) -> Edit | None:
    """Add `imported_as` to the file's one-line `from <parent> import a, b` (its names replaced, so that two
    fixes adding different names to one line take turns instead of interleaving)."""
    pattern = re.compile(rf"from[ \t]+{re.escape(parent)}[ \t]+import[ \t]+(?P<names>[\w \t,]+?)[ \t]*(#.*)?$")
    for number, line in enumerate(module.source.lines, start=1):
        match = pattern.match(line)
        if match and not match.group("names").rstrip().endswith(","):
            start, end = match.span("names")
            return Edit(Span(number, start, number, end), f"{match.group('names')}, {imported_as}")
    return None
