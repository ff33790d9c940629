"""CI output: SARIF 2.1.0 that validates against the vendored schema, and exact GitHub annotation lines."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import jsonschema

from conftest import run_cli

SCHEMA = Path(__file__).parent / "fixtures" / "sarif-schema-2.1.0.json"
MODEL = textwrap.dedent("""\
    import numpyro
    import numpyro.distributions as dist
    import jax.numpy as jnp

    def model(n, y=None):
        x = jnp.zeros(n)
        tau = numpyro.sample("tau", dist.HalfNormal(1))
        print(tau)
        x[0] = tau
        numpyro.sample("y", dist.Normal(tau, 1.0), obs=y)
""")


def test_sarif_validates_against_the_schema_and_describes_each_rule(tmp_path):
    (tmp_path / "model.py").write_text(MODEL)
    (tmp_path / "broken.py").write_text("def f(:\n")
    result = run_cli("check", "--output-format", "sarif", ".", cwd=tmp_path)
    assert result.returncode == 1
    sarif = json.loads(result.stdout)
    jsonschema.validate(sarif, json.loads(SCHEMA.read_text()))
    assert sarif["version"] == "2.1.0" and "$schema" in sarif
    [run] = sarif["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert len({rule["id"] for rule in rules}) == len(rules)
    for rule in rules:
        assert rule["shortDescription"]["text"] and rule["helpUri"].endswith(f"{rule['id']}.md")
    found = {(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
              r["locations"][0]["physicalLocation"]["region"]["startLine"], r["level"]) for r in run["results"]}
    assert found == {("NPL102", "model.py", 8, "warning"), ("NPL106", "model.py", 9, "warning"),
                     ("NPL201", "model.py", 10, "warning"), ("NPL000", "broken.py", 1, "error")}
    for result_item in run["results"]:
        assert rules[result_item["ruleIndex"]]["id"] == result_item["ruleId"]


def test_github_annotation_lines_are_exact(tmp_path):
    (tmp_path / "model.py").write_text(MODEL)
    result = run_cli("check", "--output-format", "github", "--select", "NPL102,NPL106", "model.py", cwd=tmp_path)
    lines = result.stdout.decode().splitlines()
    assert lines[0] == (
        "::warning title=numpyro-lint (NPL102),file=model.py,line=8,col=5,endLine=8,endColumn=15::"
        "model.py:8:5: NPL102 `print()` in model `model` runs once, at trace time, not per sample: it shows "
        "tracers, not values. Use `jax.debug.print` (or `jax.debug.callback`) to see values at run time."
    )
    assert lines[1].startswith(
        "::warning title=numpyro-lint (NPL106),file=model.py,line=9,col=5,endLine=9,endColumn=9::model.py:9:5: NPL106 "
    )
    assert len(lines) == 2


def test_github_escapes_properties_and_data(tmp_path):
    (tmp_path / "a,b.py").write_text("def f(:\n")
    result = run_cli("check", "--output-format", "github", "a,b.py", cwd=tmp_path)
    [line] = result.stdout.decode().splitlines()
    assert line.startswith("::error title=numpyro-lint (NPL000),file=a%2Cb.py,line=1,")
