"""The one diagnostic type that static rules, fixes and the smoke runner all produce."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

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
