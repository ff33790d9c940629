"""`numpyro-lint check | fix | server | smoke | graph`."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from numpyro_lint import __version__
from numpyro_lint.codes import is_known_selector, normalize_selector
from numpyro_lint.config import ConfigError, Settings, find_pyproject, load_pyproject
from numpyro_lint.files import Document, UnreadableFile, discover, document_from_bytes, read_document
from numpyro_lint.report import FORMATS, FileReport, format_github, format_json, format_sarif, format_text

if TYPE_CHECKING:
    from numpyro_lint.linter import FixesWanted

EXIT_CLEAN, EXIT_FOUND, EXIT_ERROR = 0, 1, 2
#: Below this many files, forking workers costs more than it saves.
PARALLEL_THRESHOLD = 4


def _codes(value: str) -> tuple[str, ...]:
    codes = tuple(code.strip().upper() for code in value.split(",") if code.strip())
    for code in codes:
        if not is_known_selector(code):
            raise argparse.ArgumentTypeError(f"unknown rule code {code!r}")
    return tuple(normalize_selector(code) for code in codes)


def _add_lint_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", type=Path, help="files or folders (default: .)")
    parser.add_argument("--output-format", choices=FORMATS, default="text")
    parser.add_argument("--select", type=_codes, help="comma-separated codes or prefixes to enable; `pedantic` adds the pedantic tier")
    parser.add_argument("--extend-select", type=_codes, help="codes to enable on top of the configured ones")
    parser.add_argument("--ignore", type=_codes, help="comma-separated codes or prefixes to disable")
    parser.add_argument("--config", type=Path, help="a pyproject.toml to read instead of the nearest one")
    parser.add_argument("--isolated", action="store_true", help="ignore all configuration files")
    parser.add_argument("--exit-zero", action="store_true", help="exit 0 even when something was reported")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="numpyro-lint", description="Lint NumPyro models.")
    parser.add_argument("--version", action="version", version=f"numpyro-lint {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser("check", help="report problems (never writes files unless --fix)")
    _add_lint_options(check)
    check.add_argument("--statistics", action="store_true", help="count diagnostics per code")
    check.add_argument("--stdin-filename", help="read the file's text from stdin, reporting it under this name")
    check.add_argument("--fix", action="store_true", help="apply safe fixes")
    check.add_argument("--unsafe-fixes", action="store_true", help="with --fix: apply unsafe fixes too")
    check.add_argument("--diff", action="store_true", help="print the fixes as a unified diff, write nothing")

    fix = commands.add_parser("fix", help="apply safe fixes (check --fix)")
    _add_lint_options(fix)
    fix.add_argument("--unsafe-fixes", action="store_true", help="apply unsafe fixes too")
    fix.add_argument("--diff", action="store_true", help="print a unified diff, write nothing")

    server = commands.add_parser("server", help="run the language server on stdio")
    server.add_argument("--log-file", type=Path, help="also write the server log to this file")
    # LSP clients (vscode-languageclient among them) name the transport; stdio is the only one we speak.
    server.add_argument("--stdio", action="store_true", help="talk LSP over stdin and stdout (the default)")

    smoke = commands.add_parser("smoke", help="run the model: prior predictive and a short NUTS run")
    smoke.add_argument("file", type=Path)
    smoke.add_argument("--model", help="the model function to run (default: every model in the file)")
    smoke.add_argument("--output-format", choices=FORMATS, default="text")
    smoke.add_argument("--config", type=Path, help="a pyproject.toml to read instead of the nearest one")
    smoke.add_argument("--isolated", action="store_true", help="ignore all configuration files")
    smoke.add_argument("--no-progress", action="store_true", help="no progress bar")

    graph = commands.add_parser("graph", help="draw a model's plate diagram from the code (runs nothing)")
    graph.add_argument("file", type=Path)
    graph.add_argument("--model", help="the model function to draw (default: every model in the file)")
    graph.add_argument("--format", choices=("dot", "mermaid", "svg"), default="dot",
                       help="svg needs Graphviz's `dot` (default: dot)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "server":
            from numpyro_lint.server import run_server

            return run_server(log_file=args.log_file)
        if args.command == "graph":
            from numpyro_lint.graph import graph_command

            status, out, error = graph_command(str(args.file), args.model, args.format)
            sys.stdout.write(out)
            if error:
                print(error, file=sys.stderr)
            return status
        settings = resolve_settings(args)
        if args.command == "smoke":
            from numpyro_lint.runner.cli import run_smoke_command

            return run_smoke_command(args, settings)
        if args.command == "fix" or getattr(args, "fix", False) or getattr(args, "diff", False):
            from numpyro_lint.fixes.apply import run_fix_command

            return run_fix_command(args, settings)
        return run_check(args, settings)
    except ConfigError as error:
        print(f"numpyro-lint: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


def resolve_settings(args: argparse.Namespace) -> Settings:
    settings = Settings()
    if not args.isolated:
        if args.config is not None:
            if not args.config.is_file():
                raise ConfigError(f"{args.config}: no such file")
            settings = load_pyproject(args.config)
        else:
            paths = getattr(args, "paths", None) or [getattr(args, "file", None) or Path.cwd()]
            anchor = Path(getattr(args, "stdin_filename", None) or paths[0])
            pyproject = find_pyproject(anchor if anchor.exists() else Path.cwd())
            if pyproject is not None:
                settings = load_pyproject(pyproject)
    if getattr(args, "select", None):
        settings = replace(settings, select=args.select)
    if getattr(args, "extend_select", None):
        settings = replace(settings, select=settings.select + args.extend_select)
    if getattr(args, "ignore", None):
        settings = replace(settings, ignore=settings.ignore + args.ignore)
    return settings


def collect_documents(args: argparse.Namespace, settings: Settings) -> tuple[list[Path], list[tuple[str, str]]]:
    """The files named or found under the arguments, and (path, reason) for paths that do not exist."""
    paths = args.paths or [Path(".")]
    files = list(discover(paths, settings, Path.cwd()))
    missing = [(display_path(p), "no such file or directory") for p in files if not p.exists()]
    return [p for p in files if p.exists()], missing


def display_path(path: Path) -> str:
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if relative.startswith("..") else relative


def lint_document(document: Document, settings: Settings, fixes: FixesWanted = "all") -> FileReport:
    from numpyro_lint.linter import lint_document_text

    return FileReport(document, lint_document_text(document.text, document.path, settings, fixes=fixes))


def _lint_file(path: Path, settings: Settings, fixes: FixesWanted) -> FileReport | tuple[str, str]:
    shown = display_path(path)
    try:
        document = read_document(path)
    except UnreadableFile as error:
        return shown, str(error)
    return lint_document(replace(document, path=shown), settings, fixes)


def fixes_shown(output_format: str, statistics: bool) -> FixesWanted:
    """The fixes a report shows: JSON all of them, text its safe ones (its statistics any), others none."""
    if output_format == "json" or (output_format == "text" and statistics):
        return "all"
    return "safe" if output_format == "text" else "none"


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


def read_stdin_document(name: str) -> Document:
    return document_from_bytes(name, sys.stdin.buffer.read())


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


def print_reports(output_format: str, reports: list[FileReport], errors: list[tuple[str, str]],
                  statistics: bool = False) -> None:
    if output_format == "json":
        for path, message in errors:
            print(f"numpyro-lint: error: {path}: {message}", file=sys.stderr)
        out = format_json(reports)
    elif output_format == "github":
        out = format_github(reports, errors)
    elif output_format == "sarif":
        from numpyro_lint.rules import ALL_RULES
        from numpyro_lint.codes import RULE_NAMES

        summaries = {rule.code: rule.summary for rule in ALL_RULES}
        for code in {d.code for r in reports for d in r.diagnostics} - set(summaries):
            summaries[code] = RULE_NAMES.get(code, code)
        for path, message in errors:
            print(f"numpyro-lint: error: {path}: {message}", file=sys.stderr)
        out = format_sarif(reports, summaries)
    else:
        out = format_text(reports, errors, statistics)
    sys.stdout.write(out)
    sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())
