"""The one diagnostic type that static rules, fixes and the smoke runner all produce."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Callable

DOCS_BASE_URL = "https://github.com/numpyro-lint/numpyro-lint/blob/main/docs/rules"


@dataclass(frozen=True, order=True)
class Span:
    """A source range: 1-based lines, 0-based columns in code points (as Python strings index)."""

    line: int
    col: int
    end_line: int
    end_col: int


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFORMATION = "information"
    HINT = "hint"


class Applicability(str, Enum):
    SAFE = "safe"
    UNSAFE = "unsafe"


@dataclass(frozen=True)
class Edit:
    """Replace the text in `span` with `content` (an insertion when the span is empty)."""

    span: Span
    content: str


@dataclass(frozen=True)
class Fix:
    title: str
    applicability: Applicability
    edits: tuple[Edit, ...]


@dataclass(frozen=True)
class RelatedLocation:
    span: Span
    message: str


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    span: Span
    severity: Severity = Severity.WARNING
    fix: Fix | None = None
    related: tuple[RelatedLocation, ...] = field(default=())
    #: "disable for this line" and other secondary fixes; the primary fix is `fix`.
    alternatives: tuple[Fix, ...] = field(default=())
    #: In the opt-in pedantic tier (true but usually harmless); shown only when `pedantic` is selected.
    pedantic: bool = False

    @property
    def url(self) -> str:
        return rule_url(self.code)


def rule_url(code: str) -> str:
    return f"{DOCS_BASE_URL}/{code}.md"


# A message that names another place in the file writes `line_reference(n)`; whoever shows the message
# renders it as positions are shown there (`render_message`): "line 12" in a file, "cell 3, line 4" in a
# notebook, where `n` (a line of the joined code cells) would mean nothing to the user.
_LINE_REFERENCE = re.compile(r"line \u27e8(\d+)\u27e9")


def line_reference(line: int) -> str:
    """Line `line` of the analysed text, inside a message; see `render_message`."""
    return f"line \u27e8{line}\u27e9"


def line_label(cell: int | None, line: int) -> str:
    """A line as messages name it: "line 4", or "cell 3, line 4" in a notebook (code cells counted)."""
    return f"cell {cell}, line {line}" if cell is not None else f"line {line}"


def render_message(message: str, position: Callable[[int], tuple[int | None, int]]) -> str:
    """`message` with its line references written out; `position` maps a line of the analysed text to
    (code cell number or None, line within the cell)."""
    return _LINE_REFERENCE.sub(lambda match: line_label(*position(int(match.group(1)))), message)
