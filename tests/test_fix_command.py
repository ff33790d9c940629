"""`numpyro-lint fix`, `check --fix` and `--diff` on disk: what a user sees and what is written."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap

from conftest import run_cli
from numpyro_lint.commands.fix import write_atomically

MODEL = textwrap.dedent("""\
    import numpyro
    import numpyro.distributions as dist
    import jax.numpy as jnp

    def model(n):
        x = jnp.zeros(n)
        tau = numpyro.sample("tau", dist.HalfNormal(1))
        print(tau)
        x[0] = tau
        x[1] += tau
        return x
""")


def test_safe_fixes_only_by_default_and_mode_is_kept(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(MODEL)
    path.chmod(0o640)
    result = run_cli("check", "--fix", "m.py", cwd=tmp_path)
    text = path.read_text()
    assert "x = x.at[0].set(tau)" in text and "x = x.at[1].add(tau)" in text
    assert "    print(tau)" in text  # NPL102's fix is unsafe
    assert result.returncode == 1 and "Fixed 2 errors." in result.stdout.decode()
    assert oct(path.stat().st_mode & 0o777) == oct(0o640)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_unsafe_fixes_when_asked(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(MODEL)
    result = run_cli("fix", "--unsafe-fixes", "m.py", cwd=tmp_path)
    assert result.returncode == 0
    text = path.read_text()
    assert 'jax.debug.print("{}", tau)' in text and "import jax\n" in text


def test_diff_writes_nothing_and_applies_with_patch(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(MODEL)
    result = run_cli("fix", "--diff", "m.py", cwd=tmp_path)
    assert result.returncode == 1
    assert path.read_text() == MODEL
    if shutil.which("patch"):
        applied = subprocess.run(["patch", "-p1"], input=result.stdout, cwd=tmp_path, capture_output=True)
        assert applied.returncode == 0, applied.stdout
        assert "x = x.at[0].set(tau)" in path.read_text()


def test_a_file_changed_on_disk_is_not_overwritten(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(MODEL)
    original = path.read_bytes()
    path.write_text(MODEL + "# edited meanwhile\n")
    problem = write_atomically(path, original, "replacement\n")
    assert problem and "changed on disk" in problem
    assert path.read_text().endswith("# edited meanwhile\n")


def test_write_failure_leaves_the_file_intact(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(MODEL)
    original = path.read_bytes()
    os.chmod(tmp_path, 0o500)
    try:
        problem = write_atomically(path, original, "replacement\n")
    finally:
        os.chmod(tmp_path, 0o700)
    if os.geteuid() != 0:  # root can write anywhere
        assert problem and path.read_bytes() == original
