"""Model insight in the editor: a code lens per model (run it; then what the run found), the hover on a
sample site (what the code says; then shapes, prior quantiles and the smoke posterior), shape inlay
hints when they are turned on, and the `numpyro-lint.showGraph` command. The smoke runs here are the
stand-in runner's (tests/fixtures/fake_smoke_server.py); the last test runs the real one."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LspSpecificationWarning
from server_helpers import Client, open_document, recorded_capabilities, replace_text, session

pytestmark = pytest.mark.filterwarnings("error", category=LspSpecificationWarning)
FAKE_SERVER = [sys.executable, str(Path(__file__).parent / "fixtures" / "fake_smoke_server.py")]
VSCODE = "visual_studio_code_v1.65.2"
STATIC = {"debounce-ms": 0}
SMOKE_ON_SAVE = {"debounce-ms": 0, "smoke": {"enabled": True, "on-open": False, "samples": 300}}

MODEL = '''\
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist


def model(n, y=None):
    label = "😀😀"; x0 = numpyro.sample("x0", dist.Normal(0, 1))
    with numpyro.plate("data", n):
        numpyro.sample("y", dist.Normal(x0, 1), obs=y)


def other(k):
    scale = numpyro.sample("scale", dist.HalfCauchy(2.0))
    with numpyro.plate("outer", k):
        with numpyro.plate("inner", 3, dim=-2):
            return numpyro.sample("z", dist.Normal(0, scale))
'''
LINES = MODEL.splitlines()


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def at(line: int, fragment: str, offset: int = 1) -> types.Position:
    """The position `offset` UTF-16 units into the first `fragment` on 0-based `line` of MODEL."""
    text = LINES[line]
    return types.Position(line, utf16(text[:text.index(fragment)]) + offset)


def fake_session(tmp_path: Path, options, editor: str = VSCODE):
    return session(recorded_capabilities(editor), tmp_path, init_options=options, command=FAKE_SERVER,
                   env={**os.environ, "FAKE_RUNNER_LOG": str(tmp_path / "runner.log")})


async def hover(client: Client, uri: str, position: types.Position) -> types.Hover | None:
    return await client.text_document_hover_async(types.HoverParams(types.TextDocumentIdentifier(uri), position))


async def lenses(client: Client, uri: str) -> list[types.CodeLens]:
    return await client.text_document_code_lens_async(types.CodeLensParams(types.TextDocumentIdentifier(uri)))


async def hints(client: Client, uri: str) -> list[types.InlayHint]:
    whole = types.Range(types.Position(0, 0), types.Position(len(LINES), 0))
    return await client.text_document_inlay_hint_async(types.InlayHintParams(types.TextDocumentIdentifier(uri),
                                                                             whole))


def save(client: Client, uri: str) -> None:
    client.text_document_did_save(types.DidSaveTextDocumentParams(types.TextDocumentIdentifier(uri)))


async def test_one_code_lens_per_model_runs_it(tmp_path):
    async with session(recorded_capabilities(VSCODE), tmp_path, init_options=STATIC) as client:
        uri = open_document(client, tmp_path / "model.py", MODEL)
        found = await lenses(client, uri)

    assert [(lens.range.start.line, lens.command.title) for lens in found] == [
        (5, "▶ Smoke-run"), (11, "▶ Smoke-run")]
    assert found[0].range.start.character == LINES[5].index("model")
    assert {lens.command.command for lens in found} == {"numpyro-lint.runSmoke"}
    assert list(found[0].command.arguments) == [uri]


async def test_hover_on_a_site_shows_its_distribution_support_and_plates_without_a_run(tmp_path):
    async with session(recorded_capabilities(VSCODE), tmp_path, init_options=STATIC) as client:
        uri = open_document(client, tmp_path / "model.py", MODEL)
        on_name = await hover(client, uri, at(6, '"x0"', 2))  # after the emoji: UTF-16 columns
        on_variable = await hover(client, uri, at(8, "x0"))
        on_nested = await hover(client, uri, at(15, '"z"'))
        on_scale = await hover(client, uri, at(15, "scale)"))
        elsewhere = await hover(client, uri, at(6, "label"))

    text = on_name.contents.value
    assert text.splitlines()[:3] == [
        "**x0** ~ `Normal(loc=0, scale=1)`  ",
        "latent · support: real  ",
        "plates: none",
    ]
    assert "Smoke-run the model for its shape" in text
    assert on_name.range == types.Range(at(6, '"x0"', 0), at(6, '"x0"', 4))
    assert on_variable.contents.value == text  # the variable bound to the site: the same site
    assert on_variable.range == types.Range(at(8, "x0", 0), at(8, "x0", 2))
    assert on_nested.contents.value.splitlines()[2] == (
        "plates: `outer` (size `k`, dim -1) › `inner` (size `3`, dim -2)")
    assert on_scale.contents.value.splitlines()[:2] == [
        "**scale** ~ `HalfCauchy(scale=2.0)`  ", "latent · support: positive reals  "]
    assert elsewhere is None


async def test_hover_on_an_observed_site_in_a_plate(tmp_path):
    async with session(recorded_capabilities("neovim_v0.11.0"), tmp_path, init_options=STATIC) as client:
        uri = open_document(client, tmp_path / "model.py", MODEL)
        found = await hover(client, uri, at(8, '"y"'))

    assert found.contents.value.splitlines()[:3] == [
        "**y** ~ `Normal(loc=x0, scale=1)`  ",
        "observed (`obs=y`) · support: real  ",
        "plates: `data` (size `n`, dim -1)",
    ]


async def test_after_a_run_the_lens_shows_its_outcome_and_the_hover_its_measurements(tmp_path):
    clean = MODEL.replace("import jax.numpy as jnp", "import jax.numpy as jnp  # clean")
    async with fake_session(tmp_path, SMOKE_ON_SAVE) as client:
        uri = open_document(client, tmp_path / "model.py", clean)
        before = await lenses(client, uri)
        save(client, uri)
        await client.wait_for(lambda: client.runner_states and client.runner_states[-1].get("findings") == 0)
        after = await lenses(client, uri)
        measured = await hover(client, uri, at(6, '"x0"'))
        observed = await hover(client, uri, at(8, '"y"'))
        replace_text(client, uri, 2, clean + "\n")
        edited = await lenses(client, uri)

    assert before[0].command.title == "▶ Smoke-run"
    assert after[0].command.title == "smoke ok · 2×300 draws · 0 divergences · max R̂ 1.01 · 2.7 s"
    assert after[1].command.title == "▶ Smoke-run"  # the run measured nothing for `other`
    lines = measured.contents.value.split("---")[1].strip().splitlines()
    assert lines == [
        "shape `f32[]` · batch `()` · event `()`  ",
        "prior 5–50–95%: -1.64 · 0 · 1.64  ",
        "smoke posterior 0.12 ± 0.98 · R̂ 1.01 · ESS 230",
    ]
    assert "shape `f32[3]` · batch `(3,)`" in observed.contents.value
    assert "prior predictive 5–50–95%: -2.1 · 0.02 · 2.2" in observed.contents.value
    assert len(measured.contents.value.splitlines()) <= 12
    assert edited[0].command.title == "▶ Smoke-run"  # the text changed: the run is for another version


async def test_the_lens_shows_the_worst_finding_of_its_model(tmp_path):
    async with fake_session(tmp_path, SMOKE_ON_SAVE) as client:
        uri = open_document(client, tmp_path / "model.py", MODEL)
        save(client, uri)
        await client.wait_for(lambda: client.runner_states and client.runner_states[-1].get("findings") == 1)
        found = await lenses(client, uri)

    assert found[0].command.title == (
        "⚠ smoke NPL901: 3 divergent transitions in the smoke run · 2.7 s · ▶ rerun")


async def test_inlay_hints_show_shapes_only_when_turned_on(tmp_path):
    results = {}
    for enabled in (False, True):
        folder = tmp_path / str(enabled)
        folder.mkdir()
        async with fake_session(folder, {**SMOKE_ON_SAVE, "inlay-hints": enabled}) as client:
            uri = open_document(client, folder / "model.py", MODEL)
            assert not await hints(client, uri)  # nothing measured yet
            save(client, uri)
            await client.wait_for(lambda: client.runner_states and "findings" in client.runner_states[-1])
            results[enabled] = await hints(client, uri)

    assert not results[False]
    assert [(hint.position, hint.label) for hint in results[True]] == [
        (types.Position(6, utf16(LINES[6].rstrip())), ": f32[]"),
        (types.Position(8, len(LINES[8])), ": f32[3]"),
    ]


async def test_show_graph_returns_the_models_plate_diagram(tmp_path):
    async with session(recorded_capabilities(VSCODE), tmp_path, init_options=STATIC) as client:
        uri = open_document(client, tmp_path / "model.py", MODEL)

        async def show(*arguments):
            return await client.workspace_execute_command_async(types.ExecuteCommandParams(
                "numpyro-lint.showGraph", list(arguments)))

        dot = await show(uri)
        mermaid = await show(uri, {"format": "mermaid", "model": "model"})
        svg = await show(uri, {"format": "svg", "model": "other"})
        unknown = await show(uri, {"model": "nope"})
        closed = await show((tmp_path / "closed.py").as_uri())

    assert dot["format"] == "dot" and dot["models"] == ["model", "other"]
    assert '"model.x0" -> "model.y";' in dot["graph"]
    assert mermaid["models"] == ["model"] and mermaid["graph"].startswith("flowchart TB")
    assert svg["graph"].lstrip().startswith(("<svg", "<?xml")) and svg["renderer"] in ("graphviz", "numpyro-lint")
    assert ">outer (k)<" in svg["graph"] or "outer (k)" in svg["graph"]
    assert unknown == {"error": "no model named 'nope' (models in this file: model, other)"}
    assert "not an open document" in closed["error"]


async def test_the_server_offers_code_lenses_and_inlay_hints(tmp_path):
    async with session(recorded_capabilities(VSCODE), tmp_path, init_options=STATIC) as client:
        capabilities = client.initialize_result.capabilities

    assert capabilities.code_lens_provider is not None
    assert capabilities.inlay_hint_provider is not None
    assert "numpyro-lint.showGraph" in capabilities.execute_command_provider.commands


@pytest.mark.slow
@pytest.mark.smoke
async def test_the_real_runner_measures_shapes_and_quantiles_for_the_hover(tmp_path):
    pytest.importorskip("jax")
    pytest.importorskip("numpyro")
    text = (Path(__file__).resolve().parents[1] / "examples" / "eight_schools_centered.py").read_text(encoding="utf-8")
    lines = text.splitlines()
    theta_line = next(i for i, line in enumerate(lines) if line.strip().startswith('theta = numpyro.sample("theta"'))
    options = {"debounce-ms": 0, "inlay-hints": True,
               "smoke": {"enabled": True, "on-open": False, "chains": 2, "warmup": 50, "samples": 50}}
    async with session(recorded_capabilities(VSCODE), tmp_path, init_options=options) as client:
        uri = open_document(client, tmp_path / "eight_schools.py", text)
        static = await hover(client, uri, types.Position(theta_line, lines[theta_line].index('"theta"') + 1))
        save(client, uri)
        await client.wait_for(lambda: client.runner_states and "findings" in client.runner_states[-1], timeout=600)
        measured = await hover(client, uri, types.Position(theta_line, lines[theta_line].index('"theta"') + 1))
        found = await lenses(client, uri)
        shown = await client.text_document_inlay_hint_async(types.InlayHintParams(
            types.TextDocumentIdentifier(uri), types.Range(types.Position(0, 0), types.Position(len(lines), 0))))

    assert static.contents.value.splitlines()[:3] == [
        "**theta** ~ `Normal(loc=mu, scale=tau)`  ", "latent · support: real  ", "plates: `J` (size `J`, dim -1)"]
    value = measured.contents.value
    assert "shape `f32[8]` · batch `(8,)` · event `()`" in value
    assert "prior 5–50–95%: " in value
    assert "smoke posterior (8 elements): mean " in value and " · R̂ " in value
    assert len(found) == 1 and found[0].command.title.startswith(("smoke ok · 2×50 draws", "⚠ smoke NPL"))
    assert found[0].command.title.endswith((" s", "▶ rerun"))
    assert (types.Position(theta_line, len(lines[theta_line])), ": f32[8]") in [
        (hint.position, hint.label) for hint in shown]
