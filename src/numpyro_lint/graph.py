"""A model's plate diagram from the IR, without running anything: its sites (latent, observed,
deterministic, factor, param), the plates they sit in as nested clusters, and the data flow between
them as edges; rendered as Graphviz dot, Mermaid, or SVG (through Graphviz's `dot`, when installed).

An edge `a -> b` means a parameter of `b`'s distribution (or a deterministic's value) is computed from
`a`'s value, as `numpyro.render_model` shows it: through a deterministic site, the edge runs from the
deterministic, not from the sites behind it. Sites of the helpers a model calls (a `scan` step, a
submodel) are part of its graph; data flow across such a call is not followed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

from numpyro_lint.diagnostic import Span
from numpyro_lint.ir.model import FunctionIR, ModuleIR, Plate, Site
from numpyro_lint.ir.models import call_targets, index_functions

FORMATS = ("dot", "mermaid", "svg")
#: Seconds Graphviz gets to lay a graph out.
DOT_TIMEOUT_S = 30.0


class GraphvizMissing(RuntimeError):
    """`--format svg` without Graphviz's `dot` on PATH."""


@dataclass(frozen=True)
class GraphNode:
    id: str  # the site's name; its name expression's text when the name is not a literal
    kind: str  # "latent" | "observed" | "deterministic" | "factor" | "param"
    distribution: str | None
    #: Keys of the plates it sits in, outermost first.
    plates: tuple[str, ...]
    span: Span


@dataclass(frozen=True)
class GraphPlate:
    key: str  # the plate's name; `plate@LINE` for a plate whose name is not a literal
    size_text: str | None
    parent: str | None

    @property
    def label(self) -> str:
        return f"{self.key} ({self.size_text})" if self.size_text and self.size_text != self.key else self.key


@dataclass(frozen=True)
class ModelGraph:
    model: str  # the model function's qualname
    nodes: tuple[GraphNode, ...]
    plates: tuple[GraphPlate, ...]
    edges: tuple[tuple[str, str], ...]

    def node(self, node_id: str) -> GraphNode | None:
        return next((node for node in self.nodes if node.id == node_id), None)


def plate_key(plate: Plate) -> str:
    return plate.name if plate.name is not None else f"plate@{plate.span.line}"


def site_kind(site: Site) -> str:
    if site.kind == "sample":
        return "observed" if site.is_observed else "latent"
    return site.kind


def build_graph(module: ModuleIR, model: FunctionIR) -> ModelGraph:
    """The graph of `model` and the helpers it calls or passes on (scan steps), from the IR."""
    nodes: dict[str, GraphNode] = {}
    edges: dict[tuple[str, str], None] = {}
    plates: dict[str, GraphPlate] = {}
    reachable = reachable_functions(module, model)
    for function in reachable:
        ids = [_site_id(site) for site in function.sites]
        outer = _outer_sites(function, reachable)
        for index, site in enumerate(function.sites):
            stack = function.inherited_plates + site.context.plates
            keys = _add_plates(plates, stack)
            distribution = site.distribution.name if site.distribution is not None else None
            nodes.setdefault(ids[index], GraphNode(ids[index], site_kind(site), distribution, keys, site.span))
            parents = [ids[parent] for parent in _direct_parents(function, index)]
            parents += [outer[name] for name in _free_names(function, site) if name in outer]
            for parent in parents:
                if parent != ids[index]:
                    edges.setdefault((parent, ids[index]), None)
    return ModelGraph(model.qualname, tuple(nodes.values()), tuple(plates.values()), tuple(edges))


def _site_id(site: Site) -> str:
    return site.name if site.name is not None else site.name_expr.text or f"site@{site.span.line}"


def _add_plates(plates: dict[str, GraphPlate], stack: tuple[Plate, ...]) -> tuple[str, ...]:
    keys: list[str] = []
    for plate in stack:
        key = plate_key(plate)
        if key in keys:  # the same plate entered twice (a helper inside the plate that calls it)
            continue
        if key not in plates:
            plates[key] = GraphPlate(key, plate.size_text, keys[-1] if keys else None)
        keys.append(key)
    return tuple(keys)


def _direct_parents(function: FunctionIR, index: int) -> list[int]:
    """The sites whose values flow into site `index`'s distribution (or value); the sites behind a
    deterministic in that set are reached through it."""
    site = function.sites[index]
    exprs = [expr for _, expr in site.distribution.params] if site.distribution is not None else []
    exprs += [argument.expr for call in (site.distribution.chain if site.distribution else ())
              for argument in call.args]
    if site.kind != "param" and site.value is not None:
        exprs.append(site.value)
    found = {i for expr in exprs for i in expr.deps.sites if i != index and i < len(function.sites)}
    found = {i for i in found if not function.sites[i].is_observed}
    behind: set[int] = set()
    for i in found:
        other = function.sites[i]
        if other.kind == "deterministic" and other.value is not None:
            behind |= other.value.deps.sites - {i}
    return sorted(found - behind)


_IDENTIFIER = re.compile(r"(?<![.\w])[A-Za-z_]\w*")


def _outer_sites(function: FunctionIR, reachable: list[FunctionIR]) -> dict[str, str]:
    """Variable -> site id for the sites bound in the functions `function` is nested in (a `scan` step
    defined inside its model reads them as closure variables)."""
    by_qualname = {f.qualname: f for f in reachable}
    found: dict[str, str] = {}
    parent = by_qualname.get(function.parent or "")
    while parent is not None:
        for site in parent.sites:
            if site.bound_to is not None and not site.is_observed:
                found.setdefault(site.bound_to, _site_id(site))
        parent = by_qualname.get(parent.parent or "")
    return found


def _free_names(function: FunctionIR, site: Site) -> list[str]:
    """Names a site's distribution reads that its own function neither takes nor binds, in order."""
    if function.parent is None or site.distribution is None:
        return []
    local = {p.name for p in function.params} | function.created_names
    texts = [expr.text for _, expr in site.distribution.params]
    names = [name for text in texts for name in _IDENTIFIER.findall(text) if name not in local]
    return list(dict.fromkeys(names))


def reachable_functions(module: ModuleIR, model: FunctionIR) -> list[FunctionIR]:
    """`model` and the functions of the file it calls or passes on, transitively, in source order."""
    functions = list(module.functions)
    by_name, by_qualname = index_functions(functions)
    start = by_qualname.get(model.qualname)
    if start is None:
        return [model]
    seen, pending = {start}, [start]
    while pending:
        caller = functions[pending.pop()]
        for call in caller.calls:
            for target in call_targets(caller, call, functions, by_name, by_qualname):
                if target not in seen and not functions[target].is_guide and functions[target].kind != "module":
                    seen.add(target)
                    pending.append(target)
    return sorted((functions[i] for i in seen), key=lambda f: (f.span.line, f.span.col))


# Rendering ------------------------------------------------------------------------------------------

_DOT_STYLE = {
    "latent": 'shape=ellipse',
    "observed": 'shape=ellipse, style=filled, fillcolor=gray',
    "deterministic": 'shape=ellipse, style=dashed',
    "factor": 'shape=box, style=filled, fillcolor=gray',
    "param": 'shape=plain',
}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _label(node: GraphNode) -> str:
    return f"{node.id} ~ {node.distribution}" if node.distribution else node.id


def to_dot(graphs: list[ModelGraph]) -> str:
    """One digraph; with several models, each model is a cluster of its own."""
    lines = ["digraph model {", "  rankdir=TB;", '  node [fontname="Helvetica"];']
    for number, graph in enumerate(graphs):
        prefix = f"{graph.model}." if len(graphs) > 1 else ""
        indent = "  "
        if len(graphs) > 1:
            lines.append(f"  subgraph {_quote(f'cluster_model_{number}')} {{")
            lines.append(f"    label={_quote(graph.model)}; style=rounded;")
            indent = "    "
        lines.extend(_dot_body(graph, prefix, indent))
        if len(graphs) > 1:
            lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_body(graph: ModelGraph, prefix: str, indent: str) -> list[str]:
    lines = []

    def emit_cluster(parent: str | None, depth: str) -> None:
        for node in graph.nodes:
            if (node.plates[-1] if node.plates else None) == parent:
                lines.append(f"{depth}{_quote(prefix + node.id)} [label={_quote(_label(node))}, "
                             f"{_DOT_STYLE[node.kind]}];")
        for plate in graph.plates:
            if plate.parent == parent:
                lines.append(f"{depth}subgraph {_quote('cluster_' + prefix + plate.key)} {{")
                lines.append(f"{depth}  label={_quote(plate.label)}; labeljust=r; labelloc=b;")
                emit_cluster(plate.key, depth + "  ")
                lines.append(f"{depth}}}")

    emit_cluster(None, indent)
    lines.extend(f"{indent}{_quote(prefix + a)} -> {_quote(prefix + b)};" for a, b in graph.edges)
    return lines


_MERMAID_SHAPE = {
    "latent": ("((", "))"),
    "observed": ("(((", ")))"),
    "deterministic": ("([", "])"),
    "factor": ("[[", "]]"),
    "param": ("[", "]"),
}


def to_mermaid(graphs: list[ModelGraph]) -> str:
    """A Mermaid flowchart: plates are subgraphs; observed sites have a double circle."""
    lines = ["flowchart TB"]
    ids: dict[tuple[int, str], str] = {}
    counter = iter(range(10**9))

    def node_id(number: int, name: str) -> str:
        if (number, name) not in ids:
            ids[(number, name)] = f"n{next(counter)}"
        return ids[(number, name)]

    for number, graph in enumerate(graphs):
        indent = "  "
        if len(graphs) > 1:
            lines.append(f"  subgraph m{number}[{_mermaid_text(graph.model)}]")
            indent = "    "

        def emit(parent: str | None, depth: str) -> None:
            for node in graph.nodes:
                if (node.plates[-1] if node.plates else None) == parent:
                    opening, closing = _MERMAID_SHAPE[node.kind]
                    lines.append(f"{depth}{node_id(number, node.id)}{opening}{_mermaid_text(_label(node))}{closing}")
            for position, plate in enumerate(graph.plates):
                if plate.parent == parent:
                    lines.append(f"{depth}subgraph p{number}_{position}[{_mermaid_text(plate.label)}]")
                    emit(plate.key, depth + "  ")
                    lines.append(f"{depth}end")

        emit(None, indent)
        lines.extend(f"{indent}{node_id(number, a)} --> {node_id(number, b)}" for a, b in graph.edges)
        if len(graphs) > 1:
            lines.append("  end")
    return "\n".join(lines) + "\n"


def _mermaid_text(text: str) -> str:
    """A quoted Mermaid label: quotes become their entity, so no label can end the string early."""
    return '"' + re.sub(r'["\n]', lambda m: "#quot;" if m.group() == '"' else " ", text) + '"'


def to_svg(graphs: list[ModelGraph]) -> str:
    """The dot rendering laid out by Graphviz; raises GraphvizMissing when `dot` is not installed."""
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizMissing("`--format svg` needs Graphviz's `dot` on PATH (e.g. `apt install graphviz`); "
                              "`--format dot` or `--format mermaid` need nothing")
    try:
        done = subprocess.run([dot, "-Tsvg"], input=to_dot(graphs), capture_output=True, text=True,
                              timeout=DOT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise GraphvizMissing(f"Graphviz's `dot` failed: {error}") from None
    if done.returncode != 0:
        raise GraphvizMissing(f"Graphviz's `dot` failed: {done.stderr.strip() or done.returncode}")
    return done.stdout


def to_plain_svg(graph: ModelGraph) -> str:
    """An SVG laid out here, without Graphviz (for the editor): sites in rows by their depth in the
    graph; each plate's sites side by side in columns of their own, so that a plate is a rectangle
    around its sites and nothing else, nested plates inside it."""
    layout = _Layout(graph)
    return layout.svg()


class _Layout:
    ROW = 84
    NODE_HEIGHT = 34
    GAP = 28
    MARGIN = 24

    def __init__(self, graph: ModelGraph) -> None:
        self.graph = graph
        order = {plate.key: i for i, plate in enumerate(graph.plates)}
        self.depth = {plate.key: len(self._path(plate.key)) for plate in graph.plates}
        rank = {node.id: 0 for node in graph.nodes}
        for _ in range(len(graph.nodes)):  # longest path from the roots (bounded: names may collide)
            changed = False
            for a, b in graph.edges:
                if a in rank and b in rank and rank[b] < rank[a] + 1:
                    rank[b] = rank[a] + 1
                    changed = True
            if not changed:
                break
        self.rank = rank
        groups = sorted({node.plates for node in graph.nodes}, key=lambda path: [order[k] for k in path])
        self.width = {node.id: max(72, 7 * len(_label(node)) + 24) for node in graph.nodes}
        self.center: dict[str, tuple[float, float]] = {}
        self.group_x: dict[tuple[str, ...], tuple[float, float]] = {}
        x = float(self.MARGIN + self._pad(0))
        max_depth = max(self.depth.values(), default=0)
        for position, group in enumerate(groups):
            if position and groups[position - 1][:1] != group[:1]:
                x += 2 * self._pad(0)  # between unrelated plates: room for both rectangles
            members = [node for node in graph.nodes if node.plates == group]
            by_rank: dict[int, list[GraphNode]] = {}
            for node in members:
                by_rank.setdefault(rank[node.id], []).append(node)
            label = next((p.label for p in graph.plates if group and p.key == group[-1]), "")
            widths = [sum(self.width[n.id] + self.GAP for n in nodes) for nodes in by_rank.values()]
            width = max([*widths, 7 * len(label) + 24])
            for row, nodes in by_rank.items():
                cursor = x + (width - sum(self.width[n.id] + self.GAP for n in nodes)) / 2
                y = self.MARGIN + max_depth * 10 + row * self.ROW + self.NODE_HEIGHT / 2 + 10
                for node in nodes:
                    self.center[node.id] = (cursor + (self.width[node.id] + self.GAP) / 2, y)
                    cursor += self.width[node.id] + self.GAP
            self.group_x[group] = (x, x + width)
            x += width + self.GAP
        self.total_width = x + self.MARGIN
        rows = max(rank.values(), default=0) + 1
        self.total_height = self.MARGIN * 2 + max_depth * 20 + rows * self.ROW + 20

    def _path(self, key: str) -> list[str]:
        plates = {plate.key: plate for plate in self.graph.plates}
        path = []
        while key is not None and key in plates and key not in path:
            path.append(key)
            key = plates[key].parent
        return path

    def _pad(self, depth: int) -> float:
        return 10.0 + 8.0 * max(0, 3 - depth)

    def svg(self) -> str:
        from html import escape

        parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.total_width:.0f}" '
                 f'height="{self.total_height:.0f}" font-family="Helvetica, Arial, sans-serif" font-size="12">',
                 '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
                 'markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z"/></marker></defs>']
        for plate in self.graph.plates:
            members = [n for n in self.graph.nodes if plate.key in n.plates]
            groups = [span for group, span in self.group_x.items() if plate.key in group]
            if not members or not groups:
                continue
            pad = self._pad(self.depth[plate.key])
            left = min(a for a, _ in groups) - pad + self.GAP / 2
            right = max(b for _, b in groups) + pad - self.GAP / 2
            top = min(self.center[n.id][1] for n in members) - self.NODE_HEIGHT / 2 - pad
            bottom = max(self.center[n.id][1] for n in members) + self.NODE_HEIGHT / 2 + pad + 12
            parts.append(f'<g class="plate"><rect x="{left:.1f}" y="{top:.1f}" width="{right - left:.1f}" '
                         f'height="{bottom - top:.1f}" rx="6" fill="none" stroke="currentColor"/>'
                         f'<text x="{right - 6:.1f}" y="{bottom - 6:.1f}" text-anchor="end">'
                         f'{escape(plate.label)}</text></g>')
        for a, b in self.graph.edges:
            if a not in self.center or b not in self.center:
                continue
            (x1, y1), (x2, y2) = self.center[a], self.center[b]
            parts.append(f'<line class="edge" x1="{x1:.1f}" y1="{y1 + self.NODE_HEIGHT / 2:.1f}" x2="{x2:.1f}" '
                         f'y2="{y2 - self.NODE_HEIGHT / 2:.1f}" stroke="currentColor" marker-end="url(#arrow)"/>')
        for node in self.graph.nodes:
            x, y = self.center[node.id]
            rx, ry = self.width[node.id] / 2, self.NODE_HEIGHT / 2
            fill = "#bbbbbb" if node.kind in ("observed", "factor") else "none"
            dash = ' stroke-dasharray="4 3"' if node.kind == "deterministic" else ""
            shape = (f'<rect x="{x - rx:.1f}" y="{y - ry:.1f}" width="{2 * rx:.1f}" height="{2 * ry:.1f}" '
                     if node.kind in ("factor", "param") else f'<ellipse cx="{x:.1f}" cy="{y:.1f}" rx="{rx:.1f}" '
                                                              f'ry="{ry:.1f}" ')
            parts.append(f'<g class="node {node.kind}" data-site="{escape(node.id)}">{shape}fill="{fill}" '
                         f'stroke="currentColor"{dash}/><text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle">'
                         f'{escape(_label(node))}</text></g>')
        parts.append("</svg>")
        return "\n".join(parts) + "\n"


def render(graphs: list[ModelGraph], output_format: str) -> str:
    if output_format == "dot":
        return to_dot(graphs)
    if output_format == "mermaid":
        return to_mermaid(graphs)
    if output_format == "svg":
        return to_svg(graphs)
    raise ValueError(f"unknown graph format {output_format!r} (known: {', '.join(FORMATS)})")


# Choosing models ------------------------------------------------------------------------------------

class NoSuchModel(ValueError):
    """The file has no model, or none of the name asked for; the message says which there are."""


def top_models(module: ModuleIR) -> list[FunctionIR]:
    """The models the smoke runner would run, less those that run inside another one (a `scan` step
    or submodel defined for it)."""
    from numpyro_lint.runner.targets import model_functions  # the IR's choice of models; no JAX

    models = model_functions(module)
    inner = {f.qualname for model in models for f in reachable_functions(module, model) if f.qualname != model.qualname}
    return [model for model in models if model.qualname not in inner] or models


def model_graphs(module: ModuleIR, name: str | None = None) -> list[ModelGraph]:
    """The graphs of the file's models (those the smoke runner would run), or of the one named."""
    models = top_models(module)
    if name is not None:
        chosen = [f for f in module.models if name in (f.name, f.qualname)]
        if not chosen:
            known = ", ".join(f.qualname for f in models) or "none"
            raise NoSuchModel(f"no model named {name!r} (models in this file: {known})")
        models = chosen[:1]
    if not models:
        raise NoSuchModel("no NumPyro model in this file (no function calls numpyro.sample or is passed "
                          "to an inference algorithm)")
    return [build_graph(module, model) for model in models]
