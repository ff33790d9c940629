"""The VS Code extension: `vscode-extension/scripts/build-and-test.sh` installs its npm packages, runs its
mocha unit tests, packages the .vsix and checks what is in it. Needs Node and npm (and the npm registry)."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

EXTENSION = Path(__file__).resolve().parents[1] / "vscode-extension"
VSIX = EXTENSION / "numpyro-lint.vsix"


@pytest.fixture(scope="module")
def build() -> subprocess.CompletedProcess[str]:
    if shutil.which("npm") is None:
        pytest.skip("npm is not on PATH: the VS Code extension cannot be built")
    return subprocess.run(
        ["bash", str(EXTENSION / "scripts" / "build-and-test.sh")],
        cwd=EXTENSION.parent, capture_output=True, text=True, timeout=600,
    )


def test_extension_builds_passes_its_unit_tests_and_packages(build):
    assert build.returncode == 0, f"stdout:\n{build.stdout[-6000:]}\nstderr:\n{build.stderr[-6000:]}"
    assert " passing" in build.stdout and " failing" not in build.stdout
    assert VSIX.is_file()


def test_vsix_holds_the_bundled_client_and_no_node_modules(build):
    assert build.returncode == 0
    with zipfile.ZipFile(VSIX) as vsix:
        names = vsix.namelist()
        manifest = json.loads(vsix.read("extension/package.json"))
    assert "extension/out/extension.js" in names
    assert not [name for name in names if "node_modules/" in name]
    assert not [name for name in names if name.startswith(("extension/src/", "extension/test/"))]
    assert manifest["main"] == "./out/extension.js"
    commands = {command["command"]: command["title"] for command in manifest["contributes"]["commands"]}
    assert commands == {
        "numpyroLint.runSmoke": "Run smoke check now",
        "numpyroLint.fixAll": "Fix all",
        "numpyroLint.restart": "Restart server",
        "numpyroLint.showOutput": "Show output",
        "numpyroLint.showGraph": "Show model graph",
    }
