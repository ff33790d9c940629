"""Which models of a file the runner runs, what it tells the child about each, and their cache keys.
Server/CLI side: `ast` and the IR only.

A model's key hashes what can change its run: its own source and that of the top-level functions and
classes it refers to (transitively), every other top-level statement (imports, constants, the
`__main__` block its arguments may come from), its smoke directive and the run settings. Comments are
not in the `ast`, so a comment-only edit, or an edit to another model, keeps the key.
"""

from __future__ import annotations

import ast
import hashlib
import re
from dataclasses import asdict, dataclass

from numpyro_lint.config import Settings
from numpyro_lint.diagnostic import Diagnostic
from numpyro_lint.ir.model import FunctionIR, ModuleIR
from numpyro_lint.runner.protocol import PROTOCOL_VERSION, ModelRequest, RunSettings

DIRECTIVE_RE = re.compile(r"^\s*#\s*numpyro-lint:\s*smoke\((?P<args>.*)\)\s*$")
_LOC_SCALE = frozenset({"Normal", "StudentT", "Cauchy", "Laplace", "Logistic", "Gumbel"})


@dataclass(frozen=True)
class Target:
    request: ModelRequest
    function: FunctionIR
    #: The key of the run's results: the compile key plus what only changes the numbers (seed...).
    result_key: str


def run_settings(settings: Settings) -> RunSettings:
    smoke = settings.smoke
    return RunSettings(chains=smoke.chains, warmup=smoke.warmup, samples=smoke.samples, seed=smoke.seed,
                       prior_recovery_threshold=smoke.prior_recovery_threshold)


def model_functions(module: ModuleIR, names: list[str] | None = None) -> list[FunctionIR]:
    """The models to run: not lambdas or guides, and not helpers that other models of the file call
    (they run as part of their caller)."""
    models = [f for f in module.models if f.kind in ("function", "method") and "guide" not in f.name.lower()]
    called = {call.callee.rsplit(".", 1)[-1] for f in models for call in f.calls}
    chosen = [f for f in models if f.name not in called] or models
    if names:
        chosen = [f for f in models if f.name in names or f.qualname in names]
    return chosen


def targets(module: ModuleIR, text: str, settings: Settings, static: tuple[Diagnostic, ...],
            process_key: str, names: list[str] | None = None) -> list[Target]:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    sources = _TopLevelSources(tree)
    lines = text.splitlines()
    run = run_settings(settings)
    result = []
    for function in model_functions(module, names):
        node = sources.definitions.get(function.qualname)
        if node is None:
            continue
        directive_line, directive = _directive(lines, node)
        compile_key = _hash(
            PROTOCOL_VERSION, process_key, function.qualname, directive, sources.key_parts(function.qualname),
            run.chains, run.warmup, run.samples, run.max_tree_depth,
        )
        request = ModelRequest(
            qualname=function.qualname, directive=directive, directive_line=directive_line,
            all_defaults=all(p.has_default for p in function.params),
            centered=tuple(centered_sites(function, static)), compile_key=compile_key,
            parents=_parents(function, None), scale_parents=_parents(function, "scale"),
        )
        result_key = _hash(compile_key, asdict(run), request.centered, settings.smoke.timeout_s)
        result.append(Target(request, function, result_key))
    return result


def centered_sites(function: FunctionIR, static: tuple[Diagnostic, ...]) -> list[str]:
    """The sites NPL501 reports in this function (its diagnostics sit on the site's span)."""
    by_span = {site.span: site.name for site in function.sites if site.name}
    flagged = [by_span[d.span] for d in static if d.code == "NPL501" and d.span in by_span]
    return flagged if any(d.code == "NPL501" for d in static) else _centered_fallback(function)


def _centered_fallback(function: FunctionIR) -> list[str]:
    """NPL501's query, for when the rule is disabled: loc-scale latent sites in a plate whose scale
    depends on another latent site."""
    found = []
    for index, site in enumerate(function.sites):
        distribution = site.distribution
        if not (site.is_latent and site.name and distribution and distribution.name in _LOC_SCALE):
            continue
        scale = distribution.param("scale")
        covered = any(r.covers(site.name) for r in site.context.reparams) or (
            function.reparam is not None and function.reparam.covers(site.name))
        if scale is None or covered or not (site.plates or function.inherited_plates):
            continue
        if any(i != index and function.sites[i].is_latent for i in scale.deps.sites):
            found.append(site.name)
    return found


def _parents(function: FunctionIR, param: str | None) -> dict[str, list[str]]:
    parents: dict[str, list[str]] = {}
    for index, site in enumerate(function.sites):
        if not site.name or site.distribution is None:
            continue
        exprs = [e for name, e in site.distribution.params if param is None or name == param]
        indices = sorted({i for e in exprs for i in e.deps.sites if i != index})
        names = [function.sites[i].name for i in indices if function.sites[i].is_latent and function.sites[i].name]
        if names:
            parents[site.name] = names
    return parents


def _directive(lines: list[str], node: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[int | None, str | None]:
    """`# numpyro-lint: smoke(...)` in the comment block right above the def (and its decorators)."""
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    line = first - 1
    while line >= 1 and lines[line - 1].strip().startswith("#"):
        match = DIRECTIVE_RE.match(lines[line - 1])
        if match:
            return line, match.group("args").strip()
        line -= 1
    return None, None


class _TopLevelSources:
    """The `ast` dump of each top-level statement, and which top-level names each one refers to."""

    def __init__(self, tree: ast.Module) -> None:
        self.definitions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
        self.top_of: dict[str, str] = {}
        self.dumps: dict[str, str] = {}
        self.refs: dict[str, set[str]] = {}
        self.other: list[str] = []
        for statement in tree.body:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.dumps[statement.name] = ast.dump(statement, include_attributes=False)
                self.refs[statement.name] = {n.id for n in ast.walk(statement) if isinstance(n, ast.Name)}
                self._collect(statement, "", statement.name)
            else:
                self.other.append(ast.dump(statement, include_attributes=False))

    def _collect(self, node: ast.AST, prefix: str, top: str) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            qualname = prefix + node.name
            self.definitions[qualname] = node
            self.top_of[qualname] = top
            inner = qualname + ".<locals>."
        elif isinstance(node, ast.ClassDef):
            inner = prefix + node.name + "."
        else:
            inner = prefix
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self._collect(child, inner, top)
            elif not isinstance(child, (ast.Lambda,)):
                self._collect_nested(child, inner, top)

    def _collect_nested(self, node: ast.AST, prefix: str, top: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self._collect(child, prefix, top)
            else:
                self._collect_nested(child, prefix, top)

    def key_parts(self, qualname: str) -> list[str]:
        wanted = [self.top_of[qualname]]
        seen: set[str] = set()
        while wanted:
            name = wanted.pop()
            if name in seen or name not in self.dumps:
                continue
            seen.add(name)
            wanted.extend(self.refs[name] - seen)
        return [self.dumps[name] for name in sorted(seen)] + self.other


def _hash(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()[:32]
