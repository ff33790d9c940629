"""The "disable for this line" fix every diagnostic has: add or extend `# noqa: CODE`."""

from __future__ import annotations

import re

from numpyro_lint.diagnostic import Applicability, Diagnostic, Edit, Fix, Span
from numpyro_lint.source import SourceText

_NOQA_CODES_RE = re.compile(r"#\s*noqa:\s*[A-Za-z]+[0-9]+(?:\s*,\s*[A-Za-z]+[0-9]+)*", re.I)


def disable_for_line(diagnostic: Diagnostic, source: SourceText) -> Fix:
    line_number = diagnostic.span.line
    line = source.line(line_number)
    existing = _NOQA_CODES_RE.search(line)
    if existing:
        position = Span(line_number, existing.end(), line_number, existing.end())
        edit = Edit(position, f",{diagnostic.code}")
    else:
        end = len(line.rstrip())
        edit = Edit(Span(line_number, end, line_number, len(line)), f"  # noqa: {diagnostic.code}")
    return Fix(f"Disable {diagnostic.code} for this line", Applicability.SAFE, (edit,))
