"""Smoke runs from the editor, with a stand-in runner (tests/fixtures/fake_smoke_server.py): started on
save, shown as progress and as the runner's state, merged with the static diagnostics, cleared on change,
run on request, cancelled from the progress UI, stopped with the server, and never run on a file outside
the workspace."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LspSpecificationWarning
from server_helpers import MODEL, Client, open_document, recorded_capabilities, replace_text, session

from numpyro_lint.diagnostic import Applicability, Diagnostic, Fix, Span
from numpyro_lint.server.smoke import merge_findings

pytestmark = pytest.mark.filterwarnings("error", category=LspSpecificationWarning)
FAKE_SERVER = [sys.executable, str(Path(__file__).parent / "fixtures" / "fake_smoke_server.py")]
#: Runs on save only: the run on open has its own test.
SMOKE_ON = {"debounce-ms": 0, "select": ["NPL102", "NPL106", "NPL9"],
            "smoke": {"enabled": True, "on-open": False, "warmup": 20}}


def codes(diagnostics: list[types.Diagnostic]) -> list[str]:
    return [str(d.code) for d in diagnostics]


def events(log: Path) -> list[str]:
    """What the stand-in runner did: `start`, `done`, `cancelled`, `failed`, `close`."""
    return [line.split()[0] for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []


def children(log: Path) -> list[int]:
    """The child processes the stand-in runner started."""
    lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    return [int(line.split()[1]) for line in lines if line.startswith("start ")]


def save(client: Client, uri: str) -> None:
    client.text_document_did_save(types.DidSaveTextDocumentParams(types.TextDocumentIdentifier(uri)))


def progress_messages(client: Client) -> list[tuple[str, str | None]]:
    return [(value.kind, value.message) for values in client.progress_reports.values() for value in values]


@pytest.fixture
def runner_log(tmp_path: Path) -> Path:
    return tmp_path / "runner.log"


def fake_session(tmp_path: Path, runner_log: Path, options=SMOKE_ON, *args: str, editor="visual_studio_code_v1.65.2"):
    return session(recorded_capabilities(editor), tmp_path, init_options=options, command=[*FAKE_SERVER, *args],
                   env={**os.environ, "FAKE_RUNNER_LOG": str(runner_log)})


async def test_save_runs_the_model_and_merges_its_findings_until_the_text_changes(tmp_path, runner_log):
    async with fake_session(tmp_path, runner_log) as client:
        uri = open_document(client, tmp_path / "model.py", MODEL)
        assert codes(await client.wait_for_diagnostics(uri, version=1)) == ["NPL106", "NPL102"]
        replace_text(client, uri, 2, MODEL)
        assert "start" not in events(runner_log)  # changes never start a run
        save(client, uri)
        merged = await client.wait_for_diagnostics(uri, lambda items: "NPL901" in codes(items))
        actions = await client.text_document_code_action_async(types.CodeActionParams(
            types.TextDocumentIdentifier(uri), merged[0].range, types.CodeActionContext(merged[:1])))
        replace_text(client, uri, 3, MODEL + "\n")
        after_change = await client.wait_for_diagnostics(uri, version=3)

    assert codes(merged) == ["NPL901", "NPL106", "NPL102"]  # in position order
    assert merged[0].range.start.line == MODEL.splitlines().index("def model(n, y=None):")
    disable = next(action for action in actions if action.kind == types.CodeActionKind.QuickFix)
    assert disable.title == "numpyro-lint (NPL901): Disable NPL901 for this line"
    assert disable.edit.document_changes[0].edits[0].new_text == "  # noqa: NPL901"
    assert codes(after_change) == ["NPL106", "NPL102"]
    assert progress_messages(client) == [
        ("begin", "model.py"), ("report", "compiling"), ("report", "warmup 20/20"), ("end", "1 finding")]
    assert events(runner_log)[-1] == "close"


async def test_the_document_opened_last_runs_at_once_and_a_save_of_that_version_adopts_the_run(
        tmp_path, runner_log):
    options = {**SMOKE_ON, "smoke": {"enabled": True, "warmup": 20}}
    async with fake_session(tmp_path, runner_log, options) as client:
        first = open_document(client, tmp_path / "first.py", MODEL + "# slow\n")
        await client.wait_for(lambda: events(runner_log) == ["start"])
        save(client, first)  # the same version: adopts the run started on open
        second = open_document(client, tmp_path / "second.py", MODEL + "# slow\n")
        await client.wait_for(lambda: events(runner_log).count("start") == 2)
        third = open_document(client, tmp_path / "third.py", MODEL)  # cancels the second's run only
        merged = await client.wait_for_diagnostics(third, lambda items: "NPL901" in codes(items), version=1)
        await client.wait_for(lambda: "cancelled" in events(runner_log))
        running = events(runner_log)

    assert codes(merged) == ["NPL901", "NPL106", "NPL102"]
    assert sorted(running) == ["cancelled", "done", "start", "start", "start"]
    assert events(runner_log)[len(running):] == ["cancelled", "close"]  # the first, adopted, ran on


async def test_no_run_on_save_unless_smoke_is_enabled(tmp_path, runner_log):
    async with fake_session(tmp_path, runner_log, {"debounce-ms": 0}) as client:
        uri = open_document(client, tmp_path / "model.py", MODEL)
        await client.wait_for_diagnostics(uri, version=1)
        save(client, uri)
        result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
            "numpyro-lint.runSmoke", [uri]))  # on request it runs all the same

    assert result == {"findings": 1}
    assert events(runner_log) == ["start", "done", "close"]


async def test_run_smoke_command_and_cancelling_it_from_the_progress_ui(tmp_path, runner_log):
    async with fake_session(tmp_path, runner_log, {**SMOKE_ON, "smoke": {"enabled": False}}) as client:
        uri = open_document(client, tmp_path / "model.py", MODEL + "# slow\n")
        await client.wait_for_diagnostics(uri, version=1)
        command = asyncio.ensure_future(client.workspace_execute_command_async(
            types.ExecuteCommandParams("numpyro-lint.runSmoke", [uri])))
        token = await client.wait_for(lambda: next(iter(client.progress_reports), None))
        await client.wait_for(lambda: ("report", "compiling") in progress_messages(client))
        client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token))
        result = await command

    assert result == {"error": "cancelled"}
    assert events(runner_log)[:2] == ["start", "cancelled"]
    assert not any(_alive(pid) for pid in children(runner_log))


async def test_a_new_save_cancels_the_run_in_flight(tmp_path, runner_log):
    async with fake_session(tmp_path, runner_log) as client:
        uri = open_document(client, tmp_path / "model.py", MODEL + "# slow\n")
        await client.wait_for_diagnostics(uri, version=1)
        save(client, uri)
        await client.wait_for(lambda: "start" in events(runner_log))
        replace_text(client, uri, 2, MODEL)
        save(client, uri)
        merged = await client.wait_for_diagnostics(uri, lambda items: "NPL901" in codes(items), version=2)

    assert codes(merged) == ["NPL901", "NPL106", "NPL102"]
    log = events(runner_log)
    assert log.index("cancelled") < log.index("done")


async def test_findings_of_a_stage_are_shown_while_the_run_goes_on(tmp_path, runner_log):
    async with fake_session(tmp_path, runner_log) as client:
        uri = open_document(client, tmp_path / "model.py", MODEL + "# partial\n# slow\n")
        await client.wait_for_diagnostics(uri, version=1)
        save(client, uri)
        partial = await client.wait_for_diagnostics(uri, lambda items: "NPL903" in codes(items), version=1)

    assert codes(partial) == ["NPL903", "NPL106", "NPL102"]
    assert "done" not in events(runner_log)


def test_a_smoke_diagnostic_replaces_the_static_one_on_the_same_span():
    static = (Diagnostic("NPL501", "centered", Span(3, 4, 3, 9), fix=Fix("reparam", Applicability.SAFE, ())),
              Diagnostic("NPL102", "print", Span(5, 4, 5, 9)))
    measured = replace(static[0], message="centered; the fix removed 14 of 14 divergences")
    smoke = (measured, Diagnostic("NPL901", "divergences", Span(1, 4, 1, 9)))
    merged = merge_findings(static, smoke)
    assert [(d.code, d.message) for d in merged] == [
        ("NPL901", "divergences"), ("NPL501", "centered; the fix removed 14 of 14 divergences"), ("NPL102", "print")]
    assert merged[1].fix is not None


async def test_shutdown_stops_a_run_and_its_child_process(tmp_path, runner_log):
    async with fake_session(tmp_path, runner_log) as client:
        uri = open_document(client, tmp_path / "model.py", MODEL + "# slow\n")
        await client.wait_for_diagnostics(uri, version=1)
        save(client, uri)
        await client.wait_for(lambda: "start" in events(runner_log))

    assert client._server.returncode == 0
    assert events(runner_log) == ["start", "cancelled", "close"]
    assert not any(_alive(pid) for pid in children(runner_log))


async def test_without_the_runner_smoke_is_unavailable_and_the_log_says_so(tmp_path, runner_log):
    async with fake_session(tmp_path, runner_log, SMOKE_ON, "--no-runner") as client:
        uri = open_document(client, tmp_path / "model.py", MODEL)
        await client.wait_for_diagnostics(uri, version=1)
        save(client, uri)
        result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
            "numpyro-lint.runSmoke", [uri]))
        await client.wait_for(lambda: client.messages)

    assert result == {"error": "smoke runs are unavailable"}
    assert any("smoke runs are unavailable" in m.message for m in client.log_messages)
    assert "unavailable" in client.messages[0].message


async def states_until_idle(client: Client, since: int) -> list[dict]:
    """The runner states sent after the first `since`, once the last of them is idle."""
    def ended() -> list[dict] | None:
        states = client.runner_states[since:]
        return states if states and states[-1]["state"] == "idle" else None
    return await client.wait_for(ended)


async def test_the_runner_state_follows_each_run_to_its_findings_or_back_to_idle(tmp_path, runner_log):
    async with fake_session(tmp_path, runner_log) as client:
        uri = open_document(client, tmp_path / "model.py", MODEL)
        await client.wait_for_diagnostics(uri, version=1)
        save(client, uri)
        finished = await states_until_idle(client, 0)

        replace_text(client, uri, 2, MODEL + "# slow\n")
        save(client, uri)
        since = len(client.runner_states)
        await client.wait_for(lambda: {"state": "sampling"} in client.runner_states[since:])
        token = next(reversed(client.progress_reports))
        client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token))
        cancelled = await states_until_idle(client, since)

        replace_text(client, uri, 3, MODEL + "# fails\n")
        save(client, uri)
        failed = await states_until_idle(client, len(client.runner_states))

    assert finished == [{"state": "compiling"}, {"state": "sampling"}, {"state": "idle", "findings": 1}]
    assert cancelled == [{"state": "compiling"}, {"state": "sampling"}, {"state": "idle"}]
    assert failed == [{"state": "compiling"}, {"state": "sampling"}, {"state": "idle"}]
    assert "failed" in client.messages[0].message


async def run_smoke(client: Client, uri: str) -> dict:
    return await client.workspace_execute_command_async(types.ExecuteCommandParams("numpyro-lint.runSmoke", [uri]))


async def test_only_files_inside_the_workspace_are_run(tmp_path, runner_log):
    workspace, elsewhere = tmp_path / "workspace", tmp_path / "elsewhere"
    (workspace / "models").mkdir(parents=True)
    elsewhere.mkdir()
    (workspace / "linked.py").symlink_to(elsewhere / "model.py")
    untitled = "untitled:Untitled-1"
    async with fake_session(workspace, runner_log) as client:
        outside = open_document(client, elsewhere / "model.py", MODEL)
        linked = open_document(client, workspace / "linked.py", MODEL)
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            types.TextDocumentItem(uri=untitled, language_id="python", version=1, text=MODEL)))
        for uri in (outside, linked, untitled):
            save(client, uri)
            save(client, uri)
        refused = [await run_smoke(client, uri) for uri in (outside, linked, untitled)]
        ran = await run_smoke(client, open_document(client, workspace / "models" / "model.py", MODEL))

    assert refused == [{"error": "only files inside the workspace are run"}] * 3
    assert ran == {"findings": 1}
    assert events(runner_log) == ["start", "done", "close"]
    for uri in (outside, linked, untitled):  # said once, not on every save
        assert sum(uri in m.message and "inside the workspace" in m.message for m in client.log_messages) == 1


def _alive(pid: int) -> bool:
    from numpyro_lint.server.lifecycle import process_alive

    return process_alive(pid)



@pytest.mark.slow
@pytest.mark.smoke
async def test_the_real_runner_from_the_editor(tmp_path: Path):
    pytest.importorskip("jax")
    pytest.importorskip("numpyro")
    text = (Path(__file__).resolve().parents[1] / "examples" / "eight_schools_centered.py").read_text(encoding="utf-8")
    options = {"debounce-ms": 0, "select": ["NPL5", "NPL9"],
               "smoke": {"enabled": True, "chains": 1, "warmup": 30, "samples": 30}}
    async with session(recorded_capabilities("visual_studio_code_v1.65.2"), tmp_path, init_options=options) as client:
        uri = open_document(client, tmp_path / "eight_schools.py", text)
        await client.wait_for_diagnostics(uri, version=1)
        save(client, uri)
        await client.wait_for(lambda: ("end" in [kind for kind, _ in progress_messages(client)]), timeout=600)
        merged = list(client.diagnostics[uri])
        replace_text(client, uri, 2, text + "\n")
        after_change = await client.wait_for_diagnostics(uri, version=2)

    end = progress_messages(client)[-1]
    assert end[0] == "end" and end[1].endswith(("finding", "findings")), (end, client.log_messages)
    assert codes(merged).count("NPL501") == 1  # the runner's measured NPL501 replaces the static one
    assert codes(after_change) == ["NPL501"]
    assert client.messages == []
