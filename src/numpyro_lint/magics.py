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
#: Where IPython syntax can be: a line that starts with `%`, `!` or `?`, a value after `=` that does, or a
#: line ending in `?`. Text with none of these (most code: `%` and `!=` stand elsewhere) passes as it is.
_MAYBE_IPYTHON = re.compile(r"^[ \t]*[%!?]|=[ \t]*[%!]|\?[ \t]*$", re.M)


def mask_cell(text: str) -> str:
    """The cell's text with IPython syntax replaced by Python; line structure unchanged."""
    if not _MAYBE_IPYTHON.search(text):
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
            replaced = _mask_statement(line)
            if replaced is not None:
                masked.append(replaced)
                continued = line.endswith("\\")
                continue
        state.feed(line)
        masked.append(line)
    return "\n".join(masked)


def _mask_statement(line: str) -> str | None:
    """The line as Python when it is IPython syntax at the start of a statement, else None."""
    stripped = line.lstrip()
    if not stripped or stripped[0] == "#":
        return None
    if stripped[0] in "%!?":
        return _comment(line, "pass")
    assigned = _ASSIGNED_ESCAPE.match(line) if "%" in line or "!" in line else None
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


_TOKEN = re.compile(r"""#|'{3}|"{3}|['"()\[\]{}]""")
_ONE_LINE_STRING = re.compile(r"'(?:[^'\\]|\\.)*'" + r'|"(?:[^"\\]|\\.)*"')


def _rest_of_string(quote: str) -> re.Pattern[str]:
    """From just inside a string to just past its closing `quote`, escapes skipped."""
    char = quote[0]
    if len(quote) == 3:
        return re.compile(rf"(?:[^\\{char}]|\\.|{char}(?!{char}{char}))*{quote}", re.S)
    return re.compile(rf"(?:[^\\{char}]|\\.)*{char}")


_REST_OF_STRING = {quote: _rest_of_string(quote) for quote in ("'", '"', "'''", '"""')}


class _LineState:
    """Just enough of Python's tokenizer to know whether a line starts a new statement: open brackets
    and triple-quoted strings carry over lines; comments and one-line strings do not. Scans with
    regular expressions: notebooks are read on every `check`."""

    def __init__(self) -> None:
        self.depth = 0
        self.open_string: str | None = None

    def at_statement_start(self) -> bool:
        return self.depth == 0 and self.open_string is None

    def feed(self, line: str) -> None:
        if self.open_string is None and "'''" not in line and '"""' not in line:
            # Most lines: drop one-line strings and the comment, then count brackets (C speed).
            code = _ONE_LINE_STRING.sub("", line) if "'" in line or '"' in line else line
            if "'" not in code and '"' not in code:
                code = code.split("#", 1)[0]
                opened = code.count("(") + code.count("[") + code.count("{")
                closed = code.count(")") + code.count("]") + code.count("}")
                self.depth = max(self.depth + opened - closed, 0)
                return
        self.code_of(line)

    def code_of(self, line: str) -> str:
        """The line's code outside strings and comments (strings become `""`); updates the state."""
        code: list[str] = []
        index = 0
        while True:
            if self.open_string is not None:
                closed = _REST_OF_STRING[self.open_string].match(line, index)
                if closed is None:
                    return "".join(code)
                index, self.open_string = closed.end(), None
                code.append('""')
            token = _TOKEN.search(line, index)
            if token is None:
                code.append(line[index:])
                return "".join(code)
            code.append(line[index:token.start()])
            text, index = token.group(), token.end()
            if text == "#":
                return "".join(code)
            if text in "([{":
                self.depth += 1
                code.append(text)
            elif text in ")]}":
                self.depth = max(self.depth - 1, 0)
                code.append(text)
            elif len(text) == 3:
                self.open_string = text
            else:
                closed = _REST_OF_STRING[text].match(line, index)
                code.append('""')
                if closed is None:  # an unclosed one-line string ends with the line
                    return "".join(code)
                index = closed.end()
