"""Telling "this file needs a newer Python" from "this file has a syntax error".

`ast` parses the grammar of the Python running the linter: on 3.11, `def f[T](x: T)` (3.12) fails with
"expected '('", which reads as a bug in the user's code. When parsing fails, the construct a newer Python
added is looked for on the failing line; it counts only when rewriting it into this Python's grammar
makes the error go away from that line, so a real syntax error is never blamed on the Python version.
"""

from __future__ import annotations

import ast
import re
import sys
import warnings
from typing import Callable

RUNNING = f"{sys.version_info.major}.{sys.version_info.minor}"

_DEF_OR_CLASS = re.compile(r"^(\s*(?:async\s+)?(?:def|class)\s+\w+)\s*\[")
_TYPE_ALIAS = re.compile(r"^(\s*)type\s+(\w+)\s*(?=[\[=])")
_EXCEPT_TUPLE = re.compile(r"^(\s*except\*?\s+)([^():#]+,[^():#]+)(\s*):")


def newer_python_for(text: str, error: SyntaxError) -> tuple[str, str] | None:
    """(Python version, what) when `text` failed to parse only because it uses syntax of that newer
    Python; None for a real syntax error."""
    lineno = error.lineno or 0
    lines = text.split("\n")
    if not 1 <= lineno <= len(lines):
        return None
    for version, what, rewrite in _REWRITES:
        if sys.version_info >= tuple(int(part) for part in version.split(".")):
            continue
        rewritten = rewrite(lines[lineno - 1], error)
        if rewritten is not None and _parses_past(lines, lineno, rewritten):
            return version, what
    return None


def _parses_past(lines: list[str], lineno: int, rewritten: str) -> bool:
    candidate = "\n".join([*lines[:lineno - 1], rewritten, *lines[lineno:]])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(candidate)
    except SyntaxError as error:
        return (error.lineno or 0) > lineno
    except (ValueError, RecursionError, MemoryError):
        return False
    return True


def _matching_bracket(line: str, start: int) -> int | None:
    depth = 0
    for index in range(start, len(line)):
        if line[index] in "([{":
            depth += 1
        elif line[index] in ")]}":
            depth -= 1
            if depth == 0:
                return index
    return None


def _drop_type_parameters(line: str, error: SyntaxError) -> str | None:
    match = _DEF_OR_CLASS.match(line)
    if match is None:
        return None
    end = _matching_bracket(line, match.end() - 1)
    return None if end is None else match.group(1) + line[end + 1:]


def _drop_type_parameters_with_defaults(line: str, error: SyntaxError) -> str | None:
    """`def f[T = int]()`: a default for a type parameter is Python 3.13 (PEP 696)."""
    match = _DEF_OR_CLASS.match(line) or _TYPE_ALIAS.match(line)
    if match is None:
        return None
    start = line.find("[", match.end() - 1)
    end = _matching_bracket(line, start) if start >= 0 else None
    if end is None or "=" not in line[start:end]:
        return None
    return _drop_type_parameters(line, error) or _type_alias_to_assignment(line, error)


def _type_alias_to_assignment(line: str, error: SyntaxError) -> str | None:
    match = _TYPE_ALIAS.match(line)
    if match is None:
        return None
    rest = line[match.end():]
    if rest.startswith("["):
        end = _matching_bracket(rest, 0)
        if end is None:
            return None
        rest = rest[end + 1:]
    return f"{match.group(1)}{match.group(2)} {rest.lstrip()}" if rest.lstrip().startswith("=") else None


def _except_without_parentheses(line: str, error: SyntaxError) -> str | None:
    match = _EXCEPT_TUPLE.match(line)
    if match is None or " as " in match.group(2):
        return None
    return f"{match.group(1)}({match.group(2)}){match.group(3)}:{line[match.end():]}"


def _flatten_fstring_expressions(line: str, error: SyntaxError) -> str | None:
    """PEP 701: inside an f-string's braces, 3.12 allows its own quote, backslashes and comments.
    Replace what is inside each replacement field by a name of the same length."""
    out, index, changed = [], 0, False
    for match in re.finditer(r"(?i)(?<![\w])(?:rf|fr|f)('''|\"\"\"|'|\")", line):
        if match.start() < index:
            continue
        quote, start = match.group(1), match.end()
        position, depth, field_start = start, 0, -1
        while position < len(line):
            char = line[position]
            if depth == 0 and line.startswith(quote, position):
                break
            if char == "{":
                if depth == 0 and line.startswith("{{", position):
                    position += 2
                    continue
                if depth == 0:
                    field_start = position + 1
                depth += 1
            elif char == "}" and depth:
                depth -= 1
                if depth == 0:
                    out.append(line[index:field_start] + "_" * (position - field_start))
                    index, changed = position, True
            position += 1
    if not changed:
        return None
    return "".join(out) + line[index:]


_REWRITES: tuple[tuple[str, str, Callable[[str, SyntaxError], str | None]], ...] = (
    ("3.13", "type parameter defaults, PEP 696", _drop_type_parameters_with_defaults),
    ("3.12", "type parameters, PEP 695", _drop_type_parameters),
    ("3.12", "a `type` alias statement, PEP 695", _type_alias_to_assignment),
    ("3.12", "f-string syntax of PEP 701", _flatten_fstring_expressions),
    ("3.14", "`except` without parentheses, PEP 758", _except_without_parentheses),
)
