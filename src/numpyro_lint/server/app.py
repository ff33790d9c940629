"""The language server: LSP handlers, each a few lines that call the plain functions of this package.

    snapshot.py   what one analysis looks at (a document, or a notebook's code cells)
    analysis.py   lint_text on a snapshot, on the worker thread; fixes computed when asked, per version
    scheduler.py  when analyses run (at once, or coalesced behind a running one), publishing only what is current
    documents.py  our diagnostics and fixes <-> LSP values (positions, data, edits, hover)
    settings.py   pyproject.toml + editor settings
    smoke.py      smoke runs on save and on request
    model_views.py  hover on sites, a code lens per model, shape inlay hints, the graph command
    lifecycle.py  stdio, threads, logging, the editor process
    workspace.py  the editor's documents, in lines as LSP counts them

Diagnostics are pushed (`textDocument/publishDiagnostics`), or pulled (`textDocument/diagnostic`) when
the client supports pulling and `workspace/diagnostic/refresh` (without refresh a client would never
see what the server finds on its own: smoke findings, settings changes); never both.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from numpyro_lint import __version__
from numpyro_lint.diagnostic import Diagnostic
from numpyro_lint.server import smoke as smoke_module
from numpyro_lint.server.analysis import Analysis, Job, analyse, warm_up
from numpyro_lint.server.documents import (
    FIX_ALL_KIND,
    SOURCE,
    find_diagnostic,
    fix_all_edits,
    hover_for,
    kind_requested,
    lsp_diagnostics,
    quick_fix_actions,
    workspace_edit,
)
from numpyro_lint.server import model_views
from numpyro_lint.server.lifecycle import DaemonExecutor, watch_process
from numpyro_lint.server.scheduler import Scheduler
from numpyro_lint.server.settings import SECTION, SettingsResolver, editor_table
from numpyro_lint.server.smoke import SmokeRuns, merge_findings
from numpyro_lint.server.snapshot import Snapshot, document_snapshot, notebook_snapshot
from numpyro_lint.server.workspace import LspWorkspace

logger = logging.getLogger("numpyro_lint.server")

RUN_SMOKE_COMMAND = "numpyro-lint.runSmoke"
#: Sent when a smoke run starts, changes stage and ends: {"state": "idle" | "compiling" | "sampling",
#: "findings"?: n}, n when a run has just finished; the VS Code extension's status bar shows it.
RUNNER_STATE_NOTIFICATION = "numpyro-lint/runnerState"
CLIENT_REQUEST_TIMEOUT_S = 5.0
NOTEBOOK_SYNC = types.NotebookDocumentSyncOptions(
    notebook_selector=[types.NotebookDocumentFilterWithCells(
        cells=[types.NotebookCellLanguage(language="python")], notebook="jupyter-notebook",
    )],
    save=True,
)
_registration_ids = (f"numpyro-lint-{n}" for n in itertools.count())


class NumpyroLintServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("numpyro-lint", __version__, types.TextDocumentSyncKind.Incremental, NOTEBOOK_SYNC)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop = lambda: None
        self.resolver = SettingsResolver(None, self.show_warning)
        self.pull = False
        self.watching_files = False
        self.settings_ready = asyncio.Event()
        self.open_documents: set[str] = set()
        self.open_notebooks: set[str] = set()
        #: The diagnostics the client has for each document (or cell), for hovers and code actions.
        self.published: dict[str, list[types.Diagnostic]] = {}
        #: The documents (notebook cells) each analysed document's diagnostics went to.
        self.published_parts: dict[str, set[str]] = {}
        self._initial_settings: dict[str, Any] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self.executor = DaemonExecutor("numpyro-lint-analysis")
        self.scheduler: Scheduler[Analysis] = Scheduler(self.current_job, analyse, self.on_analysis, self.executor)
        self.smoke = SmokeRuns(lambda: smoke_module.load_runner_class(), LspProgress(self), self.on_smoke_result,
                               self.show_warning, workspace=self.workspace_folders, on_state=self.send_runner_state)

    # What the client supports ---------------------------------------------------------------------

    @property
    def encoding(self) -> str:
        encoding = self.workspace.position_encoding or types.PositionEncodingKind.Utf16
        return getattr(encoding, "value", encoding)

    def client_supports(self, dotted: str) -> bool:
        value: Any = self.client_capabilities
        for name in dotted.split("."):
            value = getattr(value, name, None)
            if value is None:
                return False
        return bool(value)

    # Documents ------------------------------------------------------------------------------------

    def analysis_uri(self, uri: str) -> str | None:
        """The document or notebook analysed for `uri` (a cell belongs to its notebook)."""
        if uri in self.open_documents or uri in self.open_notebooks:
            return uri
        notebook = self.workspace.get_notebook_document(cell_uri=uri)
        return notebook.uri if notebook is not None and notebook.uri in self.open_notebooks else None

    def snapshot(self, uri: str) -> Snapshot | None:
        if uri in self.open_notebooks:
            notebook = self.workspace.get_notebook_document(notebook_uri=uri)
            if notebook is None:
                return None
            cells = []
            for cell in notebook.cells:
                document = self.workspace.get_text_document(cell.document)
                if cell.kind == types.NotebookCellKind.Code and document.language_id in (None, "python"):
                    cells.append((cell.document, document.version, document.source))
            return notebook_snapshot(uri, notebook.version, to_fs_path(uri), cells)
        if uri in self.open_documents:
            document = self.workspace.get_text_document(uri)
            return document_snapshot(uri, document.version or 0, document.source, to_fs_path(uri),
                                     document.language_id)
        return None

    def current_job(self, uri: str) -> tuple[tuple[int, int], Job] | None:
        snapshot = self.snapshot(uri)
        if snapshot is None:
            return None
        settings = self.resolver.for_path(snapshot.path)
        return (snapshot.version, self.resolver.generation), Job(snapshot, settings, self.encoding)

    def schedule(self, uri: str, *, now: bool = False) -> None:
        if self.pull or not self.settings_ready.is_set():
            return
        job = self.current_job(uri)
        delay_ms = 0 if now or job is None else job[1].settings.debounce_ms
        self.scheduler.schedule(uri, delay_ms / 1000)

    def reanalyse_all(self) -> None:
        """Settings changed: analyse every open document again (or have a pulling client ask again)."""
        self.refresh_insight()
        if self.pull:
            self.workspace_diagnostic_refresh(None)
            return
        for uri in [*self.open_documents, *self.open_notebooks]:
            self.schedule(uri, now=True)

    def found_diagnostics(self, analysis: Analysis) -> tuple[Diagnostic, ...]:
        """Static diagnostics and the smoke findings for the same version."""
        found = self.smoke.result(analysis.snapshot.uri, analysis.snapshot.version)
        return analysis.diagnostics if found is None else tuple(merge_findings(analysis.diagnostics, found.diagnostics))

    def diagnostics_by_document(self, analysis: Analysis) -> dict[str, list[types.Diagnostic]]:
        """Static diagnostics and the smoke findings for the same version, by document (cell) URI."""
        found = self.found_diagnostics(analysis)
        if found is analysis.diagnostics:
            return analysis.lsp
        return lsp_diagnostics(analysis.snapshot, found, analysis.job.encoding)

    def on_analysis(self, uri: str, analysis: Analysis) -> None:
        if not self.pull:
            self.publish(analysis)

    def workspace_folders(self) -> list[str]:
        """The paths of the workspace folders (the root, for a client without folders)."""
        paths = [to_fs_path(folder.uri) for folder in self.workspace.folders.values()]
        return [path for path in [*paths, self.workspace.root_path] if path]

    def send_runner_state(self, state: str, findings: int | None) -> None:
        params: dict[str, Any] = {"state": state} if findings is None else {"state": state, "findings": findings}
        self.protocol.notify(RUNNER_STATE_NOTIFICATION, params)
        self.refresh_insight()

    def refresh_insight(self) -> None:
        """Have the client ask again for code lenses and inlay hints (a run started, ended, or settings
        changed), where it can be asked."""
        if self.client_supports("workspace.code_lens.refresh_support"):
            self.workspace_code_lens_refresh(None)
        if self.client_supports("workspace.inlay_hint.refresh_support"):
            self.workspace_inlay_hint_refresh(None)

    def on_smoke_result(self, uri: str) -> None:
        self.refresh_insight()
        if self.pull:
            self.workspace_diagnostic_refresh(None)
            return
        analysis = self.scheduler.latest(uri)
        current = (analysis.snapshot.version, self.resolver.generation) if analysis is not None else None
        if analysis is not None and self.scheduler.is_current(uri, current):
            self.publish(analysis)

    def publish(self, analysis: Analysis) -> None:
        by_document = self.diagnostics_by_document(analysis)
        for part in analysis.snapshot.parts:
            self.publish_to(part.uri, part.version, by_document.get(part.uri, []))
        parts = {part.uri for part in analysis.snapshot.parts}
        for gone in self.published_parts.get(analysis.snapshot.uri, set()) - parts:  # deleted cells
            self.publish_to(gone, None, [])
            del self.published[gone]
        self.published_parts[analysis.snapshot.uri] = parts

    def publish_to(self, uri: str, version: int | None, diagnostics: list[types.Diagnostic]) -> None:
        self.published[uri] = diagnostics
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri, diagnostics, version))

    def closed(self, uri: str) -> None:
        self.scheduler.forget(uri)
        self.smoke.cancel(uri)
        self.smoke.clear(uri)
        for part_uri in self.published_parts.pop(uri, {uri}):
            if not self.pull:
                self.publish_to(part_uri, None, [])
            self.published.pop(part_uri, None)

    # Settings -------------------------------------------------------------------------------------

    def show_warning(self, message: str) -> None:
        self.window_show_message(types.ShowMessageParams(types.MessageType.Warning, message))

    def set_editor_settings(self, value: Any) -> None:
        # The latest section the client sends replaces the initialization options whole, so that a
        # setting the user removes goes away; a client with no such section keeps the options.
        table = editor_table(value) or self._initial_settings
        if self.resolver.set_editor_settings(table) and self.settings_ready.is_set():
            self.reanalyse_all()

    async def fetch_configuration(self) -> None:
        if not self.client_supports("workspace.configuration"):
            return
        params = types.ConfigurationParams([types.ConfigurationItem(section=SECTION)])
        try:
            result = await asyncio.wait_for(self.workspace_configuration_async(params), CLIENT_REQUEST_TIMEOUT_S)
        except Exception as error:  # a client that fails this keeps the initialization options
            logger.warning("workspace/configuration failed: %s", error)
            return
        self.set_editor_settings(result[0] if result else None)

    async def register_watchers(self) -> None:
        registrations = []
        if self.client_supports("workspace.did_change_watched_files.dynamic_registration"):
            registrations.append(types.Registration(
                next(_registration_ids), types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                types.DidChangeWatchedFilesRegistrationOptions([types.FileSystemWatcher("**/pyproject.toml")]),
            ))
        if self.client_supports("workspace.did_change_configuration.dynamic_registration"):
            registrations.append(types.Registration(
                next(_registration_ids), types.WORKSPACE_DID_CHANGE_CONFIGURATION,
                types.DidChangeConfigurationRegistrationOptions(section=SECTION),
            ))
        if not registrations:
            return
        try:
            await asyncio.wait_for(self.client_register_capability_async(types.RegistrationParams(registrations)),
                                   CLIENT_REQUEST_TIMEOUT_S)
        except Exception as error:
            logger.warning("client/registerCapability failed: %s", error)
            return
        self.watching_files = any(r.method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES for r in registrations)

    def check_pyproject(self) -> None:
        """Without file watching, notice a changed pyproject.toml when a document is opened or saved."""
        if not self.watching_files and self.resolver.check_for_changes():
            self.reanalyse_all()

    # Tasks ----------------------------------------------------------------------------------------

    def background(self, coroutine: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def close(self) -> None:
        """Stop every run and worker; safe to call more than once."""
        self.smoke.close()
        self.scheduler.close()
        self.executor.shutdown(wait=False, cancel_futures=True)
        for task in list(self._background):
            task.cancel()


class LspProgress:
    """Work-done progress (`$/progress`) for smoke runs; the user's cancel cancels the run."""

    def __init__(self, server: NumpyroLintServer) -> None:
        self._server = server

    async def begin(self, title: str, message: str, on_cancel: Any, token: Any = None) -> Any:
        progress = self._server.work_done_progress
        if token is None:
            if not self._server.client_supports("window.work_done_progress"):
                return None
            token = f"numpyro-lint-smoke-{next(_registration_ids)}"
            try:
                await asyncio.wait_for(progress.create_async(token), CLIENT_REQUEST_TIMEOUT_S)
            except Exception as error:
                logger.warning("window/workDoneProgress/create failed: %s", error)
                return None
        progress.begin(token, types.WorkDoneProgressBegin(title=title, message=message, cancellable=True))
        cancelled = progress.tokens.get(token)
        loop = asyncio.get_running_loop()
        if cancelled is not None:
            cancelled.add_done_callback(lambda future: future.cancelled() and loop.call_soon_threadsafe(on_cancel))
        return token

    def report(self, token: Any, message: str) -> None:
        if token is not None:
            self._server.work_done_progress.report(token, types.WorkDoneProgressReport(message=message))

    def end(self, token: Any, message: str) -> None:
        if token is not None:
            self._server.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))
            self._server.work_done_progress.tokens.pop(token, None)


def create_server() -> NumpyroLintServer:
    server = NumpyroLintServer()

    @server.feature(types.INITIALIZE)
    def initialize(ls: NumpyroLintServer, params: types.InitializeParams) -> None:
        ls.workspace.__class__ = LspWorkspace  # pygls has just made it, empty: keep documents in LSP's lines
        root = ls.workspace.root_path or next((to_fs_path(f.uri) for f in ls.workspace.folders.values()), None)
        ls.resolver = SettingsResolver(Path(root) if root else None, ls.show_warning)
        ls._initial_settings = editor_table(params.initialization_options)
        ls.resolver.set_editor_settings(ls._initial_settings)
        ls.pull = (ls.client_supports("text_document.diagnostic")
                   and ls.client_supports("workspace.diagnostics.refresh_support"))
        if ls.pull:
            ls.feature(types.TEXT_DOCUMENT_DIAGNOSTIC, types.DiagnosticOptions(
                identifier=SOURCE, inter_file_dependencies=False, workspace_diagnostics=False,
            ))(document_diagnostic)
        if params.process_id is not None:
            ls.background(watch_process(params.process_id, ls.stop))
        logger.info("numpyro-lint %s (pid %d): %s diagnostics, %s positions", __version__, os.getpid(),
                    "pulled" if ls.pull else "pushed", ls.encoding)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: NumpyroLintServer, params: types.InitializedParams) -> None:
        ls.executor.submit(warm_up)
        await ls.register_watchers()
        await ls.fetch_configuration()
        ls.settings_ready.set()
        ls.reanalyse_all()

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: NumpyroLintServer, params: None) -> None:
        await ls.smoke.aclose()
        ls.close()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: NumpyroLintServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.open_documents.add(params.text_document.uri)
        opened(ls, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: NumpyroLintServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.smoke.clear(params.text_document.uri)
        ls.schedule(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: NumpyroLintServer, params: types.DidSaveTextDocumentParams) -> None:
        saved(ls, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: NumpyroLintServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.open_documents.discard(uri)
        ls.closed(uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_OPEN)
    def notebook_did_open(ls: NumpyroLintServer, params: types.DidOpenNotebookDocumentParams) -> None:
        ls.open_notebooks.add(params.notebook_document.uri)
        opened(ls, params.notebook_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
    def notebook_did_change(ls: NumpyroLintServer, params: types.DidChangeNotebookDocumentParams) -> None:
        ls.smoke.clear(params.notebook_document.uri)
        ls.schedule(params.notebook_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_SAVE)
    def notebook_did_save(ls: NumpyroLintServer, params: types.DidSaveNotebookDocumentParams) -> None:
        saved(ls, params.notebook_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CLOSE)
    def notebook_did_close(ls: NumpyroLintServer, params: types.DidCloseNotebookDocumentParams) -> None:
        uri = params.notebook_document.uri
        ls.open_notebooks.discard(uri)
        ls.closed(uri)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: NumpyroLintServer, params: types.DidChangeConfigurationParams) -> None:
        if ls.client_supports("workspace.configuration"):
            await ls.fetch_configuration()
        elif isinstance(params.settings, dict) and SECTION in params.settings:
            ls.set_editor_settings(params.settings[SECTION])

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(ls: NumpyroLintServer, params: types.DidChangeWatchedFilesParams) -> None:
        if any(change.uri.endswith("/pyproject.toml") for change in params.changes):
            ls.resolver.pyproject_changed()
            ls.reanalyse_all()

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(
        code_action_kinds=[types.CodeActionKind.QuickFix, FIX_ALL_KIND], resolve_provider=True,
    ))
    async def code_action(ls: NumpyroLintServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        return await code_actions(ls, params)

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def code_action_resolve(ls: NumpyroLintServer, action: types.CodeAction) -> types.CodeAction:
        return await resolve_code_action(ls, action)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: NumpyroLintServer, params: types.HoverParams) -> types.Hover | None:
        return await hover_with_site(ls, params)

    @server.feature(types.TEXT_DOCUMENT_CODE_LENS, types.CodeLensOptions(resolve_provider=False))
    async def code_lens(ls: NumpyroLintServer, params: types.CodeLensParams) -> list[types.CodeLens]:
        insight = await current_insight(ls, params.text_document.uri)
        if insight is None:
            return []
        analysis, smoke = insight
        running = ls.smoke.running(analysis.snapshot.uri)
        return model_views.code_lenses(analysis, smoke, running, params.text_document.uri, RUN_SMOKE_COMMAND,
                                       ls.encoding)

    @server.feature(types.TEXT_DOCUMENT_INLAY_HINT, types.InlayHintOptions(resolve_provider=False))
    async def inlay_hint(ls: NumpyroLintServer, params: types.InlayHintParams) -> list[types.InlayHint]:
        insight = await current_insight(ls, params.text_document.uri)
        if insight is None or not insight[0].job.settings.inlay_hints:
            return []
        return model_views.inlay_hints(insight[0], insight[1], params.text_document.uri, params.range, ls.encoding)

    @server.command(model_views.SHOW_GRAPH_COMMAND)
    async def show_graph(ls: NumpyroLintServer, *arguments: Any) -> dict[str, Any]:
        """`numpyro-lint.showGraph <document URI> [{"format": "dot"|"mermaid"|"svg", "model": name}]`."""
        uri = arguments[0] if arguments and isinstance(arguments[0], str) else None
        options = arguments[1] if len(arguments) > 1 and isinstance(arguments[1], dict) else {}
        insight = await current_insight(ls, uri) if uri else None
        if insight is None:
            return {"error": f"not an open document: {uri!r}"}
        model = options.get("model") if isinstance(options.get("model"), str) else None
        return model_views.graph_result(insight[0], model, str(options.get("format", "dot")))

    @server.command(RUN_SMOKE_COMMAND)
    async def run_smoke(ls: NumpyroLintServer, *arguments: Any) -> dict[str, Any]:
        return await run_smoke_command(ls, arguments)

    return server


async def current_insight(ls: NumpyroLintServer, uri: str) -> tuple[Analysis, Any] | None:
    """The analysis of the document (or the notebook of a cell) as it is now, and the smoke result for
    that version, if any."""
    target = ls.analysis_uri(uri)
    if target is None:
        return None
    await ls.settings_ready.wait()
    analysis = await ls.scheduler.current(target)
    if analysis is None:
        return None
    return analysis, ls.smoke.result(target, analysis.snapshot.version)


async def hover_with_site(ls: NumpyroLintServer, params: types.HoverParams) -> types.Hover | None:
    """The sample site under the cursor, and the documentation of the rules reported there."""
    uri = params.text_document.uri
    if ls.analysis_uri(uri) is None:
        return None
    lines = ls.workspace.get_text_document(uri).lines
    line = lines[params.position.line].rstrip("\r\n") if params.position.line < len(lines) else ""
    formats = getattr(getattr(ls.client_capabilities.text_document, "hover", None), "content_format", None)
    markdown = not formats or types.MarkupKind.Markdown in formats
    rules = hover_for(line, params.position, ls.published.get(uri, []), ls.encoding, markdown)
    insight = await current_insight(ls, uri)
    site = model_views.site_hover(*insight, uri, params.position, ls.encoding) if insight is not None else None
    if site is None:
        return rules
    text, site_range = site
    if rules is not None:
        text += "\n\n---\n\n" + rules.contents.value
    kind = types.MarkupKind.Markdown if markdown else types.MarkupKind.PlainText
    return types.Hover(contents=types.MarkupContent(kind=kind, value=text), range=site_range)


def opened(ls: NumpyroLintServer, uri: str) -> None:
    ls.check_pyproject()
    ls.schedule(uri, now=True)
    job = ls.current_job(uri)
    if job is not None and job[1].settings.smoke.enabled and job[1].settings.smoke.on_open:
        ls.smoke.start(job[1].snapshot, job[1].settings, on_open=True)


def saved(ls: NumpyroLintServer, uri: str) -> None:
    ls.check_pyproject()
    job = ls.current_job(uri)
    if job is not None and job[1].settings.smoke.enabled:
        ls.smoke.start(job[1].snapshot, job[1].settings)


async def document_diagnostic(ls: NumpyroLintServer,
                              params: types.DocumentDiagnosticParams) -> types.FullDocumentDiagnosticReport:
    uri = params.text_document.uri
    target = ls.analysis_uri(uri)
    if target is None:
        return types.FullDocumentDiagnosticReport(items=[])
    await ls.settings_ready.wait()
    analysis = await ls.scheduler.current(target)
    items = ls.diagnostics_by_document(analysis).get(uri, []) if analysis is not None else []
    ls.published[uri] = items
    ls.published_parts.setdefault(target, set()).add(uri)
    return types.FullDocumentDiagnosticReport(items=items)


async def code_actions(ls: NumpyroLintServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    uri = params.text_document.uri
    only = params.context.only
    document_changes = ls.client_supports("workspace.workspace_edit.document_changes")
    resolve = ls.client_supports("text_document.code_action.resolve_support") and "edit" in (
        ls.client_capabilities.text_document.code_action.resolve_support.properties)
    target = ls.analysis_uri(uri)
    ours = [d for d in params.context.diagnostics if d.source == SOURCE]
    if target is None or not (ours or kind_requested(FIX_ALL_KIND, only)):
        return []
    analysis = await ls.scheduler.current(target)
    if analysis is None:
        return []
    actions: list[types.CodeAction] = []
    if kind_requested(types.CodeActionKind.QuickFix, only):
        found = ls.found_diagnostics(analysis)
        for diagnostic in ours:
            data = diagnostic.data if isinstance(diagnostic.data, dict) else _published_data(ls, uri, diagnostic)
            match = find_diagnostic(found, diagnostic.code, data, analysis.snapshot.version)
            if match is not None:  # else found in an older version: the client is about to get the new ones
                actions.extend(quick_fix_actions(diagnostic, analysis.with_fixes(match), analysis.snapshot,
                                                 analysis.job.encoding, document_changes))
    if kind_requested(FIX_ALL_KIND, only) and target == uri and analysis.may_fix_safely:
        action = types.CodeAction(title=f"{SOURCE}: apply all safe fixes", kind=FIX_ALL_KIND)
        if resolve:
            action.data = {"fixAll": uri}
        else:
            edits = await fix_all(ls, analysis)
            if not edits:
                return actions
            action.edit = workspace_edit(edits, document_changes)
        actions.append(action)
    return actions


async def fix_all(ls: NumpyroLintServer, analysis: Analysis) -> list[dict[str, Any]]:
    """Every safe fix, to a fixed point, as edits; computed on the worker (it lints several times)."""
    fixed = await asyncio.get_running_loop().run_in_executor(ls.executor, analysis.fixed_text)
    return fix_all_edits(analysis.snapshot, fixed, analysis.job.encoding)


def _published_data(ls: NumpyroLintServer, uri: str, diagnostic: types.Diagnostic) -> dict[str, Any]:
    """For clients that do not send `data` back: the data of the diagnostic we published there."""
    for published in ls.published.get(uri, []):
        if published.code == diagnostic.code and published.range == diagnostic.range:
            return published.data if isinstance(published.data, dict) else {}
    return {}


async def resolve_code_action(ls: NumpyroLintServer, action: types.CodeAction) -> types.CodeAction:
    data = action.data if isinstance(action.data, dict) else {}
    document_changes = ls.client_supports("workspace.workspace_edit.document_changes")
    if "fixAll" in data and ls.analysis_uri(data["fixAll"]) == data["fixAll"]:
        analysis = await ls.scheduler.current(data["fixAll"])
        if analysis is not None:
            action.edit = workspace_edit(await fix_all(ls, analysis), document_changes)
    return action


async def run_smoke_command(ls: NumpyroLintServer, arguments: tuple[Any, ...]) -> dict[str, Any]:
    """`numpyro-lint.runSmoke <document URI>`: run it now; returns {"findings": n} or {"error": why}."""
    uri = arguments[0] if arguments and isinstance(arguments[0], str) else None
    target = ls.analysis_uri(uri) if uri else None
    if target is None:
        return {"error": f"not an open document: {uri!r}"}
    if not ls.smoke.available:
        ls.show_warning("numpyro-lint: smoke runs are unavailable (the runner is not installed)")
        return {"error": "smoke runs are unavailable"}
    job = ls.current_job(target)
    assert job is not None
    if not ls.smoke.may_run(job[1].snapshot):
        return {"error": "only files inside the workspace are run"}
    task = ls.smoke.start(job[1].snapshot, job[1].settings)
    if task is None:
        return {"error": "smoke runs are unavailable"}
    try:
        found = await asyncio.shield(task)
    except asyncio.CancelledError:
        return {"error": "cancelled"}
    return {"error": "the run failed; see the log"} if found is None else {"findings": len(found)}
