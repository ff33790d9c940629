"""Our diagnostics and fixes as LSP values: positions in each encoding (a line with emoji before the
column), the diagnostic named in `data` and found again by it, quick fixes, workspace edits, fix-all,
hover, notebooks."""

from __future__ import annotations

from lsprotocol import types
from server_helpers import MODEL, apply_text_edits, apply_workspace_edit

from numpyro_lint.diagnostic import Applicability, Diagnostic, Edit, Fix, Span
from numpyro_lint.fixes.edits import apply_fixes
from numpyro_lint.linter import DEFAULT_SETTINGS, lint_text
from numpyro_lint.server.documents import (
    _changed_region,
    client_column,
    code_point_column,
    find_diagnostic,
    fix_all_edits,
    fix_payload,
    hover_for,
    kind_requested,
    lsp_diagnostics,
    noqa_code_at,
    quick_fix_actions,
    workspace_edit,
)
from numpyro_lint.fixes.apply import fix_text
from numpyro_lint.server.snapshot import document_snapshot, notebook_snapshot
from numpyro_lint.source import SourceText

URI = "file:///work/model.py"
LINE = 's = "😀😀"; x[0] = 1'  # code points: x at 10; UTF-16: 12; UTF-8: 16


def test_columns_in_each_encoding_and_back():
    source = SourceText(LINE)
    col = LINE.index("x")
    assert [client_column(source, 1, col, enc) for enc in ("utf-32", "utf-16", "utf-8")] == [10, 12, 16]
    for encoding, units in (("utf-32", 10), ("utf-16", 12), ("utf-8", 16)):
        assert code_point_column(source, 1, units, encoding) == col


def test_column_past_the_end_of_the_line_is_clamped():
    assert client_column(SourceText("ab"), 1, 10, "utf-16") == 2


def test_diagnostic_range_and_fix_edits_use_the_client_encoding():
    snapshot = document_snapshot(URI, 3, MODEL, "/work/model.py")
    found = lint_text(MODEL, "/work/model.py", fixes="none").diagnostics
    with_fixes = lint_text(MODEL, "/work/model.py").diagnostics
    for encoding in ("utf-16", "utf-8", "utf-32"):
        published = lsp_diagnostics(snapshot, found, encoding)[URI]
        inplace = next(d for d in published if d.code == "NPL106")
        named = find_diagnostic(found, inplace.code, inplace.data, version=3)
        assert named is not None and named.code == "NPL106"
        fixed_diagnostic = next(d for d in with_fixes if d.code == "NPL106")
        fix, noqa = quick_fix_actions(inplace, fixed_diagnostic, snapshot, encoding, document_changes=True)
        [document_edit] = fix.edit.document_changes
        assert document_edit.text_document.version == 3
        fixed = apply_text_edits(MODEL, document_edit.edits, encoding)
        assert '"😀😀"; x = x.at[0].set(numpyro.sample("x0"' in fixed
        assert fix.is_preferred and not noqa.is_preferred
        assert noqa.title == "numpyro-lint (NPL106): Disable NPL106 for this line"


def test_data_of_an_older_version_names_no_diagnostic():
    snapshot = document_snapshot(URI, 3, MODEL, None)
    found = lint_text(MODEL, fixes="none").diagnostics
    [published, *_] = lsp_diagnostics(snapshot, found, "utf-16")[URI]
    assert "fix" not in published.data  # no fix is computed to publish
    assert find_diagnostic(found, published.code, published.data, version=3) == found[0]
    assert find_diagnostic(found, published.code, published.data, version=4) is None
    assert find_diagnostic(found, "NPL999", published.data, version=3) is None
    assert find_diagnostic(found, published.code, {"version": 3, "span": "garbage"}, version=3) is None


def test_workspace_edit_with_versions_or_plain_changes():
    edits = [{"uri": URI, "version": 4, "range": {"start": {"line": 0, "character": 0},
                                                   "end": {"line": 0, "character": 1}}, "newText": "y"}]
    versioned = workspace_edit(edits, document_changes=True)
    plain = workspace_edit(edits, document_changes=False)
    assert versioned.document_changes[0].text_document == types.OptionalVersionedTextDocumentIdentifier(URI, 4)
    assert plain.changes[URI][0].new_text == "y"
    assert apply_workspace_edit("x = 1\n", URI, versioned, "utf-16") == "y = 1\n"


def test_fix_all_is_one_minimal_edit_with_the_safe_fixes_only():
    snapshot = document_snapshot(URI, 1, MODEL, None)
    diagnostics = lint_text(MODEL).diagnostics
    fixes = [d.fix for d in diagnostics if d.fix]
    expected, _ = apply_fixes(MODEL, [f for f in fixes if f.applicability == Applicability.SAFE])
    [edit] = fix_all_edits(snapshot, fix_text(MODEL, None, DEFAULT_SETTINGS, unsafe=False, fixes="safe").text, "utf-16")
    text_edit = types.TextEdit(types.Range(types.Position(**edit["range"]["start"]),
                                           types.Position(**edit["range"]["end"])), edit["newText"])
    assert apply_text_edits(MODEL, [text_edit], "utf-16") == expected
    assert edit["range"]["start"]["line"] == edit["range"]["end"]["line"] == 7


def test_fix_all_with_nothing_to_change_is_empty():
    assert fix_all_edits(document_snapshot(URI, 1, "x = 1\n", None), "x = 1\n", "utf-16") == []


def test_changed_region_never_splits_a_crlf():
    for old, new in (("a\r\nb\r\n", "a\r\nc\r\n"), ("x\r\ny", "x\r\r\ny"), ("x\r\ny", "x\ny"), ("ab", "ab")):
        start, old_end, new_end = _changed_region(old, new)
        assert old[:start] + new[start:new_end] + old[old_end:] == new
        for offset in (start, old_end):
            assert old[offset - 1:offset + 1] != "\r\n"
    assert _changed_region("a\r\nb\r\n", "a\r\nc\r\n") == (3, 4, 4)


def test_noqa_code_under_the_cursor():
    line = 'print(x)  # noqa: NPL102, npl106'
    assert noqa_code_at(line, line.index("NPL102") + 1) == ("NPL102", line.index("NPL102"), line.index("NPL102") + 6)
    assert noqa_code_at(line, line.index("npl106"))[0] == "NPL106"
    assert noqa_code_at(line, 0) is None
    assert noqa_code_at("x = 1  # noqa", 10) is None


def test_hover_on_a_noqa_code_after_an_emoji_in_utf16():
    line = 'print("😀")  # noqa: NPL102'
    character = len(line[:line.index("NPL102")].encode("utf-16-le")) // 2
    hover = hover_for(line, types.Position(4, character + 1), [], "utf-16", markdown=True)
    assert hover.contents.value.startswith("# NPL102: model-io")
    assert hover.range == types.Range(types.Position(4, character), types.Position(4, character + 6))
    assert hover_for(line.replace("NPL102", "XYZ123"), types.Position(4, character), [], "utf-16", True) is None


def test_hover_in_plain_text_for_clients_without_markdown():
    diagnostic = types.Diagnostic(types.Range(types.Position(0, 0), types.Position(0, 5)), "m", code="NPL901")
    hover = hover_for("model", types.Position(0, 2), [diagnostic], "utf-16", markdown=False)
    assert hover.contents.kind == types.MarkupKind.PlainText
    assert hover.contents.value.startswith("# NPL901")


def test_code_action_kinds_are_hierarchical():
    assert kind_requested("source.fixAll.numpyro-lint", ["source.fixAll"])
    assert kind_requested("source.fixAll.numpyro-lint", ["source"])
    assert kind_requested("quickfix", None)
    assert not kind_requested("quickfix", ["source.fixAll"])
    assert not kind_requested("source.fixAllX", ["source.fixAll"])


def test_notebook_diagnostics_go_to_their_cell_and_cross_cell_fixes_are_dropped():
    cells = [("nb#1", 1, "import numpyro\n"), ("nb#2", 5, "%time\nx = 1\ny = 2")]
    snapshot = notebook_snapshot("file:///nb.ipynb", 9, "/nb.ipynb", cells)
    assert snapshot.text == "import numpyro\n\npass  #%time\nx = 1\ny = 2"
    assert [(p.uri, p.first_line, p.line_count) for p in snapshot.parts] == [("nb#1", 1, 2), ("nb#2", 3, 3)]
    within = Fix("w", Applicability.SAFE, (Edit(Span(4, 0, 4, 1), "z"),))
    across = Fix("a", Applicability.SAFE, (Edit(Span(1, 0, 4, 1), "z"),))
    diagnostics = [Diagnostic("NPL106", "m", Span(4, 0, 4, 1), fix=within),
                   Diagnostic("NPL102", "m", Span(5, 0, 5, 1), fix=across)]
    grouped = lsp_diagnostics(snapshot, diagnostics, "utf-16")
    assert grouped["nb#1"] == []
    first, second = grouped["nb#2"]
    assert first.range.start == types.Position(1, 0)
    assert find_diagnostic(diagnostics, second.code, second.data, version=9) == diagnostics[1]
    payload = fix_payload(snapshot, within, "utf-16")
    assert payload["edits"][0]["uri"] == "nb#2" and payload["edits"][0]["version"] == 5
    assert fix_payload(snapshot, across, "utf-16") is None
    assert [a.title for a in quick_fix_actions(second, diagnostics[1], snapshot, "utf-16", True)] == []
    assert fix_all_edits(snapshot, snapshot.text.replace("x = 1", "z = 1"), "utf-16") == []


def test_a_notebook_message_names_the_other_place_by_code_cell_and_line_with_a_related_location():
    cells = [("nb#1", 1, "import jax\nfrom numpyro.infer import MCMC, NUTS, Predictive\nkey = jax.random.PRNGKey(0)"),
             ("nb#3", 1, "mcmc = MCMC(NUTS(model), num_warmup=9, num_samples=9)\nmcmc.run(key, x)"),
             ("nb#4", 1, "Predictive(model, mcmc.get_samples())(key, x)")]
    snapshot = notebook_snapshot("file:///nb.ipynb", 1, "/nb.ipynb", cells)
    (published,) = lsp_diagnostics(snapshot, lint_text(snapshot.text).diagnostics, "utf-16")["nb#4"]
    assert "`key` was already consumed by `mcmc.run` on cell 2, line 2;" in published.message
    (related,) = published.related_information
    assert related.location.uri == "nb#3" and related.location.range.start == types.Position(1, 9)
