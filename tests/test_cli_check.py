"""`numpyro-lint check` as a user runs it: formats, exit codes, configuration, discovery, stdin."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from conftest import run_cli

from numpyro_lint.config import Settings

BAD_MODEL = textwrap.dedent("""\
    import numpyro
    import numpyro.distributions as dist

    def model(y=None):
        tau = numpyro.sample("tau", dist.HalfNormal(1))
        print(tau)
        with numpyro.plate("data", 10):
            numpyro.sample("y", dist.Normal(0, tau), obs=y)
""")
CLEAN_MODEL = textwrap.dedent("""\
    import numpyro
    import numpyro.distributions as dist

    def model(y=None):
        tau = numpyro.sample("tau", dist.HalfNormal(1))
        with numpyro.plate("data", 10):
            numpyro.sample("y", dist.Normal(0, tau), obs=y)
""")


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_text_output_and_exit_codes(tmp_path):
    write(tmp_path, "bad.py", BAD_MODEL)
    write(tmp_path, "clean.py", CLEAN_MODEL)
    result = run_cli("check", "bad.py", cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stdout.decode().splitlines()
    assert lines[0].startswith("bad.py:6:5: NPL102 ")
    assert lines[-1] == "Found 1 error."
    clean = run_cli("check", "clean.py", cwd=tmp_path)
    assert clean.returncode == 0
    assert clean.stdout.decode().strip() == "All checks passed!"


def test_json_output_is_shaped_like_ruffs(tmp_path):
    write(tmp_path, "bad.py", BAD_MODEL)
    result = run_cli("check", "--output-format", "json", "bad.py", cwd=tmp_path)
    [item] = json.loads(result.stdout)
    assert item["code"] == "NPL102"
    assert item["filename"] == "bad.py"
    assert item["location"] == {"row": 6, "column": 5}
    assert item["end_location"] == {"row": 6, "column": 15}
    assert item["severity"] == "warning"
    assert item["url"].endswith("/NPL102.md")
    assert "fix" in item


def test_github_annotations(tmp_path):
    write(tmp_path, "bad.py", BAD_MODEL)
    result = run_cli("check", "--output-format", "github", "bad.py", cwd=tmp_path)
    [line] = result.stdout.decode().splitlines()
    assert line.startswith(
        "::warning title=numpyro-lint (NPL102),file=bad.py,line=6,col=5,endLine=6,endColumn=15::bad.py:6:5: NPL102 "
    )


def test_select_ignore_and_statistics(tmp_path):
    write(tmp_path, "bad.py", BAD_MODEL)
    assert run_cli("check", "--ignore", "NPL102", "bad.py", cwd=tmp_path).returncode == 0
    assert run_cli("check", "--select", "NPL2", "bad.py", cwd=tmp_path).returncode == 0
    stats = run_cli("check", "--statistics", "bad.py", cwd=tmp_path)
    assert stats.stdout.decode().split()[:2] == ["1", "NPL102"]


def test_unknown_code_or_setting_is_a_one_line_error(tmp_path):
    write(tmp_path, "bad.py", BAD_MODEL)
    result = run_cli("check", "--select", "XYZ1", "bad.py", cwd=tmp_path)
    assert result.returncode == 2
    write(tmp_path, "pyproject.toml", "[tool.numpyro-lint]\nselectt = ['NPL1']\n")
    result = run_cli("check", "bad.py", cwd=tmp_path)
    assert result.returncode == 2
    [message] = result.stderr.decode().strip().splitlines()
    assert "unknown setting `selectt`" in message


def test_pyproject_configuration_is_honoured(tmp_path):
    write(tmp_path, "pkg/bad.py", BAD_MODEL)
    write(tmp_path, "pyproject.toml", "[tool.numpyro-lint]\nignore = ['NPL102']\n")
    assert run_cli("check", "pkg", cwd=tmp_path).returncode == 0
    write(tmp_path, "pyproject.toml", "[tool.numpyro-lint]\nper-file-ignores = { 'pkg/*' = ['NPL1'] }\n")
    assert run_cli("check", ".", cwd=tmp_path).returncode == 0
    write(tmp_path, "pyproject.toml", "[tool.numpyro-lint]\nwide-prior-scale = 'big'\n")
    assert run_cli("check", ".", cwd=tmp_path).returncode == 2
    write(tmp_path, "pyproject.toml", "[tool.numpyro-lint\n")
    result = run_cli("check", ".", cwd=tmp_path)
    assert result.returncode == 2 and "invalid TOML" in result.stderr.decode()


def test_folders_honour_gitignore_and_exclude(tmp_path):
    write(tmp_path, "a/bad.py", BAD_MODEL)
    write(tmp_path, "generated/bad.py", BAD_MODEL)
    write(tmp_path, "skipme/bad.py", BAD_MODEL)
    write(tmp_path, ".venv/lib/bad.py", BAD_MODEL)
    write(tmp_path, ".gitignore", "generated/\n")
    write(tmp_path, "pyproject.toml", "[tool.numpyro-lint]\nextend-exclude = ['skipme']\n")
    result = run_cli("check", "--output-format", "json", cwd=tmp_path)
    files = {item["filename"] for item in json.loads(result.stdout)}
    assert files == {"a/bad.py"}


def test_stdin_filename(tmp_path):
    result = run_cli("check", "--stdin-filename", "model.py", stdin=BAD_MODEL.encode(), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.decode().startswith("model.py:6:5: NPL102")


def test_notebook_code_cells_are_checked_with_cell_positions(tmp_path):
    notebook = {
        "cells": [
            {"cell_type": "markdown", "source": ["# A model"]},
            {"cell_type": "code", "source": ["%matplotlib inline\n", "import numpyro\n",
                                             "import numpyro.distributions as dist\n"]},
            {"cell_type": "code", "source": ["def model():\n", "    x = numpyro.sample('x', dist.Normal(0, 1))\n",
                                             "    print(x)\n"]},
        ],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }
    write(tmp_path, "nb.ipynb", json.dumps(notebook))
    result = run_cli("check", "nb.ipynb", cwd=tmp_path)
    assert result.stdout.decode().startswith("nb.ipynb:cell 2:3:5: NPL102")  # code cells are counted


def test_a_notebook_message_names_the_other_place_by_cell_and_line_as_the_report_does(tmp_path):
    notebook = {
        "cells": [
            {"cell_type": "code", "source": ["import jax\n", "from numpyro.infer import MCMC, NUTS, Predictive\n",
                                             "key = jax.random.PRNGKey(0)\n"]},
            {"cell_type": "markdown", "source": ["Fit, then predict."]},
            {"cell_type": "code", "source": ["mcmc = MCMC(NUTS(model), num_warmup=9, num_samples=9)\n",
                                             "mcmc.run(key, x)\n"]},
            {"cell_type": "code", "source": ["Predictive(model, mcmc.get_samples())(key, x)\n"]},
        ],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }
    write(tmp_path, "nb.ipynb", json.dumps(notebook))
    text = run_cli("check", "nb.ipynb", cwd=tmp_path).stdout.decode()
    assert text.startswith("nb.ipynb:cell 3:1:39: NPL301 `key` was already consumed by `mcmc.run` on cell 2, line 2;")
    (item,) = json.loads(run_cli("check", "nb.ipynb", "--output-format", "json", cwd=tmp_path).stdout)
    assert "on cell 2, line 2;" in item["message"] and "⟨" not in item["message"]
    assert [(r["location"]["cell"], r["location"]["row"]) for r in item["related"]] == [(2, 2)]


def test_a_python_file_message_names_the_other_place_by_line(tmp_path):
    write(tmp_path, "m.py", "import jax\nfrom numpyro.infer import MCMC, NUTS, Predictive\n"
          "key = jax.random.PRNGKey(0)\nmcmc = MCMC(NUTS(model), num_warmup=9, num_samples=9)\n"
          "mcmc.run(key, x)\nPredictive(model, mcmc.get_samples())(key, x)\n")
    text = run_cli("check", "m.py", cwd=tmp_path).stdout.decode()
    assert "`key` was already consumed by `mcmc.run` on line 5;" in text


def test_many_files_are_checked_in_parallel_with_results_in_order(tmp_path):
    for index in range(12):
        write(tmp_path, f"m{index:02d}.py", BAD_MODEL if index % 2 else CLEAN_MODEL)
    result = run_cli("check", ".", cwd=tmp_path)
    reported = [line.split(":")[0] for line in result.stdout.decode().splitlines() if "NPL102" in line]
    assert reported == [f"m{i:02d}.py" for i in range(1, 12, 2)]


def test_check_never_writes(tmp_path):
    path = write(tmp_path, "bad.py", BAD_MODEL)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    run_cli("check", ".", cwd=tmp_path)
    after = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    assert before == after and path.read_text() == BAD_MODEL


def test_check_does_not_import_jax_or_numpyro(tmp_path):
    write(tmp_path, "bad.py", BAD_MODEL)
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "numpyro_lint", "check", "bad.py"],
                            cwd=tmp_path, capture_output=True, timeout=60)
    imported = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.decode().splitlines()
                if line.startswith("import time:")}
    assert "numpyro_lint" in imported
    assert not imported & {"jax", "jaxlib", "numpyro"}


def test_text_output_marks_every_safe_fix_though_it_computes_only_those():
    from numpyro_lint.linter import lint_text

    examples = Path(__file__).resolve().parents[1] / "examples"
    result = run_cli("check", "--isolated", "--extend-select", "pedantic", ".", cwd=examples)
    marked = {line.split(" ")[0] for line in result.stdout.decode().splitlines() if " [*] " in line}
    expected = set()
    every_tier = Settings(select=("NPL", "pedantic"))
    for path in sorted(examples.glob("*.py")):
        for diagnostic in lint_text(path.read_text(encoding="utf-8"), path.name, every_tier).diagnostics:
            if diagnostic.fix is not None and diagnostic.fix.applicability.value == "safe":
                expected.add(f"{path.name}:{diagnostic.span.line}:{diagnostic.span.col + 1}:")
    assert marked == expected and len(expected) >= 3
