"""Our values <-> LSP values: positions in the negotiated encoding, diagnostics that name themselves in
`data`, fixes as workspace edits, code actions, the fix-all edit and hover text.

Pure functions over a `Snapshot`; the handlers in `app.py` only call them. Publishing computes no fix
(LibCST work for every fixable diagnostic at every keystroke would cost more than the analysis): a
diagnostic's `data` names it, in our coordinates and for the version it was found in, so that a code
action finds it again in that version's analysis without re-linting, and its fixes are computed then
(and kept for that version):

    {"version": int, "span": [line, col, end_line, end_col]}

A fix in a code action is a workspace edit whose edits carry the document version they apply to:

    FIX = {"title": ..., "applicability": "safe" | "unsafe", "edits": [EDIT, ...]}
    EDIT = {"uri": ..., "version": int | null, "range": LSP Range, "newText": ...}

`codeDescription.href` points at the rule's page: `docs/rules/NPLxxx.md` of this source checkout as a
file:// URI when it exists (the page matches the running code and opens offline in the editor), else the
page on GitHub (`Diagnostic.url`).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from lsprotocol import types

from numpyro_lint.diagnostic import Diagnostic, Fix, Severity, Span, render_message, rule_url
from numpyro_lint.server.snapshot import Part, Snapshot
from numpyro_lint.source import SourceText

SOURCE = "numpyro-lint"
FIX_ALL_KIND = "source.fixAll.numpyro-lint"

_SEVERITIES = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.INFORMATION: types.DiagnosticSeverity.Information,
    Severity.HINT: types.DiagnosticSeverity.Hint,
}
_DOCS_DIR = Path(__file__).resolve().parents[3] / "docs" / "rules"


# Positions ------------------------------------------------------------------------------------------

def client_column(source: SourceText, line: int, col: int, encoding: str) -> int:
    """A code-point column of 1-based `line` in the client's units (utf-16 unless negotiated)."""
    col = min(col, len(source.line(line)))
    if encoding == types.PositionEncodingKind.Utf8:
        return source.utf8_col(line, col)
    if encoding == types.PositionEncodingKind.Utf32:
        return col
    return source.utf16_col(line, col)


def code_point_column(source: SourceText, line: int, character: int, encoding: str) -> int:
    """The client's `character` on 1-based `line` as a code-point column."""
    if encoding == types.PositionEncodingKind.Utf8:
        return source.col_from_utf8(line, character)
    if encoding == types.PositionEncodingKind.Utf32:
        return min(character, len(source.line(line)))
    return source.col_from_utf16(line, character)


def client_position(snapshot: Snapshot, part: Part, line: int, col: int, encoding: str) -> types.Position:
    """Our (1-based line, code-point column) in `part`'s document, clamped into the part."""
    if line > part.last_line:
        line, col = part.last_line, len(snapshot.source.line(part.last_line))
    elif line < part.first_line:
        line, col = part.first_line, 0
    return types.Position(line - part.first_line, client_column(snapshot.source, line, col, encoding))


def client_range(snapshot: Snapshot, part: Part, span: Span, encoding: str) -> types.Range:
    return types.Range(
        client_position(snapshot, part, span.line, span.col, encoding),
        client_position(snapshot, part, span.end_line, span.end_col, encoding),
    )


def _range_json(range_: types.Range) -> dict[str, Any]:
    return {
        "start": {"line": range_.start.line, "character": range_.start.character},
        "end": {"line": range_.end.line, "character": range_.end.character},
    }


def _range_from_json(data: dict[str, Any]) -> types.Range:
    start, end = data["start"], data["end"]
    return types.Range(types.Position(start["line"], start["character"]),
                       types.Position(end["line"], end["character"]))


# Diagnostics ----------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def rule_href(code: str) -> str:
    page = _DOCS_DIR / f"{code}.md"
    return page.as_uri() if page.is_file() else rule_url(code)


def lsp_diagnostics(snapshot: Snapshot, diagnostics: Iterable[Diagnostic],
                    encoding: str) -> dict[str, list[types.Diagnostic]]:
    """Our diagnostics as LSP diagnostics, grouped by the document (or notebook cell) they belong to."""
    grouped: dict[str, list[types.Diagnostic]] = {part.uri: [] for part in snapshot.parts}
    for diagnostic in diagnostics:
        part = snapshot.part_at(diagnostic.span.line)
        if part is not None:
            grouped[part.uri].append(lsp_diagnostic(snapshot, part, diagnostic, encoding))
    return grouped


def lsp_diagnostic(snapshot: Snapshot, part: Part, diagnostic: Diagnostic, encoding: str) -> types.Diagnostic:
    related = []
    for location in diagnostic.related:
        related_part = snapshot.part_at(location.span.line)
        if related_part is not None:
            related.append(types.DiagnosticRelatedInformation(
                types.Location(related_part.uri, client_range(snapshot, related_part, location.span, encoding)),
                render_message(location.message, snapshot.cell_position),
            ))
    span = diagnostic.span
    return types.Diagnostic(
        range=client_range(snapshot, part, span, encoding),
        message=render_message(diagnostic.message, snapshot.cell_position),
        severity=_SEVERITIES[diagnostic.severity],
        code=diagnostic.code,
        code_description=types.CodeDescription(href=rule_href(diagnostic.code)),
        source=SOURCE,
        related_information=related or None,
        data={"version": snapshot.version, "span": [span.line, span.col, span.end_line, span.end_col]},
    )


def find_diagnostic(diagnostics: Iterable[Diagnostic], code: Any, data: Any,
                    version: int) -> Diagnostic | None:
    """The diagnostic a published one's `code` and `data` name, among those found in `version`."""
    if not isinstance(data, dict) or data.get("version") != version or not isinstance(data.get("span"), list):
        return None
    try:
        span = Span(*data["span"])
    except TypeError:
        return None
    return next((d for d in diagnostics if d.code == code and d.span == span), None)


def fix_payload(snapshot: Snapshot, fix: Fix | None, encoding: str) -> dict[str, Any] | None:
    """A fix as JSON (FIX above), for a code action; None when an edit cannot be placed in one document (in a
    notebook: an edit that crosses cells)."""
    if fix is None:
        return None
    edits = []
    for edit in fix.edits:
        part = snapshot.part_at(edit.span.line)
        if part is None or snapshot.part_at(edit.span.end_line) != part:
            return None
        edits.append({
            "uri": part.uri,
            "version": part.version,
            "range": _range_json(client_range(snapshot, part, edit.span, encoding)),
            "newText": edit.content,
        })
    return {"title": fix.title, "applicability": fix.applicability.value, "edits": edits}


# Code actions ---------------------------------------------------------------------------------------

def workspace_edit(edits: list[dict[str, Any]], document_changes: bool) -> types.WorkspaceEdit:
    """Edits from a fix payload as a WorkspaceEdit. With `document_changes` each document's edits carry
    the version they were computed for, so a client refuses them once the text has moved on."""
    by_document: dict[tuple[str, int | None], list[types.TextEdit]] = {}
    for edit in edits:
        key = (edit["uri"], edit.get("version"))
        by_document.setdefault(key, []).append(types.TextEdit(_range_from_json(edit["range"]), edit["newText"]))
    if document_changes:
        return types.WorkspaceEdit(document_changes=[
            types.TextDocumentEdit(types.OptionalVersionedTextDocumentIdentifier(uri, version), text_edits)
            for (uri, version), text_edits in by_document.items()
        ])
    changes: dict[str, list[types.TextEdit]] = {}
    for (uri, _), text_edits in by_document.items():
        changes.setdefault(uri, []).extend(text_edits)
    return types.WorkspaceEdit(changes=changes)


def kind_requested(kind: str, only: list[str] | None) -> bool:
    """Whether a code action of `kind` answers a request limited to `only` (kinds are hierarchical)."""
    return not only or any(kind == wanted or kind.startswith(f"{wanted}.") for wanted in only)


def quick_fix_actions(diagnostic: types.Diagnostic, fixed: Diagnostic, snapshot: Snapshot, encoding: str,
                      document_changes: bool) -> list[types.CodeAction]:
    """The fixes `fixed` offers (its fix, alternatives, "disable for this line" last) as code actions for
    the published `diagnostic`."""
    actions = []
    payloads = [fix_payload(snapshot, fix, encoding) for fix in (fixed.fix, *fixed.alternatives)]
    for index, payload in enumerate(payloads):
        if not payload or not payload.get("edits"):
            continue
        unsafe = payload.get("applicability") == "unsafe"
        actions.append(types.CodeAction(
            title=f"{SOURCE} ({diagnostic.code}): {payload['title']}" + (" (unsafe fix)" if unsafe else ""),
            kind=types.CodeActionKind.QuickFix,
            diagnostics=[diagnostic],
            is_preferred=index == 0 and not unsafe,
            edit=workspace_edit(payload["edits"], document_changes),
        ))
    return actions


def fix_all_edits(snapshot: Snapshot, fixed_text: str, encoding: str) -> list[dict[str, Any]]:
    """The change from the snapshot's text to `fixed_text` as one minimal replacement, in the fix
    payload's edit form; empty when nothing changes. Plain documents only."""
    text = snapshot.text
    if snapshot.is_notebook or fixed_text == text:
        return []
    start, old_end, new_end = _changed_region(text, fixed_text)
    part = snapshot.parts[0]
    span = Span(*snapshot.source.position(start), *snapshot.source.position(old_end))
    return [{
        "uri": part.uri,
        "version": part.version,
        "range": _range_json(client_range(snapshot, part, span, encoding)),
        "newText": fixed_text[start:new_end],
    }]


def _changed_region(old: str, new: str) -> tuple[int, int, int]:
    """(start, end in old, end in new) of the smallest region outside which `old` and `new` agree,
    never splitting a \\r\\n pair."""
    limit = min(len(old), len(new))
    start = 0
    while start < limit and old[start] == new[start]:
        start += 1
    if start and old[start - 1] == "\r":
        start -= 1
    suffix = 0
    while suffix < limit - start and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    old_end, new_end = len(old) - suffix, len(new) - suffix
    if old_end < len(old) and old_end and old[old_end - 1] == "\r" and old[old_end] == "\n":
        old_end, new_end = old_end + 1, new_end + 1
    return start, old_end, new_end


# Hover ----------------------------------------------------------------------------------------------

# The codes listed in a noqa comment (the form ir.builder recognises), each with its columns.
_NOQA_RE = re.compile(r"#\s*noqa:\s*([A-Za-z]+[0-9]+(?:\s*,\s*[A-Za-z]+[0-9]+)*)", re.I)
_CODE_RE = re.compile(r"[A-Za-z]+[0-9]+")


def noqa_code_at(line: str, col: int) -> tuple[str, int, int] | None:
    """(code, start column, end column) of the `# noqa:` code under code-point column `col`."""
    for comment in _NOQA_RE.finditer(line):
        for code in _CODE_RE.finditer(comment.group(1)):
            start, end = comment.start(1) + code.start(), comment.start(1) + code.end()
            if start <= col <= end:
                return code.group(0).upper(), start, end
    return None


def contains(range_: types.Range, position: types.Position) -> bool:
    start, end = range_.start, range_.end
    after_start = (position.line, position.character) >= (start.line, start.character)
    before_end = (position.line, position.character) <= (end.line, end.character)
    return after_start and before_end


def hover_for(line_text: str, position: types.Position, published: list[types.Diagnostic], encoding: str,
              markdown: bool) -> types.Hover | None:
    """The documentation of the rules whose diagnostics cover `position`, or of the `# noqa` code under
    it; `line_text` is the hovered line of the document as the client has it."""
    from numpyro_lint.rule_docs import rule_markdown

    codes: list[str] = []
    hover_range: types.Range | None = None
    for diagnostic in published:
        if isinstance(diagnostic.code, str) and contains(diagnostic.range, position) and diagnostic.code not in codes:
            codes.append(diagnostic.code)
            hover_range = hover_range or diagnostic.range
    line = SourceText(line_text)
    found = noqa_code_at(line_text, code_point_column(line, 1, position.character, encoding))
    if found is not None and found[0] in _known_codes():
        code, start, end = found
        if code not in codes:
            codes.insert(0, code)
        hover_range = types.Range(types.Position(position.line, client_column(line, 1, start, encoding)),
                                  types.Position(position.line, client_column(line, 1, end, encoding)))
    if not codes:
        return None
    text = "\n\n---\n\n".join(rule_markdown(code).strip() for code in codes)
    kind = types.MarkupKind.Markdown if markdown else types.MarkupKind.PlainText
    return types.Hover(contents=types.MarkupContent(kind=kind, value=text), range=hover_range)


def _known_codes() -> frozenset[str]:
    from numpyro_lint.codes import RULE_NAMES

    return frozenset(RULE_NAMES)
