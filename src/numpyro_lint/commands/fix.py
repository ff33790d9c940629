"""`numpyro-lint fix` / `check --fix` / `--diff`: fix each file to a fixed point, write it atomically (or
print the diff), then report what remains. Notebooks are reported, never written."""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import tempfile
from pathlib import Path

from numpyro_lint.commands.common import EXIT_CLEAN, EXIT_ERROR, EXIT_FOUND, collect_documents, display_path, print_reports
from numpyro_lint.config import Settings
from numpyro_lint.files import UnreadableFile, read_document
from numpyro_lint.fixes.apply import MAX_ROUNDS, FixOutcome, fix_text
from numpyro_lint.linter import lint_document_text
from numpyro_lint.report import FileReport


def run_fix(args: argparse.Namespace, settings: Settings) -> int:
    unsafe = bool(getattr(args, "unsafe_fixes", False))
    diff_only = bool(getattr(args, "diff", False))
    if getattr(args, "stdin_filename", None):
        print("numpyro-lint: error: --fix/--diff cannot be used with --stdin-filename", file=sys.stderr)
        return EXIT_ERROR
    files, errors = collect_documents(args, settings)
    reports: list[FileReport] = []
    total_fixed = 0
    diffs: list[str] = []
    for path in files:
        shown = display_path(path)
        try:
            original = path.read_bytes()
            document = read_document(path)
        except (UnreadableFile, OSError) as error:
            errors.append((shown, str(error)))
            continue
        if document.cells:
            diagnostics = lint_document_text(document.text, shown, settings)
            reports.append(FileReport(document.__class__(shown, document.text, document.cells), diagnostics))
            continue  # fixes are not written into notebooks
        outcome = fix_text(document.text, shown, settings, unsafe)
        if not outcome.converged:
            _warn_not_converged(shown, outcome)
        if outcome.applied and outcome.text != document.text:
            if diff_only:
                diffs.append(_unified_diff(shown, document.text, outcome.text))
            else:
                problem = write_atomically(path, original, outcome.text)
                if problem:
                    errors.append((shown, problem))
                    outcome = FixOutcome(document.text, 0, lint_document_text(document.text, shown, settings))
            total_fixed += outcome.applied
        reports.append(FileReport(document.__class__(shown, outcome.text, ()), outcome.remaining))
    if diff_only:
        sys.stdout.write("".join(diffs))
        print(f"Would fix {total_fixed} error{'s' if total_fixed != 1 else ''}.", file=sys.stderr)
        return EXIT_FOUND if total_fixed or errors else EXIT_CLEAN
    print_reports(args.output_format, reports, errors)
    if args.output_format == "text" and total_fixed:
        print(f"Fixed {total_fixed} error{'s' if total_fixed != 1 else ''}.")
    if getattr(args, "exit_zero", False):
        return EXIT_CLEAN
    return EXIT_FOUND if any(r.diagnostics for r in reports) or errors else EXIT_CLEAN


def _warn_not_converged(shown: str, outcome: FixOutcome) -> None:
    codes = ", ".join(outcome.still_fixable)
    print(f"numpyro-lint: warning: {shown}: the fixes did not converge within {MAX_ROUNDS} rounds "
          f"(still fixable: {codes}); the file is fixed as far as they got. Please report this.",
          file=sys.stderr)


def write_atomically(path: Path, original: bytes, new_text: str) -> str | None:
    """Replace the file's contents via a temporary file and rename, keeping its mode. Returns an error
    message instead of writing when the file changed on disk since it was read."""
    try:
        if path.read_bytes() != original:
            return "changed on disk while fixing; not written"
        mode = path.stat().st_mode
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
                handle.write(new_text)
            os.chmod(temporary, mode & 0o7777)
            os.replace(temporary, path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
    except OSError as error:
        return f"cannot write: {error.strerror or error}"
    return None


def _unified_diff(path: str, before: str, after: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), fromfile=f"a/{path}", tofile=f"b/{path}",
    )
    text = "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
    return text
