"""Edit storms against the real server over stdio: random edits to example models (brackets, quotes, tabs,
emoji, CRLF, 5,000-character lines, truncations, whole replacements) sent as incremental UTF-16
`didChange`s, with hovers, quick fixes and fix-all requested in between. Every request is answered, the
server logs no error or warning, and its diagnostics (during the storm, after it, for an empty text, for a
lone CRLF, and for the original text sent again) are exactly those a fresh analysis of the editor's text gives.

One server serves every example (starting one costs more than a storm); each storm has its own document.
The edits come from tests/random_edits.py with a seed drawn by hypothesis, not from its `st.randoms()`,
whose values favour small offsets (the top of the file), so that few storms reach the lines below an
edit. A failing seed shrinks to its fewest steps, the same edits cut short.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from pathlib import Path
from typing import Any, Awaitable, Coroutine, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsprotocol import types
from pygls.exceptions import JsonRpcContentModified, JsonRpcException, JsonRpcRequestCancelled
from pytest_lsp import LspSpecificationWarning
from random_edits import LINE_BREAK, Change, random_change, random_position, random_range, utf16_units
from server_helpers import (
    TIMEOUT_S,
    Client,
    apply_text_edits,
    edits_for,
    open_document,
    recorded_capabilities,
    replace_text,
    session,
)

from numpyro_lint.config import settings_from_mapping
from numpyro_lint.diagnostic import render_message
from numpyro_lint.linter import lint_text

pytestmark = [pytest.mark.filterwarnings("error", category=LspSpecificationWarning), pytest.mark.slow]

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
#: Examples with safe fixes, unsafe fixes and fix-less findings between them.
MODELS = ["eight_schools_centered.py", "poisson_glm.py", "radon_hierarchical.py", "debug_print_append.py",
          "vague_priors.py", "rasch_irt.py"]
INIT_OPTIONS = {"debounce-ms": 0}
#: What the server answers a request it will not finish; anything else is a bug.
EXPECTED_ERRORS = (JsonRpcContentModified, JsonRpcRequestCancelled)
ACTIONS = {"edit": 12, "hover": 2, "code action": 2, "fix all": 1, "check": 1}

T = TypeVar("T")


def expected_diagnostics(text: str, path: Path) -> list[tuple[str, types.Range, str]]:
    """(code, range, message) of a fresh in-process analysis, its code-point columns turned into UTF-16
    here (a position past the end clamped to the end, as LSP clients do)."""
    lines = LINE_BREAK.split(text)

    def at(line: int, col: int) -> types.Position:
        if line > len(lines):
            line, col = len(lines), len(lines[-1])
        return types.Position(line - 1, utf16_units(lines[line - 1][:col]))

    result = lint_text(text, str(path), settings_from_mapping(INIT_OPTIONS))
    return [(d.code, types.Range(at(d.span.line, d.span.col), at(d.span.end_line, d.span.end_col)),
             render_message(d.message, lambda line: (None, line))) for d in result.diagnostics]


def published(diagnostics: list[types.Diagnostic]) -> list[tuple[str, types.Range, str]]:
    return [(str(d.code), d.range, d.message) for d in diagnostics]


def lsp_change(change: Change) -> types.TextDocumentContentChangeEvent:
    if change.range is None:
        return types.TextDocumentContentChangeWholeDocument(text=change.text)
    start, end = change.range
    return types.TextDocumentContentChangePartial(
        types.Range(types.Position(*start), types.Position(*end)), text=change.text)


class Storm:
    """One document under random edits, with requests in flight meanwhile; `text` is what the client
    (an editor) has."""

    def __init__(self, client: Client, path: Path, text: str, rng: random.Random) -> None:
        self.client, self.path, self.rng = client, path, rng
        self.original = self.text = text
        self.uri = open_document(client, path, text)
        self.version = 1
        self.in_flight: list[asyncio.Task[Any]] = []
        self.errors: list[JsonRpcException] = []

    def change(self, changes: list[types.TextDocumentContentChangeEvent], text: str) -> None:
        self.version += 1
        self.text = text
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(uri=self.uri, version=self.version), changes))

    def replace_all(self, text: str) -> None:
        self.version += 1
        self.text = text
        replace_text(self.client, self.uri, self.version, text)

    async def send(self, request: Coroutine[Any, Any, Any]) -> None:
        """Send `request` now and await its answer later (a client coroutine sends on its first step)."""
        self.in_flight.append(asyncio.ensure_future(request))
        await asyncio.sleep(0)  # one turn of the loop, not a wait: the task writes the request

    async def answered(self, request: Awaitable[T]) -> T | None:
        """The answer to `request`; an error answer is an answer (kept in `errors`), silence fails."""
        try:
            return await asyncio.wait_for(asyncio.shield(request), TIMEOUT_S)
        except asyncio.TimeoutError:
            raise AssertionError(f"a request got no answer within {TIMEOUT_S} s") from None
        except JsonRpcException as error:
            self.errors.append(error)
            return None

    async def step(self) -> None:
        action = self.rng.choices(list(ACTIONS), weights=list(ACTIONS.values()))[0]
        document = types.TextDocumentIdentifier(self.uri)
        if action == "edit":
            change, text = random_change(self.rng, self.text, self.original)
            self.change([lsp_change(change)], text)
        elif action == "hover":
            at = types.Position(*random_position(self.rng, self.text))
            await self.send(self.client.text_document_hover_async(types.HoverParams(document, at)))
        elif action == "code action":
            start, end = random_range(self.rng, self.text)
            diagnostics = list(self.client.diagnostics.get(self.uri, []))  # as the editor last saw them
            await self.send(self.client.text_document_code_action_async(types.CodeActionParams(
                document, types.Range(types.Position(*start), types.Position(*end)),
                types.CodeActionContext(diagnostics))))
        elif action == "fix all":
            await self.fix_all()
        else:
            await self.check_diagnostics()

    async def fix_all(self) -> None:
        """Ask for fix-all, resolve it and apply it as an editor would: only to the version it is for."""
        document = types.TextDocumentIdentifier(self.uri)
        whole = types.Range(types.Position(0, 0), types.Position(0, 0))
        actions = await self.answered(self.client.text_document_code_action_async(types.CodeActionParams(
            document, whole, types.CodeActionContext([], only=["source.fixAll.numpyro-lint"]))))
        for action in actions or []:
            if isinstance(action, types.CodeAction) and action.edit is None:
                action = await self.answered(self.client.code_action_resolve_async(action))
            if not isinstance(action, types.CodeAction) or action.edit is None:
                continue
            versions = {change.text_document.version for change in action.edit.document_changes or []}
            if versions == {self.version}:
                edits = edits_for(action.edit, self.uri)
                last_first = sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True)
                self.change([types.TextDocumentContentChangePartial(e.range, text=e.new_text) for e in last_first],
                            apply_text_edits(self.text, edits, "utf-16"))

    async def check_diagnostics(self) -> None:
        """The server has the editor's text: for this version it publishes what a fresh analysis finds."""
        diagnostics = await self.client.wait_for_diagnostics(self.uri, lambda _: True, version=self.version)
        assert published(diagnostics) == expected_diagnostics(self.text, self.path), f"version {self.version}"


def complaints(client: Client) -> list[str]:
    """Errors and warnings the server has shown or logged, and whatever it wrote to stderr."""
    shown = [m.message for m in [*client.messages, *client.log_messages]
             if m.type in (types.MessageType.Error, types.MessageType.Warning)]
    return shown + client.stderr_lines


async def run_storm(client: Client, path: Path, text: str, seed: int, steps: int) -> None:
    before = len(complaints(client))
    storm = Storm(client, path, text, random.Random(seed))
    try:
        for _ in range(steps):
            await storm.step()
        for request in storm.in_flight:
            await storm.answered(request)
    finally:  # never cancel a request: pytest-lsp takes the answer to a cancelled one for a broken server
        if storm.in_flight:
            await asyncio.wait(storm.in_flight, timeout=TIMEOUT_S)

    await storm.check_diagnostics()
    for text in ("", "\r\n", storm.original):
        storm.replace_all(text)
        await storm.check_diagnostics()
    client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(storm.uri)))
    assert not [error for error in storm.errors if not isinstance(error, EXPECTED_ERRORS)]
    assert complaints(client)[before:] == []


def test_edit_storms_are_answered_and_leave_exact_diagnostics(tmp_path: Path):
    loop = asyncio.new_event_loop()
    server = contextlib.AsyncExitStack()
    names = (f"model_{n}.py" for n in itertools.count())
    try:
        client: Client = loop.run_until_complete(server.enter_async_context(session(
            recorded_capabilities("visual_studio_code_v1.65.2"), tmp_path, init_options=INIT_OPTIONS)))

        @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(model=st.sampled_from(MODELS), seed=st.integers(0, 2**32 - 1), steps=st.integers(20, 150))
        def storm(model: str, seed: int, steps: int) -> None:
            text = (EXAMPLES / model).read_text(encoding="utf-8")
            loop.run_until_complete(run_storm(client, tmp_path / next(names), text, seed, steps))

        storm()
    finally:
        loop.run_until_complete(server.aclose())
        loop.close()
    assert complaints(client) == []  # shutting down included
