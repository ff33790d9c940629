"""Output formats for `check` and `smoke`: text (ruff's concise style), json, github, sarif."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

from numpyro_lint import __version__
from numpyro_lint.codes import RULE_NAMES
from numpyro_lint.diagnostic import Diagnostic, Fix, Severity, Span, render_message, rule_url
from numpyro_lint.files import Document

FORMATS = ("text", "json", "github", "sarif")


@dataclass(frozen=True)
class FileReport:
    document: Document
    diagnostics: tuple[Diagnostic, ...]


def _location(document: Document, line: int, col: int) -> dict:
    cell, cell_line = document.cell_position(line)
    location = {"row": cell_line, "column": col + 1}
    if cell is not None:
        location["cell"] = cell
    return location


def _position_text(document: Document, span: Span) -> str:
    cell, line = document.cell_position(span.line)
    prefix = f"cell {cell}:" if cell is not None else ""
    return f"{prefix}{line}:{span.col + 1}"


def _message(document: Document, message: str) -> str:
    return render_message(message, document.cell_position)


def format_text(reports: Sequence[FileReport], errors: Sequence[tuple[str, str]], statistics: bool) -> str:
    lines = []
    for path, message in errors:
        lines.append(f"error: {path}: {message}")
    diagnostics = [(r.document, d) for r in reports for d in r.diagnostics]
    if statistics:
        counts = Counter(d.code for _, d in diagnostics)
        fixable = Counter(d.code for _, d in diagnostics if d.fix is not None)
        for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
            mark = "[*]" if fixable[code] else "[ ]"
            lines.append(f"{count:>5}\t{code}\t{mark} {RULE_NAMES.get(code, '')}")
        return "\n".join(lines) + ("\n" if lines else "")
    for document, diagnostic in diagnostics:
        mark = " [*]" if diagnostic.fix is not None and diagnostic.fix.applicability.value == "safe" else ""
        lines.append(
            f"{document.path}:{_position_text(document, diagnostic.span)}: {diagnostic.code}{mark}"
            f"{' (pedantic)' if diagnostic.pedantic else ''} "
            f"{_message(document, diagnostic.message)}"
        )
    total = len(diagnostics)
    if total:
        safe = sum(1 for _, d in diagnostics if d.fix is not None and d.fix.applicability.value == "safe")
        lines.append(f"Found {total} error{'s' if total != 1 else ''}.")
        if safe:
            lines.append(f"[*] {safe} fixable with the `--fix` option.")
    elif not errors:
        lines.append("All checks passed!")
    return "\n".join(lines) + "\n"


def _fix_json(document: Document, fix: Fix | None) -> dict | None:
    if fix is None:
        return None
    return {
        "applicability": fix.applicability.value,
        "message": fix.title,
        "edits": [
            {
                "content": edit.content,
                "location": _location(document, edit.span.line, edit.span.col),
                "end_location": _location(document, edit.span.end_line, edit.span.end_col),
            }
            for edit in fix.edits
        ],
    }


def diagnostic_json(document: Document, diagnostic: Diagnostic) -> dict:
    cell, _ = document.cell_position(diagnostic.span.line)
    return {
        "code": diagnostic.code,
        "message": _message(document, diagnostic.message),
        "filename": document.path,
        "location": _location(document, diagnostic.span.line, diagnostic.span.col),
        "end_location": _location(document, diagnostic.span.end_line, diagnostic.span.end_col),
        "fix": _fix_json(document, diagnostic.fix),
        "url": diagnostic.url,
        "severity": diagnostic.severity.value,
        "tier": "pedantic" if diagnostic.pedantic else "default",
        "noqa_row": document.cell_position(diagnostic.span.line)[1],
        "cell": cell,
        "related": [
            {"message": _message(document, related.message),
             "location": _location(document, related.span.line, related.span.col),
             "end_location": _location(document, related.span.end_line, related.span.end_col)}
            for related in diagnostic.related
        ],
    }


def format_json(reports: Sequence[FileReport]) -> str:
    items = [diagnostic_json(r.document, d) for r in reports for d in r.diagnostics]
    return json.dumps(items, indent=2, ensure_ascii=False) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def format_github(reports: Sequence[FileReport], errors: Sequence[tuple[str, str]]) -> str:
    lines = []
    for path, message in errors:
        lines.append(f"::error title=numpyro-lint,file={_escape_property(path)}::{_escape_data(message)}")
    for report in reports:
        document = report.document
        for d in report.diagnostics:
            level = "error" if d.severity == Severity.ERROR else "warning" if d.severity == Severity.WARNING else "notice"
            _, line = document.cell_position(d.span.line)
            _, end_line = document.cell_position(d.span.end_line)
            properties = (
                f"title={_escape_property(f'numpyro-lint ({d.code})')},file={_escape_property(document.path)},"
                f"line={line},col={d.span.col + 1},endLine={end_line},endColumn={d.span.end_col + 1}"
            )
            text = f"{document.path}:{_position_text(document, d.span)}: {d.code} {_message(document, d.message)}"
            lines.append(f"::{level} {properties}::{_escape_data(text)}")
    return "\n".join(lines) + ("\n" if lines else "")


_SARIF_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFORMATION: "note", Severity.HINT: "note"}


def format_sarif(reports: Sequence[FileReport], summaries: dict[str, str]) -> str:
    codes = sorted(summaries)
    index = {code: i for i, code in enumerate(codes)}
    rules = [
        {
            "id": code,
            "name": RULE_NAMES.get(code, code),
            "shortDescription": {"text": summaries[code]},
            "helpUri": rule_url(code),
            "properties": {"tags": ["numpyro"]},
        }
        for code in codes
    ]
    results = []
    for report in reports:
        document = report.document
        for d in report.diagnostics:
            _, line = document.cell_position(d.span.line)
            _, end_line = document.cell_position(d.span.end_line)
            result = {
                "ruleId": d.code,
                "level": _SARIF_LEVELS[d.severity],
                "message": {"text": _message(document, d.message)},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": document.path.replace("\\", "/")},
                        "region": {"startLine": line, "startColumn": d.span.col + 1,
                                   "endLine": end_line, "endColumn": d.span.end_col + 1},
                    }
                }],
            }
            if d.code in index:
                result["ruleIndex"] = index[d.code]
            results.append(result)
    sarif = {
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{
            "tool": {"driver": {
                "name": "numpyro-lint", "version": __version__,
                "informationUri": "https://github.com/numpyro-lint/numpyro-lint", "rules": rules,
            }},
            "results": results,
        }],
    }
    return json.dumps(sarif, indent=2, ensure_ascii=False) + "\n"
