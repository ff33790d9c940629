"""`numpyro-lint check`: lint files (in parallel when there are enough) or stdin, print a report."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from numpyro_lint.commands.common import EXIT_CLEAN, EXIT_FOUND, collect_documents, display_path, print_reports
from numpyro_lint.config import Settings
from numpyro_lint.files import Document, UnreadableFile, document_from_bytes, read_document
from numpyro_lint.report import FileReport

if TYPE_CHECKING:
    from numpyro_lint.linter import FixesWanted

#: Below this many files, forking workers costs more than it saves.
PARALLEL_THRESHOLD = 4


def run_check(args: argparse.Namespace, settings: Settings) -> int:
    fixes = fixes_shown(args.output_format, getattr(args, "statistics", False))
    if args.stdin_filename:
        try:
            reports, errors = [lint_document(read_stdin_document(args.stdin_filename), settings, fixes)], []
        except UnreadableFile as error:
            reports, errors = [], [(args.stdin_filename, str(error))]
    else:
        files, errors = collect_documents(args, settings)
        reports, read_errors = lint_files(files, settings, fixes)
        errors += read_errors
    print_reports(args.output_format, reports, errors, getattr(args, "statistics", False))
    found = any(report.diagnostics for report in reports) or bool(errors)
    if args.exit_zero:
        return EXIT_CLEAN
    return EXIT_FOUND if found else EXIT_CLEAN


def fixes_shown(output_format: str, statistics: bool) -> FixesWanted:
    """The fixes a report shows: JSON all of them, text its safe ones (its statistics any), others none."""
    if output_format == "json" or (output_format == "text" and statistics):
        return "all"
    return "safe" if output_format == "text" else "none"


def lint_document(document: Document, settings: Settings, fixes: FixesWanted = "all") -> FileReport:
    from numpyro_lint.linter import lint_document_text

    return FileReport(document, lint_document_text(document.text, document.path, settings, fixes=fixes))


def lint_files(files: list[Path], settings: Settings,
               fixes: FixesWanted = "all") -> tuple[list[FileReport], list[tuple[str, str]]]:
    """Lint files, in parallel across cores when there are enough of them; results in file order."""
    workers = min(os.cpu_count() or 1, len(files))
    if workers > 1 and len(files) >= PARALLEL_THRESHOLD:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            chunk = max(1, len(files) // (workers * 4))
            results = list(pool.map(_lint_file, files, [settings] * len(files), [fixes] * len(files),
                                    chunksize=chunk))
    else:
        results = [_lint_file(path, settings, fixes) for path in files]
    reports = [r for r in results if isinstance(r, FileReport)]
    errors = [r for r in results if not isinstance(r, FileReport)]
    return reports, errors


def _lint_file(path: Path, settings: Settings, fixes: FixesWanted) -> FileReport | tuple[str, str]:
    shown = display_path(path)
    try:
        document = read_document(path)
    except UnreadableFile as error:
        return shown, str(error)
    return lint_document(replace(document, path=shown), settings, fixes)


def read_stdin_document(name: str) -> Document:
    return document_from_bytes(name, sys.stdin.buffer.read())
