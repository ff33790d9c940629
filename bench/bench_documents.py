"""What reading code out of documents costs: the same corpus linted as Python files, as Markdown
documents (each file one ```python block, or one block per top-level statement: a tutorial's shape),
and as notebooks (one cell per top-level statement, with IPython magics), in one process.

    python bench/bench_documents.py [--runs N] [FOLDER]

Prints seconds per form and each form's time relative to the plain Python files.
"""

from __future__ import annotations

import argparse
import ast
import json
import statistics
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def statement_chunks(text: str) -> list[str]:
    """The file cut before each top-level statement that starts a new group (defs, classes, the rest)."""
    lines = text.split("\n")
    starts = sorted({0, *(node.lineno - 1 - len(getattr(node, "decorator_list", []))
                          for node in ast.parse(text).body if isinstance(node, (ast.FunctionDef, ast.ClassDef)))})
    return ["\n".join(lines[a:b]) for a, b in zip(starts, [*starts[1:], len(lines)]) if a < b]


def as_markdown(text: str, split: bool) -> str:
    chunks = statement_chunks(text) if split else [text]
    return "".join(f"Some prose about the next step.\n\n```python\n{chunk}\n```\n\n" for chunk in chunks)


def as_notebook(text: str) -> str:
    cells = [{"cell_type": "code", "source": "%matplotlib inline\nif True:\n    %config X.y = 1\n" + chunk}
             for chunk in statement_chunks(text)]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def interleaved_medians(jobs: dict, runs: int) -> dict[str, float]:
    """Median seconds per job, the jobs taking turns (a drifting machine load hits all alike)."""
    timings: dict[str, list[float]] = {name: [] for name in jobs}
    for _ in range(runs):
        for name, job in jobs.items():
            start = time.perf_counter()
            job()
            timings[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in timings.items()}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", nargs="?", type=Path, default=HERE / "corpus")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    from numpyro_lint.files import document_from_bytes
    from numpyro_lint.linter import lint_document_text

    sources = [(path.with_suffix(""), path.read_text(encoding="utf-8")) for path in sorted(args.folder.rglob("*.py"))]
    forms = {
        "python files": [(f"{stem}.py", text) for stem, text in sources],
        "markdown, one block per file": [(f"{stem}.md", as_markdown(text, False)) for stem, text in sources],
        "markdown, a block per def": [(f"{stem}.md", as_markdown(text, True)) for stem, text in sources],
        "notebooks, a cell per def": [(f"{stem}.ipynb", as_notebook(text)) for stem, text in sources],
    }

    def lint_all(documents: list[tuple[str, str]]) -> None:
        for path, text in documents:
            document = document_from_bytes(path, text.encode("utf-8"))  # notebooks: cells joined, magics
            lint_document_text(document.text, path, fixes="safe")

    for documents in forms.values():  # untimed: imports and warm caches
        lint_all(documents)
    results = interleaved_medians({name: lambda d=documents: lint_all(d) for name, documents in forms.items()},
                                  args.runs)
    lines = sum(len(text.splitlines()) for _, text in sources)
    print(f"corpus: {args.folder} ({len(sources)} files, {lines} lines), median of {args.runs} runs, in process\n")
    base = results["python files"]
    for name, seconds in results.items():
        print(f"{name:32} {seconds:8.3f} s   {seconds / base:5.3f}x the Python files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
