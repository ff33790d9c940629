"""Smoke findings -> diagnostics on the current text's lines. Server/CLI side: IR only.

A finding names a site (placed on that site's `numpyro.sample(...)` call, looked up by literal name
in the model function, then in the functions it calls, then anywhere in the file), or a line of a
traceback (placed on that line, or on the line with the same text nearest to it when an edit moved
it), or neither (placed on the model's name in its `def`).
"""

from __future__ import annotations

import io
import tokenize
from dataclasses import replace

from numpyro_lint.diagnostic import Diagnostic, RelatedLocation, Severity, Span
from numpyro_lint.ir.model import FunctionIR, ModuleIR
from numpyro_lint.runner.protocol import Finding


def place(finding: Finding, module: ModuleIR, static: tuple[Diagnostic, ...] = ()) -> Diagnostic:
    function = module.function(finding.model) if finding.model else None
    span = _span(finding, module, function)
    related = tuple(
        RelatedLocation(s, item.message) for item in finding.related
        if (s := _site_span(item.site, module, function) if item.site else _line_span(module, item.line, None))
    )
    severity = Severity(finding.severity)
    if finding.code == "NPL501":
        return _measured_advice(finding, span, related, static)
    return Diagnostic(finding.code, finding.message, span, severity, related=related)


def _measured_advice(finding: Finding, span: Span, related, static: tuple[Diagnostic, ...]) -> Diagnostic:
    """NPL501 with the measurement added: the static diagnostic on the same site, message extended,
    fix kept, so the server can replace the static one (same span) with it."""
    for diagnostic in static:
        if diagnostic.code == "NPL501" and diagnostic.span == span:
            return replace(diagnostic, message=f"{diagnostic.message} {finding.message}")
    return Diagnostic("NPL501", finding.message, span, Severity.WARNING, related=related)


def _span(finding: Finding, module: ModuleIR, function: FunctionIR | None) -> Span:
    if finding.site:
        span = _site_span(finding.site, module, function)
        if span is not None:
            return span
    if finding.line:
        span = _line_span(module, finding.line, finding.line_text)
        if span is not None:
            return span
    if function is not None:
        return function.name_span
    return Span(1, 0, 1, 0)


def _site_span(name: str | None, module: ModuleIR, function: FunctionIR | None) -> Span | None:
    if function is not None:
        site = function.site_named(name)
        if site is not None:
            return site.span
        callees = {call.callee.rsplit(".", 1)[-1] for call in function.calls}
        for other in module.functions:
            if other.name in callees and (site := other.site_named(name)) is not None:
                return site.span
    for other in module.functions:
        site = other.site_named(name)
        if site is not None:
            return site.span
    return None


def _line_span(module: ModuleIR, line: int | None, text: str | None) -> Span | None:
    """The stripped text of `line`; when its code is no longer `text`'s, the nearest line whose is."""
    lines = module.source.lines
    if not line:
        return None
    if text is not None:
        code = _code(text)
        if not (1 <= line <= len(lines) and _code(lines[line - 1]) == code):
            matches = [i + 1 for i, content in enumerate(lines) if _code(content) == code]
            if matches:
                line = min(matches, key=lambda candidate: abs(candidate - line))
    if not 1 <= line <= len(lines):
        return None
    content = lines[line - 1]
    start = len(content) - len(content.lstrip())
    return Span(line, start, line, len(content.rstrip()))


def _code(line: str) -> str:
    """A line's tokens without its comment and spacing (the line alone; unbalanced lines as text)."""
    try:
        tokens = tokenize.generate_tokens(io.StringIO(line.strip() + "\n").readline)
        return " ".join(t.string for t in tokens if t.type not in _NOT_CODE)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return line.strip()


_NOT_CODE = frozenset({tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.ENDMARKER,
                       tokenize.INDENT, tokenize.DEDENT})
