"""`numpyro-lint check | fix | server | smoke | graph`: the arguments; each command lives in `commands/` (the
server in `server/`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from numpyro_lint import __version__
from numpyro_lint.codes import is_known_selector, normalize_selector
from numpyro_lint.commands.check import run_check
from numpyro_lint.commands.common import EXIT_ERROR, resolve_settings
from numpyro_lint.config import ConfigError
from numpyro_lint.report import FORMATS


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
            from numpyro_lint.commands.graph import run_graph

            return run_graph(args)
        settings = resolve_settings(args)
        if args.command == "smoke":
            from numpyro_lint.commands.smoke import run_smoke

            return run_smoke(args, settings)
        if args.command == "fix" or getattr(args, "fix", False) or getattr(args, "diff", False):
            from numpyro_lint.commands.fix import run_fix

            return run_fix(args, settings)
        return run_check(args, settings)
    except ConfigError as error:
        print(f"numpyro-lint: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
