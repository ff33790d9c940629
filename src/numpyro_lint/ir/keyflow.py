"""PRNG key flow: which names hold keys, where each key is consumed, and which consumptions reuse one.

The builder hands over every function's `ast` node after its walk (no second parse). From the calls the
builder recorded, this pass first decides cheaply whether a finding is possible in a function (the same
key text given to two consumers, a consumer in a loop, a literal seed); only those bodies are walked, and
a helper's body only when a caller needs to know which parameters it consumes. Inside a body, simple
statements on lines without a call of interest are handled for their bindings alone. Models without
keys cost nothing here.

The walk is path-sensitive. It carries a small set of path states (at most `MAX_PATHS`; dropping one
can only hide a finding, never invent one): `if`/`else`, `match` arms and `try` handlers fork it,
`return`/`raise` end a path, `break`/`continue` leave the loop body, and a loop body runs again on the
states its previous pass left (up to three passes, the iteration number recorded with each use). A
path state maps names to abstract values: a key, an array of keys (a `split` result), elements of one
(`keys[0]`, tuple or star unpacking), an inference object (`MCMC`, `SVI`, `Predictive`, autoguides,
distributions) and tuples of those; aliases share a value. Every key source (`PRNGKey`, `random.key`,
`split`, `fold_in`, `numpyro.prng_key`, a name bound to an unknown call that is named like a key)
makes a fresh value, so a rebinding is a new key, also on the next pass of a loop. A consumption of a
value the path has already consumed is a reuse. Tests that repeat on one path (`if a: ...` twice,
`if x == "a"` then `if x == "b"`) are decided from what the path knows, so exclusive arms stay
exclusive. Functions of the same file are summarized by which parameters they consume, on demand.
"""

from __future__ import annotations

import ast
import re
from bisect import bisect_left
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Callable, Iterable, Protocol

from numpyro_lint.diagnostic import Span
from numpyro_lint.ir.imports import ImportTable
from numpyro_lint.ir.model import Call, FunctionIR, KeyEvent, KeyUse
from numpyro_lint.ir.models import index_functions, resolve_function_refs

MAX_PATHS = 16
#: `jax.random` functions that do not consume their key argument (or take none).
NON_CONSUMING = frozenset({
    "PRNGKey", "key", "fold_in", "clone", "key_data", "wrap_key_data", "key_impl", "default_prng_impl",
    "threefry_2x32", "threefry2x32_key", "rbg_key", "unsafe_rbg_key",
})
KEY_SOURCES = frozenset({"PRNGKey", "key", "fold_in", "clone"})
#: Methods that consume a key passed first (or as `rng_key`/`key`) when the receiver is known, or
#: when the argument is known to be a key.
KEY_METHODS = {
    "run": "inference", "warmup": "inference", "init": "inference", "sample_posterior": "inference",
    "sample": "sampler", "sample_with_intermediates": "sampler",
}
#: Receiver kind -> the methods of it that consume a key.
OBJECT_METHODS = {
    "mcmc": frozenset({"run", "warmup"}),
    "svi": frozenset({"run", "init"}),
    "guide": frozenset({"sample_posterior"}),
    "distribution": frozenset({"sample", "sample_with_intermediates"}),
}
#: MCMC kernels: what they are built on is the model an `MCMC` runs.
KERNELS = frozenset({
    "NUTS", "HMC", "SA", "BarkerMH", "MixedHMC", "HMCECS", "DiscreteHMCGibbs", "HMCGibbs", "AIES", "ESS",
})
#: The argument that holds the model (or, for `MCMC`, the kernel) of each inference object.
_MODEL_ARGUMENT = {"mcmc": "sampler", "kernel": "model", "svi": "model", "predictive": "model", "guide": "model"}
#: Names that may hold a key handed to a helper (`key`, `rng_key`, `k1`, `k_fit`, `subkey`), for the cheap
#: test of whether a function is worth analysing; wider than `is_key_name`, which decides what is a key.
_LOOSE_KEY = re.compile(r"(?i)\w*(?:key|rng)\w*|k\d*|k_\w+|sk\d*|sub\w*")
#: `seed(model, key, hide_types=["sample"])` seeds only some sites; model and guide share such a key
#: on purpose (the same subsample in both).
_PARTIAL_SEED = frozenset({"hide", "hide_types", "expose", "expose_types"})
#: Statements without a body: skipped (but for their bindings) when they hold no call of interest.
_SIMPLE = (ast.Expr, ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Return, ast.Raise, ast.Assert, ast.Delete)
_KEY_WORDS = frozenset({"key", "keys", "subkey", "subkeys", "rng", "rngs", "rngkey", "rngkeys", "prng",
                        "prngkey", "prngkeys"})


@lru_cache(maxsize=4096)
def is_key_name(name: str) -> bool:
    """`key`, `rng_key`, `subkey`, `key_predict`, `keys`, `rng1`: names that by convention hold PRNG keys."""
    return any(part.rstrip("0123456789") in _KEY_WORDS for part in name.lower().split("_"))


def _maybe_key_name(name: str) -> bool:
    """`is_key_name`, after a substring test that rejects most names cheaply."""
    return ("key" in name or "rng" in name or "KEY" in name or "Key" in name) and is_key_name(name)


def _is_key_array_name(name: str) -> bool:
    return any(part.rstrip("0123456789") in ("keys", "subkeys", "rngs", "rngkeys", "prngkeys")
               for part in name.lower().split("_"))


class Source(Protocol):
    def span(self, node: ast.AST) -> Span: ...

    def text(self, span: Span) -> str: ...


def attach_key_events(functions: list[FunctionIR], nodes: list[ast.AST], imports: ImportTable,
                      constants: dict[str, float], source: Source) -> list[FunctionIR]:
    """`functions` with `key_events` set; `nodes[i]` is the `ast` node of `functions[i]` (the module for
    `<module>`)."""
    flow = _ModuleFlow(functions, nodes, imports, constants, source)
    for index in range(len(functions)):
        flow.result(index, needed=False)
    result = []
    for index, function in enumerate(functions):
        found = flow.results.get(index)
        result.append(replace(function, key_events=found.events) if found and found.events else function)
    return result


def warmup_receiver(event: KeyEvent) -> str | None:
    """For a reuse that is `mcmc.warmup(key)` then `mcmc.run(key)`: the receiver (`mcmc`), else None."""
    first, use = event.first, event.use
    if first is None or event.loop_span is not None or not first.consumer.endswith(".warmup"):
        return None
    receiver = first.consumer[:-len(".warmup")]
    return receiver if use.consumer == f"{receiver}.run" else None


# Abstract values.

@dataclass(frozen=True)
class _Key:
    """A PRNG key (or an array of keys). `strong`: known to be a key, not just a parameter that a
    sampler might consume."""

    ident: tuple
    is_array: bool = False
    strong: bool = True


@dataclass(frozen=True)
class _Object:
    kind: str  # "mcmc" | "svi" | "predictive" | "guide" | "kernel" | "distribution" | "tuple"
    items: tuple = ()
    #: The call that made it, as written, and its model: two `Predictive(model, samples)` calls make
    #: the same callable, a `Predictive` of another model another one.
    ident: tuple = ()
    #: The model it runs, when known: its text (`model`, `handlers.do(model, data=...)`) and where the
    #: names in it were bound (see `_FunctionFlow._model_identity`).
    model: tuple | None = None


@dataclass(frozen=True)
class _Runner:
    """What ran a model with a key: the callable (an inference object's method, or a helper of this
    file), the model it runs when known, and the other arguments of the call, as written. Two runs that
    differ in the model, or are one callable given other data, share a key on purpose (`_deliberate`)."""

    target: tuple
    model: tuple | None
    inputs: tuple[tuple[str | None, str], ...]


@dataclass
class _Consumed:
    use: KeyUse
    loops: tuple[tuple[int, int], ...]  # (loop id, pass) of the loops around the use
    runner: _Runner | None = None  # for inference entry points and helpers that pass the key to one


class _Path:
    """What one execution path knows: name -> value, consumed keys, and branch tests decided so far."""

    __slots__ = ("env", "consumed", "facts", "equals")

    def __init__(self, env=None, consumed=None, facts=None, equals=None) -> None:
        self.env: dict[str, object] = env if env is not None else {}
        self.consumed: dict[tuple, _Consumed] = consumed if consumed is not None else {}
        #: test text -> (truth, names in the test)
        self.facts: dict[str, tuple[bool, frozenset[str]]] = facts if facts is not None else {}
        #: left-hand text -> (literal it equals, names in it)
        self.equals: dict[str, tuple[object, frozenset[str]]] = equals if equals is not None else {}

    def copy(self) -> _Path:
        return _Path(dict(self.env), dict(self.consumed), dict(self.facts), dict(self.equals))

    def state(self) -> tuple:
        return (frozenset(self.env.items()), frozenset(self.consumed))

    def forget(self, name: str) -> None:
        """Tests that mention `name` no longer hold once it is rebound."""
        if self.facts:
            self.facts = {text: fact for text, fact in self.facts.items() if name not in fact[1]}
        if self.equals:
            self.equals = {text: fact for text, fact in self.equals.items() if name not in fact[1]}

    def fresh(self, ident: tuple) -> None:
        """A key made again (the next pass of a loop) is unconsumed."""
        if not self.consumed:
            return
        for consumed in [c for c in self.consumed if c == ident or (c[0] == "elem" and c[1] == ident)]:
            del self.consumed[consumed]


def _merge(paths: Iterable[_Path]) -> list[_Path]:
    """Paths with the same keys and consumptions become one (keeping only the tests both know)."""
    merged: dict[tuple, _Path] = {}
    for path in paths:
        state = path.state()
        kept = merged.get(state)
        if kept is None:
            if len(merged) < MAX_PATHS:
                merged[state] = path
            continue
        kept.facts = {k: v for k, v in kept.facts.items() if path.facts.get(k) == v}
        kept.equals = {k: v for k, v in kept.equals.items() if path.equals.get(k) == v}
    return list(merged.values())


@dataclass
class _Flow:
    normal: list[_Path]
    breaks: list[_Path] = field(default_factory=list)
    continues: list[_Path] = field(default_factory=list)


@dataclass
class _Result:
    events: tuple[KeyEvent, ...] = ()
    #: parameter name -> its first consumption in the function (for callers' summaries).
    consumed_params: dict[str, KeyUse] = field(default_factory=dict)
    #: Parameters whose first consumption runs a model (an inference entry point, maybe via a helper).
    inference_params: frozenset[str] = frozenset()


_EMPTY = _Result()


class _ModuleFlow:
    """Per-function results, computed on demand so that a helper is summarized before its callers."""

    def __init__(self, functions, nodes, imports, constants, source) -> None:
        self.functions: list[FunctionIR] = functions
        self.nodes = nodes
        self.imports: ImportTable = imports
        self.constants = constants
        self.source: Source = source
        self.results: dict[int, _Result] = {}
        self.lines: dict[int, tuple[list[int], bool]] = {}
        self.by_name, self.by_qualname = index_functions(functions)

    def result(self, index: int, needed: bool = True) -> _Result:
        """The key flow of `functions[index]`. `needed=False`: only when a finding is possible in it; a
        caller that needs its summary (which parameters it consumes) asks again with `needed=True`."""
        found = self.results.get(index)
        if found is not None:
            return found
        lines, worth = self.lines.get(index) or self.lines.setdefault(
            index, _key_lines(self.functions[index], self.by_name))
        if not lines or not (worth or needed):
            return _EMPTY
        self.results[index] = _EMPTY  # recursion: a function being analysed consumes nothing yet
        found = self.results[index] = _FunctionFlow(self, index, lines).run()
        return found

    def resolve(self, caller: int, func: ast.expr) -> int | None:
        """The function of this file that `func` (a Name, or `self.name`) calls, if one is unambiguous."""
        if isinstance(func, ast.Name) and not self.imports.is_imported(func.id):
            name = func.id
            caller_function = self.functions[caller]
            shadowed = caller_function.kind != "module" and name in caller_function.created_names and (
                f"{caller_function.qualname}.<locals>.{name}" not in self.by_qualname
            )
            if shadowed or any(parameter.name == name for parameter in caller_function.params):
                return None  # a parameter or a local of the same name, not the function of the file
        elif (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
              and func.value.id in ("self", "cls")):
            name = func.attr
        else:
            return None
        if name not in self.by_name:
            return None
        found = resolve_function_refs([name], self.functions[caller], self.functions, self.by_name, self.by_qualname)
        return found[0] if len(found) == 1 and self.functions[found[0]].kind != "lambda" else None


def _key_lines(function: FunctionIR, by_name: dict[str, list[int]]) -> tuple[list[int], bool]:
    """From what the builder recorded: the first lines of the calls the key flow must look at (empty when
    the function neither makes a key nor has a name like one, as in most models), and whether a finding
    is possible at all: the same key text given to two consumers, a consumer in a loop, or a literal seed.
    Functions where none is possible are analysed only when a caller needs to know what they consume."""
    if not (any(call.callee.startswith(("jax.random.", "numpyro.prng_key")) for call in function.calls) or (
        not function.sites  # a model handles keys only through `numpyro.prng_key()`
        and (any(_maybe_key_name(parameter.name) for parameter in function.params)
             or any(map(_maybe_key_name, function.created_names)))
    )):
        return [], False
    lines = []
    given: set[str] = set()
    possible = False
    for call in function.calls:
        keys = _given_keys(call, by_name)
        if keys is None:
            continue
        lines.append(call.span.line)
        if possible:
            continue
        if call.callee in ("jax.random.PRNGKey", "jax.random.key"):
            possible = bool(call.args) and call.args[0].expr.value is not None
        elif keys and call.context.loops:
            possible = True
        for text in keys:
            possible = possible or text in given
            given.add(text)
    lines.sort()
    return lines, possible


def _given_keys(call: Call, by_name: dict[str, list[int]]) -> list[str] | None:
    """The text of the arguments `call` may consume as keys; None when the key flow can ignore the call."""
    callee = call.callee
    if callee.startswith("jax.random."):
        return [] if callee[len("jax.random."):] in NON_CONSUMING else _texts(call, 0, "key")
    if callee.startswith("numpyro."):
        if callee == "numpyro.handlers.seed":
            return _texts(call, 1, "rng_seed")
        return [] if callee == "numpyro.prng_key" or _object_kind(callee) is not None else None
    if call.method in KEY_METHODS or callee == "":
        return _texts(call, 0, "key", "rng_key")
    if callee in by_name or (callee.startswith(("self.", "cls.")) and callee.count(".") == 1):
        return [a.expr.text for a in call.args if a.expr.name is not None and _LOOSE_KEY.fullmatch(a.expr.name)]
    given = [a.expr.text for a in call.args if a.expr.name is not None and is_key_name(a.expr.name)]
    return given or None  # `predictive(rng_key, x)`: a `Predictive` bound to a name, maybe


def _texts(call: Call, position: int, *keywords: str) -> list[str]:
    positional = [argument for argument in call.args if argument.keyword is None]
    found = [positional[position].expr.text] if position < len(positional) else []
    return found + [argument.expr.text for argument in call.args if argument.keyword in keywords]


class _FunctionFlow:
    def __init__(self, module: _ModuleFlow, index: int, key_lines: list[int]) -> None:
        self.key_lines = key_lines
        self.callees: dict[int, str] = {}  # id(func node) -> qualified callee: loop passes reuse it
        self.tests: dict[int, tuple | None] = {}
        self.uses: dict[tuple, KeyUse] = {}
        self.param_names = frozenset(parameter.name for parameter in module.functions[index].params)
        self.spans: dict[int, Span] = {}
        self.module = module
        self.index = index
        self.function = module.functions[index]
        self.node = module.nodes[index]
        self.imports = module.imports
        self.source = module.source
        self.loops: list[tuple[int, int]] = []
        self.consumes: dict[Span, KeyEvent] = {}
        self.reuses: dict[Span, KeyEvent] = {}
        self.loop_spans: dict[int, tuple[Span, str]] = {}
        self.loop_targets: dict[int, frozenset[str]] = {}
        self.bindings: dict[str, list[int]] | None = None  # name -> lines binding it, made on demand
        self.constant_seeds: dict[tuple, tuple[Span, bool]] = {}
        self.consumed_params: dict[str, KeyUse] = {}
        self.inference_params: set[str] = set()

    def run(self) -> _Result:
        entry = _Path()
        node = self.node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for parameter in self.function.params:
                name = parameter.name
                entry.env[name] = _Key(("param", name), _is_key_array_name(name), is_key_name(name))
        if isinstance(node, ast.Lambda):
            self.expr(entry, node.body)
        elif isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef)):
            self.block(node.body, [entry])
        events = sorted([*self.consumes.values(), *self.reuses.values()],
                        key=lambda event: (event.use.span, event.kind))
        return _Result(tuple(events), self.consumed_params, frozenset(self.inference_params))

    # Statements.

    def block(self, body: list[ast.stmt], paths: list[_Path]) -> _Flow:
        flow = _Flow(paths)
        for statement in body:
            if not flow.normal:
                break
            step = self.statement(statement, flow.normal)
            flow.normal = _merge(step.normal) if len(step.normal) > 1 else step.normal
            flow.breaks += step.breaks
            flow.continues += step.continues
        return flow

    def relevant(self, node: ast.AST) -> bool:
        """Whether `node` spans a call the key flow looks at (see `_key_lines`)."""
        lines = self.key_lines
        position = bisect_left(lines, node.lineno)  # type: ignore[attr-defined]
        return position < len(lines) and lines[position] <= node.end_lineno  # type: ignore[attr-defined]

    def statement(self, node: ast.stmt, paths: list[_Path]) -> _Flow:
        if isinstance(node, _SIMPLE) and not self.relevant(node):
            return self._plain(node, paths)
        handler = _STATEMENTS.get(type(node))
        if handler is not None:
            return handler(self, node, paths)
        for path in paths:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self.expr(path, child)
        return _Flow(paths)

    def _plain(self, node: ast.stmt, paths: list[_Path]) -> _Flow:
        """A statement with no call of interest: only its bindings matter (aliases such as `k2 = key`)."""
        if isinstance(node, (ast.Return, ast.Raise)):
            return _Flow([])
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            plain = isinstance(node.value, (ast.Name, ast.Subscript, ast.Tuple, ast.List))
            for path in paths:
                value = self.expr(path, node.value) if plain else None
                for target in targets:
                    self.assign(path, target, value, node.value)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            for path in paths:
                self.bind(path, node.target.id, None)
        return _Flow(paths)

    def _stmt_Return(self, node: ast.Return | ast.Raise, paths: list[_Path]) -> _Flow:
        for path in paths:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self.expr(path, child)
        return _Flow([])

    _stmt_Raise = _stmt_Return

    def _stmt_Break(self, node: ast.Break, paths: list[_Path]) -> _Flow:
        return _Flow([], breaks=list(paths))

    def _stmt_Continue(self, node: ast.Continue, paths: list[_Path]) -> _Flow:
        return _Flow([], continues=list(paths))

    def _stmt_FunctionDef(self, node, paths: list[_Path]) -> _Flow:
        for path in paths:
            self.bind(path, node.name, None)
        return _Flow(paths)

    _stmt_AsyncFunctionDef = _stmt_ClassDef = _stmt_FunctionDef

    def _stmt_Import(self, node: ast.Import | ast.ImportFrom, paths: list[_Path]) -> _Flow:
        for path in paths:
            for alias in node.names:
                self.bind(path, alias.asname or alias.name.split(".", 1)[0], None)
        return _Flow(paths)

    _stmt_ImportFrom = _stmt_Import

    def _stmt_Assign(self, node: ast.Assign | ast.AnnAssign, paths: list[_Path]) -> _Flow:
        if node.value is None:
            return _Flow(paths)
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for path in paths:
            value = self.expr(path, node.value)
            for target in targets:
                self.assign(path, target, value, node.value)
        return _Flow(paths)

    _stmt_AnnAssign = _stmt_Assign

    def _stmt_AugAssign(self, node: ast.AugAssign, paths: list[_Path]) -> _Flow:
        for path in paths:
            self.expr(path, node.value)
            self.assign(path, node.target, None, None)
        return _Flow(paths)

    def _stmt_If(self, node: ast.If, paths: list[_Path]) -> _Flow:
        taken: list[_Path] = []
        skipped: list[_Path] = []
        evaluate = self.relevant(node.test)
        for path in paths:
            if evaluate:
                self.expr(path, node.test)
            known = self.decided(path, node.test)
            if known is not False:
                branch = path.copy() if known is None else path
                self.learn(branch, node.test, True)
                taken.append(branch)
            if known is not True:
                self.learn(path, node.test, False)
                skipped.append(path)
        body = self.block(node.body, taken)
        orelse = self.block(node.orelse, skipped)
        return _Flow(body.normal + orelse.normal, body.breaks + orelse.breaks,
                     body.continues + orelse.continues)

    def _stmt_For(self, node: ast.For | ast.AsyncFor, paths: list[_Path]) -> _Flow:
        plain = not self.relevant(node.iter) and not isinstance(node.iter, ast.Name)
        for path in paths:
            iterable = None if plain else self.expr(path, node.iter)
            if isinstance(iterable, _Key) and iterable.is_array:
                path.env[f"<iter {id(node)}>"] = iterable

        def start(path: _Path) -> None:
            element = path.env.get(f"<iter {id(node)}>")
            self.assign(path, node.target, None, None)
            if element is not None and isinstance(node.target, ast.Name):  # `for key in keys`: a new one each time
                key = _Key(("iter", id(node), node.target.id))
                path.fresh(key.ident)
                path.env[node.target.id] = key

        return self.loop(node, paths, start, infinite=False)

    _stmt_AsyncFor = _stmt_For

    def _stmt_While(self, node: ast.While, paths: list[_Path]) -> _Flow:
        infinite = isinstance(node.test, ast.Constant) and bool(node.test.value)

        evaluate = self.relevant(node.test)

        def start(path: _Path) -> None:
            if evaluate:
                self.expr(path, node.test)

        return self.loop(node, paths, start, infinite=infinite)

    def loop(self, node: ast.For | ast.AsyncFor | ast.While, paths: list[_Path],
             start: Callable[[_Path], None], infinite: bool) -> _Flow:
        start_span = self.span(node)
        header_end = self.span(node.test if isinstance(node, ast.While) else node.iter)
        if not isinstance(node, ast.While):
            self.loop_targets[id(node)] = frozenset(
                n.id for n in ast.walk(node.target) if isinstance(n, ast.Name))
        self.loop_spans[id(node)] = (
            Span(start_span.line, start_span.col, header_end.end_line, header_end.end_col),
            "while" if isinstance(node, ast.While) else "for",
        )
        finished: list[_Path] = [] if infinite else list(paths)
        broken: list[_Path] = []
        seen = {path.state() for path in paths}
        current = paths
        for number in range(3):
            entry = [path.copy() for path in current]
            self.loops.append((id(node), number))
            for path in entry:
                start(path)
            flow = self.block(node.body, entry)
            self.loops.pop()
            broken += flow.breaks
            new = [path for path in _merge(flow.normal + flow.continues) if path.state() not in seen]
            if not new:
                break
            seen.update(path.state() for path in new)
            if not infinite:
                finished += new
            current = new
        for path in finished:
            path.env.pop(f"<iter {id(node)}>", None)
        orelse = self.block(node.orelse, _merge(finished))
        return _Flow(orelse.normal + broken, orelse.breaks, orelse.continues)

    def _stmt_With(self, node: ast.With | ast.AsyncWith, paths: list[_Path]) -> _Flow:
        for path in paths:
            for item in node.items:
                if self.relevant(item.context_expr):
                    self.expr(path, item.context_expr)
                if item.optional_vars is not None:
                    self.assign(path, item.optional_vars, None, None)
        return self.block(node.body, paths)

    _stmt_AsyncWith = _stmt_With

    def _stmt_Try(self, node: ast.Try, paths: list[_Path]) -> _Flow:
        # A handler is an alternative to the body, as in the builder: it usually redoes what failed.
        handler_entries = [[path.copy() for path in paths] for _ in node.handlers]
        body = self.block(node.body, paths)
        orelse = self.block(node.orelse, body.normal)
        flows = [body, orelse]
        for handler, entry in zip(node.handlers, handler_entries):
            if handler.name:
                for path in entry:
                    self.bind(path, handler.name, None)
            flows.append(self.block(handler.body, entry))
        normal = orelse.normal + [path for flow in flows[2:] for path in flow.normal]
        final = self.block(node.finalbody, _merge(normal))
        return _Flow(final.normal, final.breaks + [p for f in flows for p in f.breaks],
                     final.continues + [p for f in flows for p in f.continues])

    _stmt_TryStar = _stmt_Try

    def _stmt_Match(self, node: ast.Match, paths: list[_Path]) -> _Flow:
        for path in paths:
            self.expr(path, node.subject)
        normal: list[_Path] = []
        flow = _Flow(normal)
        exhaustive = False
        for case in node.cases:
            entry = [path.copy() for path in paths]
            for path in entry:
                for name in _pattern_names(case.pattern):
                    self.bind(path, name, None)
                if case.guard is not None:
                    self.expr(path, case.guard)
            arm = self.block(case.body, entry)
            normal += arm.normal
            flow.breaks += arm.breaks
            flow.continues += arm.continues
            exhaustive = exhaustive or (case.guard is None and isinstance(case.pattern, ast.MatchAs)
                                        and case.pattern.pattern is None)
        if not exhaustive:
            normal += paths
        return flow

    # Tests that repeat on one path.

    def decided(self, path: _Path, test: ast.expr) -> bool | None:
        if not path.facts and not path.equals:
            return None
        described = self.describe_test(test)
        if described is None:
            return None
        text, names, negated, comparison = described
        known = path.facts.get(text)
        if known is not None:
            return known[0] != negated
        if comparison is not None:
            left, literal, equal = comparison
            fact = path.equals.get(left)
            if fact is not None:
                return ((fact[0] == literal) == equal) != negated
        return None

    def learn(self, path: _Path, test: ast.expr, truth: bool) -> None:
        described = self.describe_test(test)
        if described is None:
            return
        text, names, negated, comparison = described
        truth = truth != negated
        path.facts[text] = (truth, names)
        if comparison is not None and comparison[2] == truth:
            path.equals[comparison[0]] = (comparison[1], names)

    def describe_test(self, test: ast.expr) -> tuple | None:
        """(text, names, negated, (left text, literal, is ==) or None) of a test without calls, else None:
        a call may answer differently the next time. Cached: loops ask again."""
        key = id(test)
        if key in self.tests:
            return self.tests[key]
        inner, negated = _strip_not(test)
        nodes = list(ast.walk(inner))
        described = None
        if not any(isinstance(n, (ast.Call, ast.NamedExpr, ast.Await)) for n in nodes):
            names = frozenset(n.id for n in nodes if isinstance(n, ast.Name))
            comparison = _literal_comparison(inner)
            if comparison is not None:
                comparison = (self.text(comparison[0]), comparison[1], comparison[2])
            described = (self.text(inner), names, negated, comparison)
        self.tests[key] = described
        return described

    # Binding.

    def bind(self, path: _Path, name: str, value: object) -> None:
        if value is None:
            path.env.pop(name, None)
        else:
            path.env[name] = value
        path.forget(name)

    def assign(self, path: _Path, target: ast.expr, value: object, value_node: ast.expr | None) -> None:
        if isinstance(target, ast.Name):
            if value is None and value_node is not None and is_key_name(target.id) and isinstance(
                value_node, (ast.Call, ast.Subscript)
            ):
                # `key = helper(key)`: a key by name, made here.
                value = _Key(("bound", id(value_node), target.id), _is_key_array_name(target.id))
                path.fresh(value.ident)
            elif isinstance(value, _Key) and value.ident in self.constant_seeds and target.id in self.param_names:
                del self.constant_seeds[value.ident]  # `if key is None: key = PRNGKey(0)`: a default, by choice
            self.bind(path, target.id, value)
        elif isinstance(target, (ast.Tuple, ast.List)):
            self._unpack(path, target.elts, value)
        elif isinstance(target, ast.Starred):
            self.assign(path, target.value, value, None)
        else:
            for child in ast.iter_child_nodes(target):
                if isinstance(child, ast.expr):
                    self.expr(path, child)

    def _unpack(self, path: _Path, targets: list[ast.expr], value: object) -> None:
        star = next((i for i, t in enumerate(targets) if isinstance(t, ast.Starred)), None)
        for position, target in enumerate(targets):
            item: object = None
            if isinstance(value, _Object) and value.kind == "tuple" and star is None:
                if len(value.items) == len(targets):
                    item = value.items[position]
            elif isinstance(value, _Key) and value.is_array:
                if position == star:
                    item = _Key(("rest", value.ident, position), True)
                    path.fresh(item.ident)
                else:
                    index = position if star is None or position < star else position - len(targets)
                    item = _Key(("elem", value.ident, index))
            self.assign(path, target, item, None)

    # Expressions: each returns the abstract value (or None) and records consumptions.

    def expr(self, path: _Path, node: ast.expr) -> object:
        handler = _EXPRESSIONS.get(type(node))
        if handler is not None:
            return handler(self, path, node)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.expr(path, child)
            elif isinstance(child, ast.keyword):
                self.expr(path, child.value)
        return None

    def _expr_Constant(self, path: _Path, node: ast.Constant) -> object:
        return None

    _expr_JoinedStr = _expr_Constant

    def _expr_Attribute(self, path: _Path, node: ast.Attribute) -> object:
        self.expr(path, node.value)
        return None

    def _expr_BinOp(self, path: _Path, node: ast.BinOp) -> object:
        self.expr(path, node.left)
        self.expr(path, node.right)
        return None

    def _expr_Lambda(self, path: _Path, node: ast.Lambda) -> object:
        return None  # its body is its own function

    def _expr_Name(self, path: _Path, node: ast.Name) -> object:
        return path.env.get(node.id)

    def _expr_NamedExpr(self, path: _Path, node: ast.NamedExpr) -> object:
        value = self.expr(path, node.value)
        self.assign(path, node.target, value, node.value)
        return value

    def _expr_Subscript(self, path: _Path, node: ast.Subscript) -> object:
        base = self.expr(path, node.value)
        self.expr(path, node.slice)
        index = _int_literal(node.slice)
        if isinstance(base, _Key) and base.is_array and index is not None:
            return _Key(("elem", base.ident, index), strong=base.strong)
        if isinstance(base, _Object) and base.kind == "tuple" and index is not None:
            if -len(base.items) <= index < len(base.items):
                return base.items[index]
        return None  # keys[i] and slices: a different key each time, never tracked

    def _expr_Tuple(self, path: _Path, node: ast.Tuple | ast.List) -> object:
        items = tuple(self.expr(path, element) for element in node.elts)
        if any(isinstance(element, ast.Starred) for element in node.elts) or not any(items):
            return None
        return _Object("tuple", items)

    _expr_List = _expr_Tuple

    def _expr_IfExp(self, path: _Path, node: ast.IfExp) -> object:
        self.expr(path, node.test)
        other = path.copy()
        body = self.expr(other, node.body)
        orelse = self.expr(path, node.orelse)
        self._join_into(path, other)
        return body if body == orelse else None

    def _expr_BoolOp(self, path: _Path, node: ast.BoolOp) -> object:
        self.expr(path, node.values[0])
        for value in node.values[1:]:  # may not run
            other = path.copy()
            self.expr(other, value)
            self._join_into(path, other)
        return None

    def _join_into(self, path: _Path, other: _Path) -> None:
        """`path` becomes what either may hold: consumptions of both, names both agree on."""
        for ident, consumed in other.consumed.items():
            path.consumed.setdefault(ident, consumed)
        for name in [n for n, v in path.env.items() if other.env.get(n) != v]:
            del path.env[name]

    def _expr_ListComp(self, path: _Path, node) -> object:
        span = self.span(node)
        self.loop_spans[id(node)] = (span, "comprehension")
        self.expr(path, node.generators[0].iter)
        for number in range(2):  # the element runs many times: twice shows a reuse
            self.loops.append((id(node), number))
            for position, generator in enumerate(node.generators):
                if position:
                    self.expr(path, generator.iter)
                self.assign(path, generator.target, None, None)
                for condition in generator.ifs:
                    self.expr(path, condition)
            if isinstance(node, ast.DictComp):
                self.expr(path, node.key)
                self.expr(path, node.value)
            else:
                self.expr(path, node.elt)
            self.loops.pop()
        return None

    _expr_SetComp = _expr_GeneratorExp = _expr_DictComp = _expr_ListComp

    def _expr_Call(self, path: _Path, node: ast.Call) -> object:
        if not self.relevant(node):
            return None  # no call of interest in it: its value is no key, and it consumes none
        func = node.func
        callee = self.callees.get(id(func))
        if callee is None:
            callee = self.callees[id(func)] = self.imports.qualify(func) or ""
        made = _object_kind(callee)
        if made is not None:  # `MCMC(NUTS(model), ...)`: its arguments hold no key
            model = self._model_of(path, node, made)
            return _Object(made, ident=(self.text(node), model), model=model)
        receiver = self.expr(path, func.value) if isinstance(func, ast.Attribute) else None
        called = self.expr(path, func) if not isinstance(func, (ast.Name, ast.Attribute)) else None
        if isinstance(func, ast.Name):
            called = path.env.get(func.id)
        values = [self.expr(path, a.value if isinstance(a, ast.Starred) else a) for a in node.args]
        keywords = {k.arg: self.expr(path, k.value) for k in node.keywords if k.arg}
        call = _CallSite(node, values, keywords)

        if callee.startswith("jax.random."):
            return self._jax_random(path, call, callee.rsplit(".", 1)[-1])
        if callee == "numpyro.prng_key":
            return self._new_key(path, node)
        if callee == "numpyro.handlers.seed":
            if not any(k.arg in _PARTIAL_SEED for k in node.keywords):  # `hide_types=...`: shared on purpose
                self.consume(path, call, 1, "rng_seed", callee, "seed", auto=True)
            return None
        if isinstance(called, _Object) and called.kind == "predictive":
            self.consume(path, call, 0, "rng_key", self._callee_text(func), "inference", auto=True,
                         runs=(("object", called.ident, "__call__"), called.model))
            return None
        if isinstance(func, ast.Attribute) and func.attr in KEY_METHODS and not (
            isinstance(func.value, ast.Name) and self.imports.is_imported(func.value.id)  # a module's function
        ):
            known = isinstance(receiver, _Object) and func.attr in OBJECT_METHODS.get(receiver.kind, ())
            keyword = "key" if func.attr.startswith("sample") and not func.attr.endswith("posterior") else "rng_key"
            kind = KEY_METHODS[func.attr]
            runs = None
            if kind == "inference":
                target = ("object", receiver.ident, func.attr) if isinstance(receiver, _Object) else (
                    "text", self._callee_text(func))
                runs = (target, receiver.model if isinstance(receiver, _Object) else None)
            self.consume(path, call, 0, keyword, self._callee_text(func), kind,
                         auto=known, strong_only=not known, runs=runs)
            return None
        target = self.module.resolve(self.index, func)
        if target is not None:
            self._helper(path, call, target, skip_self=isinstance(func, ast.Attribute))
        return None

    def _model_of(self, path: _Path, node: ast.Call, made: str) -> tuple | None:
        """The model an inference object is built on, as written; for `MCMC` and nested kernels, the one
        its kernel is built on (`MCMC(kernel)` after `kernel = NUTS(model)`)."""
        keyword = _MODEL_ARGUMENT.get(made)
        if keyword is None:
            return None
        found = next((k.value for k in node.keywords if k.arg == keyword), None)
        if found is None and node.args and not isinstance(node.args[0], ast.Starred):
            found = node.args[0]
        if found is None:
            return None
        if isinstance(found, ast.Name):
            value = path.env.get(found.id)
        elif isinstance(found, ast.Call) and _object_kind(self.imports.qualify(found.func) or "") == "kernel":
            value = self.expr(path, found)  # a model built by another call consumes no key here
        else:
            value = None
        if isinstance(value, _Object) and value.kind == "kernel":
            return value.model
        return None if made == "mcmc" else self._model_identity(found)

    def _model_identity(self, node: ast.expr) -> tuple:
        """A model expression's text and, for each name in it, where that name was last bound before it:
        a notebook that redefines `def model` or rebinds `model = ...` runs another model under the same
        text. A name bound by the loop being run again is another model on each pass."""
        bindings = self.bindings
        if bindings is None:
            bindings = self.bindings = _binding_lines(self.node)
        line = node.lineno  # type: ignore[attr-defined]
        names = sorted({n.id for n in ast.walk(node) if isinstance(n, ast.Name)})
        found = []
        for name in names:
            lines = bindings.get(name, [])
            last = lines[bisect_left(lines, line) - 1] if lines and lines[0] < line else None
            passes = tuple(p for loop, p in self.loops if name in self.loop_targets.get(loop, ()))
            found.append((name, last, passes))
        return self.text(node), tuple(found)

    def _jax_random(self, path: _Path, call: _CallSite, name: str) -> object:
        node = call.node
        if name == "split":
            self.consume(path, call, 0, "key", f"jax.random.{name}", "split", auto=True, splits=True)
            key = _Key(("alloc", id(node)), is_array=True)
            path.fresh(key.ident)
            return key
        if name in KEY_SOURCES:
            key = self._new_key(path, node)
            if name in ("PRNGKey", "key") and node.args and _int_literal(node.args[0], self.module.constants) is not None:
                self.constant_seeds[key.ident] = (self.span(node), bool(self.loops))
            return key
        if name not in NON_CONSUMING:
            self.consume(path, call, 0, "key", f"jax.random.{name}", "sampler", auto=True)
        return None

    def _new_key(self, path: _Path, node: ast.AST) -> _Key:
        key = _Key(("alloc", id(node)))
        path.fresh(key.ident)
        return key

    def _helper(self, path: _Path, call: _CallSite, target: int, skip_self: bool) -> None:
        summary = self.module.result(target)
        if not summary.consumed_params:
            return
        params = [p.name for p in self.module.functions[target].params]
        if skip_self and params and params[0] in ("self", "cls"):
            params = params[1:]
        name = self.module.functions[target].name
        for position, param in enumerate(params):
            inner = summary.consumed_params.get(param)
            if inner is None:
                continue
            via = inner.via or inner.consumer
            runs = (("helper", target), None) if param in summary.inference_params else None
            self.consume(path, call, position, param, name, "helper", auto=True, splits=inner.splits, via=via,
                         runs=runs)

    def _callee_text(self, func: ast.expr) -> str:
        """`mcmc.run`, `MCMC(...).run`, `Predictive(...)`: the callee, arguments elided."""
        if isinstance(func, ast.Call):
            return self._callee_text(func.func) + "(...)"
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call):
            return f"{self._callee_text(func.value)}.{func.attr}"
        return self.text(func)

    # Consumption.

    def consume(self, path: _Path, call: _CallSite, position: int, keyword: str, consumer: str, kind: str,
                auto: bool, strong_only: bool = False, splits: bool = False, via: str | None = None,
                runs: tuple | None = None) -> None:
        """Record that `call` consumes the key at `position` (or `keyword=`). `runs`: (target, model) when
        the call runs a model with the key (see `_Runner`)."""
        found = call.argument(position, keyword)
        if found is None:
            return
        node, value = found
        if value is None and auto and isinstance(node, ast.Name):
            value = _Key(("free", node.id, id(call.node)))
            path.fresh(value.ident)
            path.env[node.id] = value
        if not isinstance(value, _Key) or (strong_only and not value.strong):
            return
        origin = self.constant_seeds.get(value.ident)
        memo = (id(node), consumer, origin)
        use = self.uses.get(memo)  # the same use on another path or pass
        if use is None:
            use = self.uses[memo] = KeyUse(
                key_text=self.text(node), consumer=consumer, consumer_kind=kind, span=self.span(node),
                call_span=self.span(call.node), via=via, splits=splits,
                constant_seed=origin[0] if origin else None, seed_in_loop=bool(origin and origin[1]),
            )
            self.consumes.setdefault(use.span, KeyEvent("consume", use))
        runner = None if runs is None else _Runner(runs[0], runs[1], self._inputs(call.node, node))
        if value.ident[0] == "param" and value.ident[1] not in self.consumed_params:
            self.consumed_params[value.ident[1]] = use
            if runner is not None:
                self.inference_params.add(value.ident[1])
        earlier = self._earlier(path, value)
        if earlier is not None and use.span not in self.reuses and not _deliberate(earlier.runner, runner):
            self.reuses[use.span] = self._reuse_event(use, earlier)
        # The latest use is the one a later reuse repeats (and the one its message names).
        path.consumed[value.ident] = _Consumed(use, tuple(self.loops), runner)

    def _inputs(self, call: ast.Call, key: ast.expr) -> tuple[tuple[str | None, str], ...]:
        """The arguments of `call` other than the key, as written."""
        positional = tuple((None, self.text(a)) for a in call.args if a is not key)
        return positional + tuple((k.arg, self.text(k.value)) for k in call.keywords if k.value is not key)

    def _earlier(self, path: _Path, value: _Key) -> _Consumed | None:
        consumed = path.consumed
        if not consumed:
            return None
        found = consumed.get(value.ident)
        if found is None and value.ident[0] == "elem":
            found = consumed.get(value.ident[1])
        if found is None and value.is_array:
            found = next((c for ident, c in consumed.items() if ident[0] == "elem" and ident[1] == value.ident), None)
        return found

    def _reuse_event(self, use: KeyUse, earlier: _Consumed) -> KeyEvent:
        for (loop, number), (earlier_loop, earlier_number) in zip(self.loops, earlier.loops):
            if loop != earlier_loop:
                break
            if number != earlier_number:
                span, kind = self.loop_spans[loop]
                return KeyEvent("reuse", use, earlier.use, span, kind)
        return KeyEvent("reuse", use, earlier.use)

    def span(self, node: ast.AST) -> Span:
        found = self.spans.get(id(node))
        if found is None:
            found = self.spans[id(node)] = self.source.span(node)
        return found

    def text(self, node: ast.AST) -> str:
        return self.source.text(self.span(node))


@dataclass
class _CallSite:
    node: ast.Call
    values: list[object]
    keywords: dict[str, object]

    def argument(self, position: int, keyword: str) -> tuple[ast.expr, object] | None:
        """The argument node and value at `position` (no starred argument before it) or `keyword=`."""
        for kw in self.node.keywords:
            if kw.arg == keyword:
                return kw.value, self.keywords.get(keyword)
        args = self.node.args
        if position < len(args) and not any(isinstance(a, ast.Starred) for a in args[:position + 1]):
            return args[position], self.values[position]
        return None


def _deliberate(earlier: _Runner | None, later: _Runner | None) -> bool:
    """Whether two runs share a key on purpose: one callable run on other data (train, then test), or
    two models compared under the same randomness (a model and its reparameterization, two
    `handlers.do` interventions). Two methods of one object (`warmup` then `run`, `init` then `run`)
    run one model: never on purpose."""
    if earlier is None or later is None:
        return False
    if earlier.model is not None and later.model is not None and earlier.model != later.model:
        return True
    return earlier.target == later.target and earlier.inputs != later.inputs


def _object_kind(callee: str) -> str | None:
    if not callee.startswith("numpyro."):
        return None
    last = callee.rsplit(".", 1)[-1]
    if callee.startswith("numpyro.infer."):
        if last == "MCMC":
            return "mcmc"
        if last == "SVI":
            return "svi"
        if last == "Predictive":
            return "predictive"
        if last.startswith("Auto"):
            return "guide"
        if last in KERNELS:
            return "kernel"
    if callee.startswith("numpyro.distributions.") and last[:1].isupper():
        return "distribution"
    return None


def _binding_lines(root: ast.AST) -> dict[str, list[int]]:
    """Name -> the sorted lines where the statements of `root` bind it (assignments, loop and `with`
    targets, `def`, `class`, imports, `except ... as`); nested functions' own bindings are theirs."""
    found: dict[str, list[int]] = {}

    def bind(target: ast.AST | None) -> None:
        for node in ast.walk(target) if target is not None else ():
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                found.setdefault(node.id, []).append(node.lineno)

    body = getattr(root, "body", None)
    stack: list[ast.stmt] = list(body) if isinstance(body, list) else []
    while stack:
        statement = stack.pop()
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.setdefault(statement.name, []).append(statement.lineno)
            continue
        if isinstance(statement, ast.Assign):
            for target in statement.targets:
                bind(target)
        elif isinstance(statement, (ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor)):
            bind(statement.target)
        elif isinstance(statement, (ast.With, ast.AsyncWith)):
            for item in statement.items:
                bind(item.optional_vars)
        elif isinstance(statement, (ast.Import, ast.ImportFrom)):
            for alias in statement.names:
                found.setdefault(alias.asname or alias.name.split(".", 1)[0], []).append(statement.lineno)
        for name in ("body", "orelse", "finalbody"):
            stack.extend(getattr(statement, name, ()))
        for handler in getattr(statement, "handlers", ()):
            if handler.name:
                found.setdefault(handler.name, []).append(handler.lineno)
            stack.extend(handler.body)
        for case in getattr(statement, "cases", ()):
            stack.extend(case.body)
    for lines in found.values():
        lines.sort()
    return found


def _strip_not(test: ast.expr) -> tuple[ast.expr, bool]:
    negated = False
    while isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        test, negated = test.operand, not negated
    return test, negated


def _literal_comparison(test: ast.expr) -> tuple[ast.expr, object, bool] | None:
    """`x == "a"` -> (x, "a", True); `x != 1` -> (x, 1, False); `x is None` -> (x, None, True)."""
    if (isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], (ast.Eq, ast.NotEq, ast.Is, ast.IsNot))
            and isinstance(test.comparators[0], ast.Constant)):
        return test.left, test.comparators[0].value, isinstance(test.ops[0], (ast.Eq, ast.Is))
    return None


def _int_literal(node: ast.expr, constants: dict[str, float] | None = None) -> int | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _int_literal(node.operand)
        return -inner if inner is not None else None
    if constants and isinstance(node, ast.Name) and node.id in constants:
        value = constants[node.id]
        return int(value) if value == int(value) else None
    return None


def _pattern_names(pattern: ast.AST) -> list[str]:
    return [n.name for n in ast.walk(pattern) if isinstance(n, (ast.MatchAs, ast.MatchStar)) and n.name] + [
        n.rest for n in ast.walk(pattern) if isinstance(n, ast.MatchMapping) and n.rest
    ]


_STATEMENTS = {
    getattr(ast, name[len("_stmt_"):]): method
    for name, method in vars(_FunctionFlow).items() if name.startswith("_stmt_") and hasattr(ast, name[len("_stmt_"):])
}
_EXPRESSIONS = {
    getattr(ast, name[len("_expr_"):]): method
    for name, method in vars(_FunctionFlow).items() if name.startswith("_expr_") and hasattr(ast, name[len("_expr_"):])
}
