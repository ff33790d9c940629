"""The language server end to end: a real client over stdio, with the capabilities VS Code and Neovim
record, opening a model, receiving diagnostics, applying fixes, hovering, changing settings, closing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LspSpecificationWarning, client_capabilities
from server_helpers import (
    MODEL,
    RECORDED_CLIENTS,
    TIMEOUT_S,
    Client,
    apply_workspace_edit,
    offset_of,
    open_document,
    pull_capabilities,
    recorded_capabilities,
    replace_text,
    session,
)

pytestmark = pytest.mark.filterwarnings("error", category=LspSpecificationWarning)
ENCODINGS = {"visual_studio_code_v1.65.2": "utf-16", "neovim_v0.11.0": "utf-8", "neovim_v0.12.0-dev": "utf-8"}
#: Only the rules these tests are about: rules added later must not change what they see.
SELECT = ["NPL102", "NPL106"]
FAST = {"debounce-ms": 0, "select": SELECT}


def pyproject_table(ignore: str) -> str:
    return f'[tool.numpyro-lint]\nselect = ["NPL102", "NPL106"]\nignore = ["{ignore}"]\ndebounce-ms = 0\n'


def codes(diagnostics: list[types.Diagnostic]) -> list[str]:
    return [str(d.code) for d in diagnostics]


def units(text: str, encoding: str) -> int:
    """Length of `text` in an encoding's code units, computed independently of the server."""
    if encoding == "utf-8":
        return len(text.encode("utf-8"))
    return len(text.encode("utf-16-le")) // 2


async def code_actions(client: Client, uri: str, diagnostics: list[types.Diagnostic],
                       only: list[str] | None = None) -> list[types.CodeAction]:
    whole = types.Range(types.Position(0, 0), types.Position(0, 0)) if not diagnostics else diagnostics[0].range
    result = await asyncio.wait_for(client.text_document_code_action_async(types.CodeActionParams(
        types.TextDocumentIdentifier(uri), whole, types.CodeActionContext(diagnostics, only=only))), TIMEOUT_S)
    return [action for action in result or [] if isinstance(action, types.CodeAction)]


async def resolved(client: Client, action: types.CodeAction) -> types.CodeAction:
    if action.edit is not None:
        return action
    return await asyncio.wait_for(client.code_action_resolve_async(action), TIMEOUT_S)


@pytest.mark.parametrize("editor", RECORDED_CLIENTS)
async def test_diagnostics_carry_rule_links_and_columns_in_the_negotiated_encoding(editor: str, tmp_path: Path):
    encoding = ENCODINGS[editor]
    async with session(recorded_capabilities(editor), tmp_path, init_options=FAST) as client:
        uri = open_document(client, tmp_path / "model.py", MODEL)
        diagnostics = await client.wait_for_diagnostics(uri, version=1)
        unsafe = await code_actions(client, uri, diagnostics[1:], only=["quickfix"])

    assert codes(diagnostics) == ["NPL106", "NPL102"]
    inplace = diagnostics[0]
    line = MODEL.splitlines()[7]
    assert inplace.range.start == types.Position(7, units(line[:line.index("x[0]")], encoding))
    assert inplace.source == "numpyro-lint"
    assert inplace.code_description.href.endswith("/docs/rules/NPL106.md")
    assert inplace.data["version"] == 1 and "fix" not in inplace.data  # fixes are computed when asked for
    assert unsafe[0].title.endswith("(unsafe fix)") and not unsafe[0].is_preferred


@pytest.mark.parametrize("editor", RECORDED_CLIENTS)
async def test_quick_fix_and_disable_for_line_edit_the_emoji_line_correctly(editor: str, tmp_path: Path):
    encoding = ENCODINGS[editor]
    async with session(recorded_capabilities(editor), tmp_path, init_options=FAST) as client:
        uri = open_document(client, tmp_path / "model.py", MODEL)
        diagnostics = await client.wait_for_diagnostics(uri, version=1)
        actions = await code_actions(client, uri, diagnostics[:1])
        titles = [action.title for action in actions]
        assert titles == ["numpyro-lint (NPL106): Use `x = x.at[...].set(...)`",
                          "numpyro-lint (NPL106): Disable NPL106 for this line",
                          "numpyro-lint: apply all safe fixes"]
        fixed = apply_workspace_edit(MODEL, uri, (await resolved(client, actions[0])).edit, encoding)
        disabled = apply_workspace_edit(MODEL, uri, (await resolved(client, actions[1])).edit, encoding)

        replace_text(client, uri, 2, fixed)
        after_fix = await client.wait_for_diagnostics(uri, version=2)

    assert fixed.splitlines()[7] == '    label = "😀😀"; x = x.at[0].set(numpyro.sample("x0", dist.Normal(0, 1)))'
    assert disabled.splitlines()[7].endswith('dist.Normal(0, 1))  # noqa: NPL106')
    assert codes(after_fix) == ["NPL102"]
    assert actions[0].is_preferred


CENTERED = '''\
import numpyro
import numpyro.distributions as dist


def model(J, y=None):
    tau = numpyro.sample("tau", dist.HalfCauchy(5))
    with numpyro.plate("J", J):
        theta = numpyro.sample("theta", dist.Normal(0, tau))
        numpyro.sample("y", dist.Normal(theta, 1), obs=y)
'''


async def test_every_offered_fix_is_an_action_and_disable_comes_last(tmp_path: Path):
    init = {"debounce-ms": 0, "select": ["NPL501"]}
    async with session(recorded_capabilities("visual_studio_code_v1.65.2"), tmp_path, init_options=init) as client:
        uri = open_document(client, tmp_path / "model.py", CENTERED)
        diagnostics = await client.wait_for_diagnostics(uri, version=1)
        actions = await code_actions(client, uri, diagnostics[:1])
        edits = [apply_workspace_edit(CENTERED, uri, (await resolved(client, action)).edit, "utf-16")
                 for action in actions[:3]]

    titles = [action.title for action in actions]
    assert codes(diagnostics) == ["NPL501"]
    assert "LocScaleReparam" in titles[0] and actions[0].is_preferred
    assert titles[1].endswith("(unsafe fix)") and not actions[1].is_preferred
    assert titles[2] == "numpyro-lint (NPL501): Disable NPL501 for this line"
    assert "LocScaleReparam(0)" in edits[0]
    assert 'numpyro.sample("theta_raw"' in edits[1]
    assert edits[2].splitlines()[7].endswith("# noqa: NPL501")


@pytest.mark.parametrize("editor", RECORDED_CLIENTS)
async def test_fix_all_applies_the_safe_fixes_only(editor: str, tmp_path: Path):
    encoding = ENCODINGS[editor]
    async with session(recorded_capabilities(editor), tmp_path, init_options=FAST) as client:
        uri = open_document(client, tmp_path / "model.py", MODEL)
        await client.wait_for_diagnostics(uri, version=1)
        actions = await code_actions(client, uri, [], only=["source.fixAll"])
        assert [action.kind for action in actions] == ["source.fixAll.numpyro-lint"]
        fixed = apply_workspace_edit(MODEL, uri, (await resolved(client, actions[0])).edit, encoding)

    assert "x = x.at[0].set(" in fixed
    assert "    print(x)" in fixed  # NPL102's fix is unsafe: not applied by fix-all
    assert fixed.count("😀😀") == 1


async def test_fix_all_waits_for_the_current_version_instead_of_using_a_stale_analysis(tmp_path: Path):
    async with session(recorded_capabilities("visual_studio_code_v1.65.2"), tmp_path,
                       init_options={"debounce-ms": 10_000, "select": SELECT}) as client:
        uri = open_document(client, tmp_path / "model.py", "x = 1\n")
        await client.wait_for_diagnostics(uri, lambda items: not items, version=1)
        replace_text(client, uri, 2, MODEL)  # the debounced analysis would wait ten seconds
        actions = await code_actions(client, uri, [], only=["source.fixAll.numpyro-lint"])
        action = await resolved(client, actions[0])

    fixed = apply_workspace_edit(MODEL, uri, action.edit, "utf-16")
    assert action.edit.document_changes[0].text_document.version == 2
    assert "x = x.at[0].set(" in fixed


@pytest.mark.parametrize("editor", RECORDED_CLIENTS)
async def test_hover_shows_the_rule_docs_on_a_diagnostic_and_on_a_noqa_code(editor: str, tmp_path: Path):
    text = MODEL.replace("    print(x)\n", "    print(x)  # noqa: NPL102\n")
    async with session(recorded_capabilities(editor), tmp_path, init_options=FAST) as client:
        uri = open_document(client, tmp_path / "model.py", text)
        diagnostics = await client.wait_for_diagnostics(uri, version=1)
        on_diagnostic = await client.text_document_hover_async(types.HoverParams(
            types.TextDocumentIdentifier(uri), diagnostics[0].range.start))
        noqa_line = text.splitlines()[8]
        on_noqa = await client.text_document_hover_async(types.HoverParams(
            types.TextDocumentIdentifier(uri), types.Position(8, noqa_line.index("NPL102") + 2)))
        elsewhere = await client.text_document_hover_async(types.HoverParams(
            types.TextDocumentIdentifier(uri), types.Position(0, 0)))

    assert codes(diagnostics) == ["NPL106"]
    assert on_diagnostic.contents.value.startswith("# NPL106: inplace-array-update")
    assert "## Why is this bad?" in on_diagnostic.contents.value
    assert on_noqa.contents.value.startswith("# NPL102: model-io")
    assert on_noqa.range == types.Range(types.Position(8, noqa_line.index("NPL102")),
                                        types.Position(8, noqa_line.index("NPL102") + 6))
    assert elsewhere is None


async def test_settings_from_initialization_options_then_from_workspace_configuration(tmp_path: Path):
    async with session(recorded_capabilities("visual_studio_code_v1.65.2"), tmp_path,
                       init_options={**FAST, "ignore": ["NPL102"]}) as client:
        uri = open_document(client, tmp_path / "model.py", MODEL)
        assert codes(await client.wait_for_diagnostics(uri)) == ["NPL106"]

        client.set_configuration({**FAST, "ignore": ["NPL106"]}, section="numpyro-lint")
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
        after = await client.wait_for_diagnostics(uri, lambda items: codes(items) == ["NPL102"])

        # A setting the user removes goes away: the client's section replaces the options whole.
        client.set_configuration(FAST, section="numpyro-lint")
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
        removed = await client.wait_for_diagnostics(uri, lambda items: codes(items) == ["NPL106", "NPL102"])

    assert codes(after) == ["NPL102"]
    assert codes(removed) == ["NPL106", "NPL102"]
    assert any(r.method == types.WORKSPACE_DID_CHANGE_CONFIGURATION for r in client.registrations)


async def test_pushed_settings_for_clients_without_workspace_configuration(tmp_path: Path):
    capabilities = recorded_capabilities("neovim_v0.11.0")
    capabilities.workspace.configuration = False
    async with session(capabilities, tmp_path, init_options=FAST) as client:
        uri = open_document(client, tmp_path / "model.py", MODEL)
        await client.wait_for_diagnostics(uri, lambda items: codes(items) == ["NPL106", "NPL102"])
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
            settings={"numpyro-lint": {**FAST, "ignore": ["NPL102"]}}))
        after = await client.wait_for_diagnostics(uri, lambda items: codes(items) == ["NPL106"])

    assert codes(after) == ["NPL106"]


async def test_a_bad_setting_is_a_warning_and_the_defaults_apply(tmp_path: Path):
    async with session(recorded_capabilities("neovim_v0.11.0"), tmp_path,
                       init_options={**FAST, "ignore": ["NPL999"]}) as client:
        uri = open_document(client, tmp_path / "model.py", MODEL)
        diagnostics = await client.wait_for_diagnostics(uri)
        await client.wait_for(lambda: client.messages)

    assert codes(diagnostics) == ["NPL106", "NPL102"]  # the other settings still apply
    assert client.messages[0].type == types.MessageType.Warning
    assert "NPL999" in client.messages[0].message


async def test_pyproject_changes_are_watched_and_reread(tmp_path: Path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(pyproject_table("NPL102"), encoding="utf-8")
    async with session(recorded_capabilities("visual_studio_code_v1.65.2"), tmp_path) as client:
        await client.wait_for(lambda: client.registrations)
        uri = open_document(client, tmp_path / "model.py", MODEL)
        assert codes(await client.wait_for_diagnostics(uri)) == ["NPL106"]

        pyproject.write_text(pyproject_table("NPL106"), encoding="utf-8")
        client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(
            [types.FileEvent(pyproject.as_uri(), types.FileChangeType.Changed)]))
        after = await client.wait_for_diagnostics(uri, lambda items: codes(items) == ["NPL102"])

    watchers = [r for r in client.registrations if r.method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES]
    assert watchers[0].register_options["watchers"][0]["globPattern"] == "**/pyproject.toml"
    assert codes(after) == ["NPL102"]


async def test_without_file_watching_a_changed_pyproject_is_noticed_on_save(tmp_path: Path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(pyproject_table("NPL102"), encoding="utf-8")
    async with session(recorded_capabilities("neovim_v0.12.0-dev"), tmp_path) as client:
        uri = open_document(client, tmp_path / "model.py", MODEL)
        assert codes(await client.wait_for_diagnostics(uri)) == ["NPL106"]
        pyproject.write_text('[tool.numpyro-lint]\nselect = ["NPL102"]\ndebounce-ms = 0\n', encoding="utf-8")
        client.text_document_did_save(types.DidSaveTextDocumentParams(types.TextDocumentIdentifier(uri)))
        after = await client.wait_for_diagnostics(uri, lambda items: codes(items) == ["NPL102"])

    assert codes(after) == ["NPL102"]


async def test_a_broken_pyproject_is_a_warning_not_a_crash(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text('[tool.numpyro-lint]\nselect = [\n', encoding="utf-8")
    async with session(recorded_capabilities("neovim_v0.11.0"), tmp_path, init_options=FAST) as client:
        uri = open_document(client, tmp_path / "model.py", MODEL)
        diagnostics = await client.wait_for_diagnostics(uri)
        await client.wait_for(lambda: client.messages)

    assert codes(diagnostics) == ["NPL106", "NPL102"]
    assert "invalid TOML" in client.messages[0].message


@pytest.mark.parametrize("editor", RECORDED_CLIENTS)
async def test_closing_a_document_publishes_no_diagnostics(editor: str, tmp_path: Path):
    async with session(recorded_capabilities(editor), tmp_path, init_options=FAST) as client:
        uri = open_document(client, tmp_path / "model.py", MODEL)
        await client.wait_for_diagnostics(uri)
        client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri)))
        after = await client.wait_for_diagnostics(uri, lambda items: not items)

    assert after == []


async def test_rapid_edits_publish_only_the_latest_version(tmp_path: Path):
    async with session(recorded_capabilities("visual_studio_code_v1.65.2"), tmp_path,
                       init_options={**FAST, "debounce-ms": 300}) as client:
        uri = open_document(client, tmp_path / "model.py", MODEL)
        await client.wait_for_diagnostics(uri, version=1)
        before = len(client.publications)
        for version in range(2, 7):
            replace_text(client, uri, version, MODEL + f"# edit {version}\n")
        await client.wait_for_diagnostics(uri, version=6)

    assert [p.version for p in client.publications[before:]] == [6]


async def test_with_default_settings_a_burst_of_edits_ends_with_the_latest_version_and_nothing_stale(
        tmp_path: Path):
    async with session(recorded_capabilities("visual_studio_code_v1.65.2"), tmp_path,
                       init_options={"select": SELECT}) as client:
        uri = open_document(client, tmp_path / "model.py", MODEL)
        await client.wait_for_diagnostics(uri, version=1)
        before = len(client.publications)
        for version in range(2, 12):
            replace_text(client, uri, version, MODEL + f"# edit {version}\n")
        await client.wait_for_diagnostics(uri, version=11)

    versions = [p.version for p in client.publications[before:]]
    assert versions[-1] == 11
    assert versions == sorted(set(versions)), "an older version was published after a newer one"


#: A form feed and a U+2028 above the model: line breaks to str.splitlines, not to LSP or the editor.
PAGED_MODEL = MODEL.replace("import numpyro\n", "import numpyro  # \x0c page \u2028 break\n")


@pytest.mark.parametrize("text", [MODEL, PAGED_MODEL], ids=["plain", "form-feed-above"])
async def test_incremental_edit_after_an_emoji(text: str, tmp_path: Path):
    async with session(recorded_capabilities("visual_studio_code_v1.65.2"), tmp_path, init_options=FAST) as client:
        uri = open_document(client, tmp_path / "model.py", text)
        await client.wait_for_diagnostics(uri, version=1)
        line = text.split("\n")[7]
        at = types.Position(7, units(line[:line.index("x[0]")], "utf-16"))
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            [types.TextDocumentContentChangePartial(types.Range(at, at), text="y = 0; ")]))
        after = await client.wait_for_diagnostics(uri, version=2)

    assert after[0].code == "NPL106"
    assert after[0].range.start == types.Position(7, at.character + len("y = 0; "))


async def test_pull_diagnostics_when_the_client_supports_them_and_no_push(tmp_path: Path):
    async with session(pull_capabilities(), tmp_path, init_options=FAST) as client:
        assert client.initialize_result.capabilities.diagnostic_provider.identifier == "numpyro-lint"
        uri = open_document(client, tmp_path / "model.py", MODEL)
        report = await client.text_document_diagnostic_async(
            types.DocumentDiagnosticParams(types.TextDocumentIdentifier(uri)))
        assert codes(report.items) == ["NPL106", "NPL102"]
        refreshes = client.refreshes
        client.set_configuration({**FAST, "ignore": ["NPL102"]}, section="numpyro-lint")
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
        await client.wait_for(lambda: client.refreshes > refreshes)
        after = await client.text_document_diagnostic_async(
            types.DocumentDiagnosticParams(types.TextDocumentIdentifier(uri)))
        hover = await client.text_document_hover_async(types.HoverParams(
            types.TextDocumentIdentifier(uri), after.items[0].range.start))
        client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri)))

    assert codes(after.items) == ["NPL106"]
    assert hover.contents.value.startswith("# NPL106")
    assert client.publications == []


@pytest.mark.parametrize("editor", RECORDED_CLIENTS)
async def test_initialize_result(editor: str, tmp_path: Path):
    async with session(recorded_capabilities(editor), tmp_path) as client:
        result = client.initialize_result

    capabilities = result.capabilities
    assert capabilities.position_encoding == ENCODINGS[editor]
    assert "source.fixAll.numpyro-lint" in capabilities.code_action_provider.code_action_kinds
    assert capabilities.code_action_provider.resolve_provider
    assert sorted(capabilities.execute_command_provider.commands) == ["numpyro-lint.runSmoke", "numpyro-lint.showGraph"]
    assert capabilities.hover_provider
    assert capabilities.diagnostic_provider is None  # none of these clients can be refreshed: push
    assert capabilities.text_document_sync.change == types.TextDocumentSyncKind.Incremental
    assert result.server_info.name == "numpyro-lint"


async def test_notebook_cells_get_their_own_diagnostics_and_fixes(tmp_path: Path):
    capabilities = recorded_capabilities("visual_studio_code_v1.65.2")
    capabilities.notebook_document = types.NotebookDocumentClientCapabilities(
        synchronization=types.NotebookDocumentSyncClientCapabilities())
    notebook_uri = (tmp_path / "analysis.ipynb").as_uri()
    head, body = MODEL.split("\n\n\n")
    cells = [(f"{notebook_uri}#cell1", head + "\n"), (f"{notebook_uri}#cell2", "%matplotlib inline\n" + body)]
    async with session(capabilities, tmp_path, init_options=FAST) as client:
        client.notebook_document_did_open(types.DidOpenNotebookDocumentParams(
            types.NotebookDocument(notebook_uri, "jupyter-notebook", 1, [
                types.NotebookCell(types.NotebookCellKind.Code, uri) for uri, _ in cells]),
            [types.TextDocumentItem(uri, "python", 1, text) for uri, text in cells]))
        diagnostics = await client.wait_for_diagnostics(cells[1][0])
        actions = await code_actions(client, cells[1][0], diagnostics[:1])

    body_lines = cells[1][1].splitlines()
    assert codes(diagnostics) == ["NPL106", "NPL102"]
    assert diagnostics[0].range.start.line == next(i for i, line in enumerate(body_lines) if "x[0]" in line)
    fixed = apply_workspace_edit(cells[1][1], cells[1][0], actions[0].edit, "utf-16")
    assert "x = x.at[0].set(" in fixed
    assert list(client.diagnostics[cells[0][0]]) == []


def test_offset_helper_counts_editor_units():
    text = 'a = "😀"; b\n'
    assert offset_of(text, types.Position(0, 10), "utf-16") == text.index("b")
    assert offset_of(text, types.Position(0, 12), "utf-8") == text.index("b")


async def test_clients_that_send_no_data_back_and_cannot_resolve_still_get_every_action(tmp_path: Path):
    capabilities = client_capabilities("emacs")  # no codeAction dataSupport, no resolveSupport; UTF-32
    async with session(capabilities, tmp_path, init_options=FAST) as client:
        assert client.initialize_result.capabilities.position_encoding == "utf-32"
        uri = open_document(client, tmp_path / "model.py", MODEL)
        diagnostics = await client.wait_for_diagnostics(uri, version=1)
        as_sent_back = [types.Diagnostic(d.range, d.message, d.severity, d.code, source=d.source)
                        for d in diagnostics[:1]]
        actions = await code_actions(client, uri, as_sent_back)

    assert [a.title for a in actions] == ["numpyro-lint (NPL106): Use `x = x.at[...].set(...)`",
                                          "numpyro-lint (NPL106): Disable NPL106 for this line",
                                          "numpyro-lint: apply all safe fixes"]
    assert all(action.edit is not None for action in actions)
    fixed = apply_workspace_edit(MODEL, uri, actions[2].edit, "utf-32")
    assert '"😀😀"; x = x.at[0].set(numpyro.sample("x0", dist.Normal(0, 1)))' in fixed


async def test_a_long_analysis_does_not_hold_up_other_requests(tmp_path: Path):
    block = """

def model_{n}(x, y=None):
    mu = numpyro.sample("mu_{n}", dist.Normal(0.0, 10.0))
    tau = numpyro.sample("tau_{n}", dist.HalfNormal(5.0))
    with numpyro.plate("groups_{n}", x.shape[0]):
        theta = numpyro.sample("theta_{n}", dist.Normal(mu, tau))
        numpyro.sample("y_{n}", dist.Normal(theta * x, 1.0), obs=y)
"""
    big = MODEL + "".join(block.format(n=n) for n in range(1000))  # 9,000 lines: seconds of analysis
    async with session(recorded_capabilities("visual_studio_code_v1.65.2"), tmp_path, init_options=FAST) as client:
        small = open_document(client, tmp_path / "small.py", MODEL)
        diagnostics = await client.wait_for_diagnostics(small, version=1)
        large = open_document(client, tmp_path / "large.py", big)
        hover = await client.text_document_hover_async(types.HoverParams(
            types.TextDocumentIdentifier(small), diagnostics[0].range.start))
        answered_first = all(p.uri != large for p in client.publications)
        await client.wait_for_diagnostics(large, version=1)

    assert hover.contents.value.startswith("# NPL106")
    assert answered_first, "the hover waited for the analysis of a 9,000-line file"
