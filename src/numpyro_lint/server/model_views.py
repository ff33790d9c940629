"""Model insight as LSP values: the hover on a sample site, a code lens above each model, shape inlay
hints, and the graph for `numpyro-lint.showGraph`. Pure functions over an `Analysis` (text, IR) and the
smoke result for the same version; the handlers in `app.py` only call them.

A notebook cell is a `Part` of its notebook's analysis: positions are translated through it.
"""

from __future__ import annotations

from typing import Any

from lsprotocol import types

from numpyro_lint.server import insight
from numpyro_lint.server.analysis import Analysis
from numpyro_lint.server.documents import client_position, client_range, code_point_column
from numpyro_lint.server.smoke import SmokeResult

SHOW_GRAPH_COMMAND = "numpyro-lint.showGraph"


def site_hover(analysis: Analysis, smoke: SmokeResult | None, uri: str, position: types.Position,
               encoding: str) -> tuple[str, types.Range] | None:
    """Markdown about the sample site at `position` of document `uri` (a cell, in a notebook), and the
    range it covers; None when no site is there."""
    module, snapshot = analysis.module, analysis.snapshot
    part = snapshot.part_for(uri)
    if module is None or part is None or position.line >= part.line_count:
        return None
    line = part.first_line + position.line
    hit = insight.site_at(module, line, code_point_column(snapshot.source, line, position.character, encoding))
    if hit is None:
        return None
    facts = insight.facts_for(module, hit.function, smoke.facts) if smoke is not None else None
    return insight.site_markdown(module, hit, facts), client_range(snapshot, part, hit.span, encoding)


def code_lenses(analysis: Analysis, smoke: SmokeResult | None, running: bool, uri: str, command: str,
                encoding: str) -> list[types.CodeLens]:
    """One lens per model defined in document `uri`: `command` (the smoke run) with the last outcome."""
    module, snapshot = analysis.module, analysis.snapshot
    part = snapshot.part_for(uri)
    if module is None or part is None:
        return []
    lenses = insight.model_lenses(module, smoke.facts if smoke is not None else None,
                                  smoke.diagnostics if smoke is not None else None, running)
    result = []
    for lens in lenses:
        span = lens.model.name_span
        if not part.first_line <= span.line <= part.last_line:
            continue
        result.append(types.CodeLens(
            range=client_range(snapshot, part, span, encoding),
            command=types.Command(title=lens.title, command=command, arguments=[snapshot.uri]),
        ))
    return result


def inlay_hints(analysis: Analysis, smoke: SmokeResult | None, uri: str, visible: types.Range,
                encoding: str) -> list[types.InlayHint]:
    """`: f32[8]` after each measured site's `sample(...)` call inside `visible`."""
    module, snapshot = analysis.module, analysis.snapshot
    part = snapshot.part_for(uri)
    if module is None or part is None or smoke is None or not smoke.facts:
        return []
    hints = []
    for span, label in insight.shape_hints(module, smoke.facts):
        if not part.first_line <= span.end_line <= part.last_line:
            continue
        position = client_position(snapshot, part, span.end_line, span.end_col, encoding)
        if visible.start.line <= position.line <= visible.end.line:
            hints.append(types.InlayHint(position=position, label=label, kind=types.InlayHintKind.Type,
                                         padding_left=False))
    return hints


def graph_result(analysis: Analysis, model: str | None, output_format: str) -> dict[str, Any]:
    """`numpyro-lint.showGraph`: {"format", "graph", "models", "renderer"} or {"error"}. An editor has no
    Graphviz to count on: without it, "svg" is laid out here ("renderer": "numpyro-lint"), one `<svg>`
    element per model."""
    from numpyro_lint.graph import FORMATS, GraphvizMissing, NoSuchModel, model_graphs, render, to_plain_svg

    module = analysis.module
    if output_format not in FORMATS:
        return {"error": f"unknown graph format {output_format!r} (known: {', '.join(FORMATS)})"}
    if module is None or module.syntax_error is not None:
        return {"error": "the file does not parse"}
    try:
        graphs = model_graphs(module, model)
    except NoSuchModel as error:
        return {"error": str(error)}
    result = {"format": output_format, "models": [graph.model for graph in graphs], "renderer": "numpyro-lint"}
    try:
        result["graph"] = render(graphs, output_format)
        if output_format == "svg":
            result["renderer"] = "graphviz"
    except GraphvizMissing:
        result["graph"] = "".join(to_plain_svg(graph) for graph in graphs)
    return result
