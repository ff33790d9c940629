"""A real LSP client for the server tests: pytest-lsp over stdio, recording what the server sends and
waking tests when it arrives (tests wait on events with a timeout, never sleep)."""

from __future__ import annotations

import asyncio
import json
import sys
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Callable, TypeVar

from lsprotocol import types
from lsprotocol.converters import get_converter
from pygls.protocol import default_converter
from pytest_lsp import ClientServerConfig, LanguageClient
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

SERVER_COMMAND = [sys.executable, "-m", "numpyro_lint", "server"]
CLIENTS = Path(__file__).parent / "fixtures" / "lsp-clients"
RUNNER_STATE = "numpyro-lint/runnerState"
RECORDED_CLIENTS = ["visual_studio_code_v1.65.2", "neovim_v0.11.0", "neovim_v0.12.0-dev"]
TIMEOUT_S = 20.0

T = TypeVar("T")

MODEL = '''\
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist


def model(n, y=None):
    x = jnp.zeros(n)
    label = "😀😀"; x[0] = numpyro.sample("x0", dist.Normal(0, 1))
    print(x)
    numpyro.sample("y", dist.Normal(x, 1), obs=y)
'''


def recorded_capabilities(name: str) -> types.ClientCapabilities:
    data = json.loads((CLIENTS / f"{name}.json").read_text(encoding="utf-8"))
    return get_converter().structure(data, types.InitializeParams).capabilities


def pull_capabilities() -> types.ClientCapabilities:
    """VS Code's recorded capabilities plus pull diagnostics with refresh (as VS Code 1.67+ has)."""
    capabilities = recorded_capabilities("visual_studio_code_v1.65.2")
    capabilities.text_document.diagnostic = types.DiagnosticClientCapabilities(dynamic_registration=True)
    capabilities.workspace.diagnostics = types.DiagnosticWorkspaceClientCapabilities(refresh_support=True)
    return capabilities


class Client(LanguageClient):
    """Records every publishDiagnostics (with its version) and runnerState, and wakes `wait_for` on each
    notification."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.publications: list[types.PublishDiagnosticsParams] = []
        self.applied_edits: list[types.ApplyWorkspaceEditParams] = []
        self.registrations: list[types.Registration] = []
        #: The params of every `numpyro-lint/runnerState`, as plain dicts.
        self.runner_states: list[dict[str, Any]] = []
        self.initialize_result: types.InitializeResult | None = None
        self.refreshes = 0
        #: Requests to ask again for code lenses or inlay hints.
        self.insight_refreshes = 0
        #: What the server wrote to stderr, line by line (also passed on to the test's stderr).
        self.stderr_lines: list[str] = []
        self._arrived = asyncio.Event()

    async def start_io(self, cmd: str, *args: Any, **kwargs: Any) -> None:
        await super().start_io(cmd, *args, **kwargs)
        if self._stderr_forwarder is not None:  # pytest-lsp's forwarder only passes stderr on
            self._stderr_forwarder.cancel()
            self._stderr_forwarder = asyncio.create_task(self._record_stderr())

    async def _record_stderr(self) -> None:
        while line := await self._server.stderr.readline():
            self.stderr_lines.append(line.decode("utf-8", "replace"))
            sys.stderr.write(self.stderr_lines[-1])

    def wake(self) -> None:
        arrived, self._arrived = self._arrived, asyncio.Event()
        arrived.set()

    async def wait_for(self, predicate: Callable[[], T], timeout: float = TIMEOUT_S) -> T:
        """Wait until `predicate()` is truthy (re-checked on every message from the server)."""
        async def until() -> T:
            while not (result := predicate()):
                await self._arrived.wait()
            return result
        return await asyncio.wait_for(until(), timeout)

    async def wait_for_diagnostics(self, uri: str, predicate: Callable[[list[types.Diagnostic]], bool] = bool,
                                   version: int | None = None) -> list[types.Diagnostic]:
        """The newest diagnostics published for `uri` (for `version`, when given) once they satisfy
        `predicate`."""
        def found() -> list[types.Diagnostic] | None:
            for params in reversed(self.publications):
                if params.uri == uri:
                    if version is not None and params.version != version:
                        return None
                    items = list(params.diagnostics)
                    return items if predicate(items) else None
            return None
        results: list[list[types.Diagnostic]] = []

        def ready() -> bool:
            result = found()
            if result is not None:
                results.append(result)
            return result is not None

        await self.wait_for(ready)
        return results[-1]


def _publish(ls: Client, params: types.PublishDiagnosticsParams) -> None:
    ls.diagnostics[params.uri] = params.diagnostics
    ls.publications.append(params)
    ls.wake()


def _runner_state(ls: Client, params: Any) -> None:
    ls.runner_states.append(params._asdict())  # pygls hands the params of a custom method as a namedtuple
    ls.wake()


def _wrap(method: str) -> Callable[..., Any]:
    default = DEFAULT_CLIENT_FEATURES[method]

    def handler(ls: Client, params: Any) -> Any:
        result = default(ls, params)
        if method == types.WORKSPACE_DIAGNOSTIC_REFRESH:
            ls.refreshes += 1
        ls.wake()
        return result

    return handler


def _apply_edit(ls: Client, params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
    ls.applied_edits.append(params)
    ls.wake()
    return types.ApplyWorkspaceEditResult(applied=True)


def _register(ls: Client, params: types.RegistrationParams) -> None:
    ls.registrations.extend(params.registrations)
    ls.wake()


def _insight_refresh(ls: Client, params: Any) -> None:
    """`workspace/codeLens/refresh` and `workspace/inlayHint/refresh`: counted, like diagnostic refreshes."""
    ls.insight_refreshes += 1
    ls.wake()


def make_client() -> Client:
    client = Client(converter_factory=default_converter)
    features = {method: _wrap(method) for method in DEFAULT_CLIENT_FEATURES}
    features[types.WORKSPACE_CODE_LENS_REFRESH] = _insight_refresh
    features[types.WORKSPACE_INLAY_HINT_REFRESH] = _insight_refresh
    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = _publish
    features[types.WORKSPACE_APPLY_EDIT] = _apply_edit
    features[types.CLIENT_REGISTER_CAPABILITY] = _register
    features[RUNNER_STATE] = _runner_state
    register_lsp_features(client, features)
    return client


@asynccontextmanager
async def session(capabilities: types.ClientCapabilities, root: Path, *, init_options: Any = None,
                  configuration: dict[str, Any] | None = None, command: list[str] | None = None,
                  process_id: int | None = None, env: dict[str, str] | None = None) -> AsyncIterator[Client]:
    """A server started over stdio and initialized, shut down and exited at the end."""
    config = ClientServerConfig(server_command=command or SERVER_COMMAND, client_factory=make_client,
                                server_env=env)
    client: Client = await config.start()  # type: ignore[assignment]
    try:
        if configuration is not None:
            client.set_configuration(configuration, section="numpyro-lint")
        client.initialize_result = await asyncio.wait_for(client.initialize_session(types.InitializeParams(
            capabilities=capabilities,
            process_id=process_id,
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(root.as_uri(), root.name)],
            initialization_options=init_options,
        )), TIMEOUT_S)
        yield client
        await asyncio.wait_for(client.shutdown_session(), TIMEOUT_S)
    finally:
        server = client._server  # pygls' stop() waits for the server to exit: make sure it does
        if server is not None and server.returncode is None:
            try:
                await asyncio.wait_for(asyncio.shield(server.wait()), 5)
            except asyncio.TimeoutError:
                server.kill()
        await asyncio.wait_for(client.stop(), TIMEOUT_S)


def open_document(client: LanguageClient, path: Path, text: str, version: int = 1,
                  language_id: str = "python") -> str:
    path.write_text(text, encoding="utf-8")
    uri = path.as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri=uri, language_id=language_id, version=version, text=text)))
    return uri


def replace_text(client: LanguageClient, uri: str, version: int, text: str) -> None:
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        [types.TextDocumentContentChangeWholeDocument(text=text)],
    ))


# What an editor does with edits ---------------------------------------------------------------------

def _units(char: str, encoding: str) -> int:
    if encoding == "utf-8":
        return len(char.encode("utf-8"))
    if encoding == "utf-32":
        return 1
    return 2 if ord(char) > 0xFFFF else 1


def offset_of(text: str, position: types.Position, encoding: str) -> int:
    """Index into `text` of an LSP position counted in `encoding` units, as an editor computes it."""
    lines = text.splitlines(keepends=True) or [""]
    offset = sum(len(line) for line in lines[:position.line])
    line = lines[position.line] if position.line < len(lines) else ""
    units = 0
    for index, char in enumerate(line.rstrip("\r\n")):
        if units >= position.character:
            return offset + index
        units += _units(char, encoding)
    return offset + len(line.rstrip("\r\n"))


def apply_text_edits(text: str, edits: list[types.TextEdit], encoding: str) -> str:
    spans = sorted(((offset_of(text, e.range.start, encoding), offset_of(text, e.range.end, encoding), e.new_text)
                    for e in edits), reverse=True)
    for start, end, new_text in spans:
        text = text[:start] + new_text + text[end:]
    return text


def edits_for(edit: types.WorkspaceEdit, uri: str) -> list[types.TextEdit]:
    if edit.document_changes:
        return [text_edit for change in edit.document_changes if isinstance(change, types.TextDocumentEdit)
                and change.text_document.uri == uri for text_edit in change.edits]  # type: ignore[misc]
    return list((edit.changes or {}).get(uri, []))


def apply_workspace_edit(text: str, uri: str, edit: types.WorkspaceEdit, encoding: str) -> str:
    return apply_text_edits(text, edits_for(edit, uri), encoding)
