"""Fix safety over a corpus (issue 9): on every file of `examples/`, each fix offered and fix-all (safe
and unsafe) give code that parses, remove what they fix, add no other diagnostic, and reach a fixed
point within three rounds; `fix --diff` prints a diff that `patch -p1` applies to a copy."""

from __future__ import annotations

import ast
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from conftest import REPO, run_cli
from fix_helpers import assert_fix_is_sound
from numpyro_lint.fixes.apply import fix_text
from numpyro_lint.fixes.edits import apply_diagnostic_fixes, fix_is_allowed
from numpyro_lint.linter import DEFAULT_SETTINGS, lint_text

CORPUS = sorted((REPO / "examples").glob("*.py"))
MAX_ROUNDS = 3

pytestmark = pytest.mark.skipif(not CORPUS, reason="no example corpus")


def _codes(diagnostics) -> Counter:
    return Counter(d.code for d in diagnostics)


def _rounds_to_fixed_point(text: str, unsafe: bool) -> tuple[int, str]:
    for rounds in range(MAX_ROUNDS + 2):
        new_text, applied = apply_diagnostic_fixes(text, lint_text(text).diagnostics, unsafe)
        if applied == 0:
            return rounds, text
        text = new_text
    return rounds, text


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_each_offered_fix_is_safe_to_apply(path: Path):
    text = path.read_text()
    before = lint_text(text).diagnostics
    for diagnostic in before:
        for fix in filter(None, (diagnostic.fix, *diagnostic.alternatives)):
            assert_fix_is_sound(text, before, diagnostic, fix, path.name)


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_fix_all_removes_what_it_fixes_adds_nothing_and_settles(path: Path, unsafe: bool):
    text = path.read_text()
    before = lint_text(text).diagnostics
    fixable = _codes(d for d in before if fix_is_allowed(d.fix, unsafe))
    rounds, settled = _rounds_to_fixed_point(text, unsafe)
    assert rounds <= MAX_ROUNDS, f"{path.name}: no fixed point after {MAX_ROUNDS} rounds"
    outcome = fix_text(text, str(path), DEFAULT_SETTINGS, unsafe)
    assert outcome.text == settled
    ast.parse(outcome.text)
    remaining = _codes(outcome.remaining)
    for code in remaining:
        assert remaining[code] <= _codes(before)[code] - fixable[code], (path.name, code, outcome.text)
    assert not [d for d in outcome.remaining if fix_is_allowed(d.fix, unsafe)]


@pytest.mark.skipif(shutil.which("patch") is None, reason="needs patch")
@pytest.mark.parametrize("flags", [(), ("--unsafe-fixes",)], ids=["safe", "unsafe"])
def test_fix_diff_of_the_corpus_applies_with_patch(tmp_path: Path, flags: tuple[str, ...]):
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    result = run_cli("fix", "--diff", *flags, "examples", cwd=tmp_path)
    assert result.returncode == 1, result.stderr.decode()
    expected = {path.name: fix_text(path.read_text(), None, DEFAULT_SETTINGS, bool(flags)).text for path in CORPUS}
    changed = [path.name for path in CORPUS if expected[path.name] != path.read_text()]
    headers = [line for line in result.stdout.decode().splitlines() if line.startswith("--- a/examples/")]
    assert changed and len(headers) == len(changed)
    applied = subprocess.run(["patch", "-p1", "--forward"], input=result.stdout, cwd=tmp_path, capture_output=True)
    assert applied.returncode == 0, applied.stdout.decode()
    for name, text in expected.items():
        assert (tmp_path / "examples" / name).read_text() == text, name
