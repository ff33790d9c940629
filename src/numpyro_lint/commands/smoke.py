"""`numpyro-lint smoke FILE [--model NAME]`: the smoke checks from the command line. No JAX here: the
runner runs the model in its child process.

Asking for it is consent to run the file, so it ignores smoke.enabled. Output formats and exit codes
are check's: 0 nothing found, 1 findings, 2 usage or configuration error (or no runner).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import replace

from numpyro_lint.commands.common import EXIT_CLEAN, EXIT_ERROR, EXIT_FOUND, display_path, print_reports
from numpyro_lint.config import Settings
from numpyro_lint.files import UnreadableFile, read_document
from numpyro_lint.report import FileReport


class ProgressBar:
    """One line on stderr, rewritten in place: `model.py  sampling 150/300  [#####-----]  7.2 s`."""

    WIDTH = 20

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.start = time.monotonic()
        self.shown = False

    def __call__(self, path: str, message: str) -> None:
        bar = ""
        numbers = message.rsplit(" ", 1)[-1]
        if "/" in numbers:
            done, _, total = numbers.partition("/")
            if done.isdigit() and total.isdigit() and int(total):
                filled = self.WIDTH * int(done) // int(total)
                bar = f"  [{'#' * filled}{'-' * (self.WIDTH - filled)}]"
        elapsed = time.monotonic() - self.start
        self.stream.write(f"\r\x1b[2K{path}  {message}{bar}  {elapsed:.1f} s")
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()


def run_smoke(args: argparse.Namespace, settings: Settings) -> int:
    from numpyro_lint.runner.client import RunnerUnavailable, SmokeRunner

    shown = display_path(args.file)
    try:
        document = read_document(args.file)
    except UnreadableFile as error:
        print(f"numpyro-lint: error: {shown}: {error}", file=sys.stderr)
        return EXIT_ERROR
    document = replace(document, path=shown)
    settings = replace(settings, smoke=replace(settings.smoke, enabled=True))
    progress = ProgressBar() if not args.no_progress and sys.stderr.isatty() else None
    runner = SmokeRunner(settings.smoke, on_progress=progress)
    models = [args.model] if args.model else None
    try:
        diagnostics = asyncio.run(runner.run(str(args.file.resolve()), document.text, settings, models=models))
    except (RunnerUnavailable, ValueError) as error:
        print(f"numpyro-lint: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        if progress is not None:
            progress.clear()
        runner.close()
    print_reports(args.output_format, [FileReport(document, tuple(diagnostics))], [])
    return EXIT_FOUND if diagnostics else EXIT_CLEAN
