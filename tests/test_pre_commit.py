"""The pre-commit hooks, run by pre-commit itself against a temporary git repository, offline: the hook
environment is installed from the wheelhouse that `make test` prepares, never from the network."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
WHEELHOUSE = Path(sys.prefix) / "wheelhouse"
BAD_MODEL = textwrap.dedent("""\
    import numpyro
    import numpyro.distributions as dist
    import jax.numpy as jnp


    def model(n):
        x = jnp.zeros(n)
        x[0] = numpyro.sample("a", dist.Normal(0, 1))
        x[1] += 2.0
        return x
""")


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=cwd, check=True,
                   capture_output=True)


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory) -> Path:
    """A committed copy of this working tree's package, as pre-commit would clone it from a release."""
    copy = tmp_path_factory.mktemp("hook-repo")
    for name in ("src", "pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, copy / name)
    git("init", "-q", cwd=copy)
    git("add", "-A", cwd=copy)
    git("commit", "-q", "-m", "release", cwd=copy)
    return copy


def test_hooks_fail_on_a_bad_model_and_pass_after_the_fix_hook(hook_repo, tmp_path):
    assert WHEELHOUSE.is_dir(), "run `make test` (it prepares the wheelhouse for offline hook installs)"
    project = tmp_path / "project"
    project.mkdir()
    (project / "model.py").write_text(BAD_MODEL)
    git("init", "-q", cwd=project)
    git("add", "-A", cwd=project)
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path / "cache"),
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(WHEELHOUSE),
        "VIRTUALENV_NO_DOWNLOAD": "1",
    }

    def try_hook(hook: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "pre_commit", "try-repo", str(hook_repo), hook, "--ref", "HEAD", "--all-files"],
            cwd=project, env=env, capture_output=True, text=True, timeout=600,
        )

    check = try_hook("numpyro-lint")
    assert check.returncode == 1, check.stdout + check.stderr
    assert check.stdout.count("NPL106") == 2

    fix = try_hook("numpyro-lint-fix")
    assert "files were modified by this hook" in fix.stdout, fix.stdout + fix.stderr
    assert "x = x.at[0].set(numpyro.sample(" in (project / "model.py").read_text()

    again = try_hook("numpyro-lint")
    assert again.returncode == 0, again.stdout + again.stderr
