"""What every command shares: exit codes, settings from the arguments, the files they name, reports
printed in the chosen format."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

from numpyro_lint.config import ConfigError, Settings, find_pyproject, load_pyproject
from numpyro_lint.files import discover
from numpyro_lint.report import FileReport, format_github, format_json, format_sarif, format_text

EXIT_CLEAN, EXIT_FOUND, EXIT_ERROR = 0, 1, 2


def resolve_settings(args: argparse.Namespace) -> Settings:
    """pyproject.toml (the one named, the nearest, or none with --isolated), then the flags on top."""
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
