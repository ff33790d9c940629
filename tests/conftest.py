from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from numpyro_lint.config import Settings
from numpyro_lint.linter import lint_text

REPO = Path(__file__).resolve().parents[1]


def codes_by_line(source: str, select: tuple[str, ...] | None = None) -> list[tuple[int, str]]:
    """(line, code) of every diagnostic for a dedented snippet, optionally only the selected codes."""
    settings = Settings(select=select) if select else Settings()
    result = lint_text(textwrap.dedent(source), settings=settings)
    return [(d.span.line, d.code) for d in result.diagnostics]


def codes(source: str, select: tuple[str, ...] | None = None) -> list[str]:
    return [code for _, code in codes_by_line(source, select)]


def run_cli(*args: str, cwd: Path | None = None, stdin: bytes | None = None, timeout: float = 120):
    return subprocess.run(
        [sys.executable, "-m", "numpyro_lint", *args],
        cwd=cwd, input=stdin, capture_output=True, timeout=timeout,
    )


@pytest.fixture
def cli():
    return run_cli
