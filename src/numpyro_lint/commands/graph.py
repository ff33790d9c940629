"""`numpyro-lint graph FILE [--model NAME] [--format dot|mermaid|svg]`: a model's plate diagram, built from
the code by `graph.py` (nothing is run). Exit 0 with the graph; 2 when the file cannot be read or parsed,
names no such model, or svg is asked for without Graphviz."""

from __future__ import annotations

import argparse
import sys

from numpyro_lint.commands.common import EXIT_CLEAN, EXIT_ERROR
from numpyro_lint.files import UnreadableFile, read_document
from numpyro_lint.graph import GraphvizMissing, NoSuchModel, model_graphs, render
from numpyro_lint.ir.builder import build_module_ir


def run_graph(args: argparse.Namespace) -> int:
    path = str(args.file)
    try:
        document = read_document(args.file)
    except UnreadableFile as error:
        return _error(f"{path}: {error}")
    module = build_module_ir(document.text, path)
    if module.syntax_error is not None:
        where = module.syntax_error.span
        return _error(f"{path}:{where.line}:{where.col + 1}: cannot parse: {module.syntax_error.message}")
    try:
        sys.stdout.write(render(model_graphs(module, args.model), args.format))
    except (NoSuchModel, GraphvizMissing) as error:
        return _error(f"{path}: {error}")
    return EXIT_CLEAN


def _error(message: str) -> int:
    print(f"numpyro-lint: error: {message}", file=sys.stderr)
    return EXIT_ERROR
