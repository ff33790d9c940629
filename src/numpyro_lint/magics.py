"""IPython syntax in notebook cells, turned into Python with the same lines (as ruff does).

A magic or shell escape can stand wherever a statement or an assigned value can: `%config ...` indented
inside an `if`, `x = %time f()`, `files = !ls`, `!pip install ...` in a loop, `obj?` and `?obj` help, and
`%%` cell magics. Each becomes `pass` (a statement) or `None` (a value) followed by the original text in
a comment, so the cell parses, every other line and column stays where the editor has it, and nothing is
reported on the magic itself. Cell magics whose body is Python (`%%time`, `%%capture`...) keep the body;
other cell magics (`%%bash`, `%%writefile`...) comment out the whole cell.
"""

from __future__ import annotations

import re

#: Cell magics whose body is Python code that runs in the kernel.
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug", "memit", "mprun", "tensorboard"})
_ASSIGNED_ESCAPE = re.compile(r"^(\s*[\w.\[\]\"', ()*]+?\s*=\s*)([%!].*)$")
_STRING_START = re.compile(r"(?i)(?:[rbuf]{0,2})('''|\"\"\"|'|\")")


def mask_cell(text: str) -> str:
    """The cell's text with IPython syntax replaced by Python; line structure unchanged."""
    if "%" not in text and "!" not in text and "?" not in text:
        return text
    lines = text.split("\n")
    first = next((index for index, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        magic = lines[first].lstrip()[2:].split(maxsplit=1)
        lines[first] = _comment(lines[first], "pass")
        if not magic or magic[0] not in PYTHON_CELL_MAGICS:
            return "\n".join(line if index <= first or not line else "#" + line
                             for index, line in enumerate(lines))
    state = _LineState()
    masked = []
    continued = False
    for line in lines:
        at_statement_start = state.at_statement_start()
        if continued:
            masked.append("#" + line if line else line)
            continued = line.endswith("\\")
            continue
        if at_statement_start:
            replaced = _mask_statement(line, state)
            if replaced is not None:
                masked.append(replaced)
                continued = line.endswith("\\")
                continue
        state.feed(line)
        masked.append(line)
    return "\n".join(masked)


def _mask_statement(line: str, state: _LineState) -> str | None:
    stripped = line.lstrip()
    if not stripped or stripped.startswith("#"):
        return None
    if stripped.startswith(("%", "!", "?")):
        return _comment(line, "pass")
    assigned = _ASSIGNED_ESCAPE.match(line)
    if assigned and not assigned.group(1).rstrip().endswith(("==", "!=", "<=", ">=")) \
            and not assigned.group(2).startswith("!="):
        return f"{assigned.group(1)}None  #{assigned.group(2)}"
    if "?" in line and _code_ends_with_question_mark(line):
        return _comment(line, "pass")
    return None


def _comment(line: str, statement: str) -> str:
    stripped = line.lstrip()
    return f"{line[:len(line) - len(stripped)]}{statement}  #{stripped}"


def _code_ends_with_question_mark(line: str) -> bool:
    """`obj?`, `obj??`, `np.exp?`: a `?` outside strings and comments ends the code."""
    probe = _LineState()
    code = probe.code_of(line)
    return code.rstrip().endswith("?")


def _closing_quote(line: str, quote: str, start: int) -> int:
    """Index of the unescaped `quote` closing a string at or after `start`, or -1."""
    index = start
    while index < len(line):
        if line[index] == "\\":
            index += 2
            continue
        if line.startswith(quote, index):
            return index
        index += 1
    return -1


class _LineState:
    """Just enough of Python's tokenizer to know whether a line starts a new statement: open brackets
    and triple-quoted strings carry over lines; comments and one-line strings do not."""

    def __init__(self) -> None:
        self.depth = 0
        self.open_string: str | None = None

    def at_statement_start(self) -> bool:
        return self.depth == 0 and self.open_string is None

    def feed(self, line: str) -> None:
        self.code_of(line)

    def code_of(self, line: str) -> str:
        """The line's code outside strings and comments (strings become empty quotes); updates the state."""
        code = []
        index = 0
        while index < len(line):
            if self.open_string is not None:
                end = _closing_quote(line, self.open_string, index)
                if end < 0:
                    return "".join(code)
                index = end + len(self.open_string)
                self.open_string = None
                code.append('""')
                continue
            char = line[index]
            if char == "#":
                break
            match = _STRING_START.match(line, index) if char in "'\"rRbBuUfF" else None
            if match and (index == 0 or not (line[index - 1].isalnum() or line[index - 1] == "_")):
                quote = match.group(1)
                index = match.end()
                if len(quote) == 3:
                    self.open_string = quote
                    continue
                end = _closing_quote(line, quote, index)
                code.append('""')
                if end < 0:  # an unclosed one-line string ends with the line
                    break
                index = end + 1
                continue
            if char in "([{":
                self.depth += 1
            elif char in ")]}":
                self.depth = max(self.depth - 1, 0)
            code.append(char)
            index += 1
        return "".join(code)
