"""`numpyro-lint smoke FILE [--model NAME]`: check's output formats and exit codes, progress only on a
terminal, and usage errors as exit status 2."""

from __future__ import annotations

import json

import pytest

from smoke_helpers import FIXTURES, cache_dir, line_of, needs_smoke_extra

pytestmark = [pytest.mark.smoke, needs_smoke_extra]


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    folder = cache_dir(tmp_path_factory)
    path = tmp_path_factory.mktemp("smoke-cli") / "pyproject.toml"
    path.write_text(f'[tool.numpyro-lint.smoke]\ncache-dir = "{folder}"\ntimeout-s = 300\n', encoding="utf-8")
    return path


def smoke(cli, config, *args):
    return cli("smoke", "--config", str(config), *args, timeout=600)


def test_findings_exit_1_in_text_format(cli, config):
    result = smoke(cli, config, str(FIXTURES / "arguments.py"))
    assert result.returncode == 1, result.stderr
    out = result.stdout.decode()
    text = (FIXTURES / "arguments.py").read_text()
    assert f"arguments.py:{line_of(text, 'def without_arguments')}:5: NPL900 " in out
    assert "Found 4 errors." in out
    assert result.stderr == b""  # no progress bar when stderr is not a terminal


def test_json_output_and_model_selection(cli, config):
    result = smoke(cli, config, str(FIXTURES / "arguments.py"), "--model", "from_defaults", "--output-format", "json")
    assert result.returncode == 1, result.stderr
    [item] = json.loads(result.stdout)
    assert item["code"] == "NPL905" and "defaults size=3" in item["message"]


def test_clean_model_exits_0(cli, config, tmp_path):
    clean = tmp_path / "clean.py"
    clean.write_text(
        "import numpyro\n\n\ndef model(scale=2.0):\n    numpyro.deterministic('twice', 2 * scale)\n",
        encoding="utf-8")
    result = smoke(cli, config, str(clean))
    assert result.returncode == 0, result.stdout + result.stderr
    assert b"All checks passed!" in result.stdout


def test_usage_errors_exit_2(cli, config, tmp_path):
    unknown_model = smoke(cli, config, str(FIXTURES / "raises.py"), "--model", "nope")
    assert unknown_model.returncode == 2 and b"no model named nope" in unknown_model.stderr
    missing = smoke(cli, config, str(tmp_path / "missing.py"))
    assert missing.returncode == 2
    broken = tmp_path / "pyproject.toml"
    broken.write_text("[tool.numpyro-lint.smoke]\ntimeout-s = 'soon'\n", encoding="utf-8")
    assert cli("smoke", "--config", str(broken), str(FIXTURES / "raises.py")).returncode == 2
