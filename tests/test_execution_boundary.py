"""`check`, `fix` and the language server (smoke runs off, the default) read the user's code; they never
import or run it, and the server never imports JAX."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import run_cli
from lsprotocol import types
from server_helpers import TIMEOUT_S, open_document, recorded_capabilities, replace_text, session

MODEL = textwrap.dedent("""\
    import evil
    import numpyro
    import numpyro.distributions as dist
    import jax.numpy as jnp

    def model(n):
        x = jnp.zeros(n)
        x[0] = numpyro.sample("a", dist.Normal(0, 1))
        print(x)

    if __name__ == "__main__":
        import evil
""")


def plant_user_code(workspace: Path, marker: Path) -> Path:
    """A model importing `evil.py`, next to a `conftest.py`; importing either writes `marker`."""
    workspace.mkdir(exist_ok=True)
    (workspace / "evil.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    (workspace / "conftest.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    (workspace / "pyproject.toml").write_text("[tool.numpyro-lint]\nselect = ['NPL']\n")
    model = workspace / "model.py"
    model.write_text(MODEL)
    return model


def test_check_and_fix_never_import_the_users_modules(tmp_path):
    marker = tmp_path / "IMPORTED"
    plant_user_code(tmp_path, marker)
    for args in (("check", "."), ("check", "--fix", "--unsafe-fixes", "."), ("fix", "--diff", ".")):
        run_cli(*args, cwd=tmp_path)
        assert not marker.exists(), f"`numpyro-lint {' '.join(args)}` executed user code"


def with_stand_in_jax(shadow: Path, marker: Path) -> dict[str, str]:
    """An environment in which importing `jax` or `numpyro`, in any process, writes `marker`."""
    for package in ("jax", "numpyro"):
        (shadow / package).mkdir(parents=True)
        (shadow / package / "__init__.py").write_text(f"open({str(marker)!r}, 'a').write({package!r})\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(shadow), os.environ.get("PYTHONPATH")]))}
    subprocess.run([sys.executable, "-c", "import jax"], env=env, check=True)
    assert marker.exists(), "the stand-in jax is not what the server's interpreter would import"
    marker.unlink()
    return env


async def test_the_server_never_imports_the_users_modules_nor_jax(tmp_path):
    marker, jax_marker = tmp_path / "IMPORTED", tmp_path / "JAX_IMPORTED"
    model = plant_user_code(tmp_path / "workspace", marker)
    env = with_stand_in_jax(tmp_path / "shadow", jax_marker)
    async with session(recorded_capabilities("visual_studio_code_v1.65.2"), model.parent,
                       init_options={"debounce-ms": 0}, env=env) as client:
        uri = open_document(client, model, MODEL)
        await client.wait_for_diagnostics(uri, version=1)
        replace_text(client, uri, 2, MODEL + "\n")
        diagnostics = await client.wait_for_diagnostics(uri, version=2)
        client.text_document_did_save(types.DidSaveTextDocumentParams(types.TextDocumentIdentifier(uri)))
        document = types.TextDocumentIdentifier(uri)
        hover = await asyncio.wait_for(client.text_document_hover_async(
            types.HoverParams(document, diagnostics[0].range.start)), TIMEOUT_S)
        quick_fixes = await asyncio.wait_for(client.text_document_code_action_async(types.CodeActionParams(
            document, diagnostics[0].range, types.CodeActionContext(diagnostics))), TIMEOUT_S)
        fix_all = await asyncio.wait_for(client.text_document_code_action_async(types.CodeActionParams(
            document, diagnostics[0].range, types.CodeActionContext([], only=["source.fixAll"]))), TIMEOUT_S)
        fixed = await asyncio.wait_for(client.code_action_resolve_async(fix_all[0]), TIMEOUT_S)

    assert hover is not None and quick_fixes and fixed.edit is not None  # the server did its work
    assert client._server.returncode == 0
    assert not marker.exists(), "the language server executed user code"
    assert not jax_marker.exists(), f"the language server imported {jax_marker.read_text()}"
    assert client.runner_states == []
