"""Shared by the smoke-runner tests: the fixture models, settings with a per-session compilation
cache, one warm runner per test module (`folder_fixture`, `runner_fixture`), and lookups
of the lines diagnostics should land on."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import replace
from pathlib import Path

import pytest

from numpyro_lint.config import Settings, SmokeSettings
from numpyro_lint.diagnostic import Diagnostic
from numpyro_lint.runner.client import SmokeRunner

FIXTURES = Path(__file__).parent / "fixtures" / "smoke"
#: Generous: the machine running the tests may be busy; the fault tests set their own.
TIMEOUT_S = 300.0

needs_smoke_extra = pytest.mark.skipif(
    importlib.util.find_spec("numpyro") is None, reason="needs the smoke extra (jax, numpyro)")


def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One JAX compilation cache for the whole test session (tmp, never the user's cache)."""
    folder = tmp_path_factory.getbasetemp() / "smoke-cache"
    folder.mkdir(exist_ok=True)
    return folder


def _folder(tmp_path_factory):
    return cache_dir(tmp_path_factory)


def _runner(folder):
    runner = SmokeRunner(smoke_settings(folder).smoke)
    runner.warm_up()
    yield runner
    pid = runner.child_pid
    runner.close()
    assert pid is None or process_gone(pid)


#: Fixtures `folder` (the session's cache folder) and `runner` (one warm runner per test module;
#: closing it must leave no process behind). A test module imports these two names to use them.
folder_fixture = pytest.fixture(scope="module", name="folder")(_folder)
runner_fixture = pytest.fixture(scope="module", name="runner")(_runner)


def smoke_settings(folder: Path, **smoke) -> Settings:
    base = SmokeSettings(cache_dir=str(folder), timeout_s=TIMEOUT_S, recycle_after=0)
    return Settings(smoke=replace(base, **smoke))


def fixture(name: str) -> tuple[str, str]:
    path = FIXTURES / name
    return str(path), path.read_text(encoding="utf-8")


def line_of(text: str, fragment: str) -> int:
    """The 1-based line of the only line containing `fragment`."""
    lines = [number for number, line in enumerate(text.splitlines(), start=1) if fragment in line]
    assert len(lines) == 1, f"{fragment!r} on lines {lines}"
    return lines[0]


def codes_by_line(diagnostics: list[Diagnostic]) -> list[tuple[int, str]]:
    return [(d.span.line, d.code) for d in diagnostics]


def lines_of(diagnostics: list[Diagnostic], code: str) -> set[int]:
    return {d.span.line for d in diagnostics if d.code == code}


def process_gone(pid: int) -> bool:
    """The process and its process group have exited and been reaped."""
    for probe in (os.kill, os.killpg):
        try:
            probe(pid, 0)
        except ProcessLookupError:
            continue
        except PermissionError:
            return False
        return False
    return True
