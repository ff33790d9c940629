"""The model IR: plain frozen values that rules query. Built once per file version by `ir.builder`.

Sites are identified inside their function by index (`FunctionIR.sites[i]`); `Deps.sites` holds those
indices. Spans use 1-based lines and code-point columns (see `numpyro_lint.diagnostic.Span`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from numpyro_lint.diagnostic import Span
from numpyro_lint.source import SourceText


@dataclass(frozen=True)
class Deps:
    """What a value depends on inside its function: site indices and parameter names."""

    sites: frozenset[int] = frozenset()
    args: frozenset[str] = frozenset()

    def __or__(self, other: Deps) -> Deps:
        if not other.sites and not other.args:
            return self
        if not self.sites and not self.args:
            return other
        return Deps(self.sites | other.sites, self.args | other.args)

    def __bool__(self) -> bool:
        return bool(self.sites or self.args)


NO_DEPS = Deps()


@dataclass(frozen=True)
class Plate:
    name: str | None
    size_text: str | None
    span: Span
    subsample_size_text: str | None = None
    #: The `dim=` argument as written (`-2`), when given.
    dim_text: str | None = None


@dataclass(frozen=True)
class Loop:
    """A Python `for`/`while` (or comprehension) enclosing a statement."""

    kind: str  # "for" | "while" | "comprehension"
    span: Span
    target_names: frozenset[str] = frozenset()
    #: For `for name in ["a", "b"]`: the literal string items; None when the iterable is not literal.
    literal_items: tuple[str, ...] | None = None
    #: How many times it runs when that is written out (`range(3)`, `range(1, 4)`, a literal list).
    trip_count: int | None = None


@dataclass(frozen=True)
class ReparamConfig:
    """A reparameterization in force: the site names it covers, or None for every site."""

    covered: frozenset[str] | None
    span: Span

    def covers(self, site_name: str | None) -> bool:
        return self.covered is None or (site_name is not None and site_name in self.covered)


@dataclass(frozen=True)
class Expr:
    """An expression as rules see it: its text, numeric literal value if any, data flow, and span."""

    text: str
    span: Span
    deps: Deps = NO_DEPS
    #: The value of a numeric literal (also `-1e3`, `1_000`, module constants assigned once).
    value: float | None = None
    #: "none" (the literal None), "scalar" (a number), "array" (visibly an array), or "unknown".
    shape: str = "unknown"
    #: The Name it refers to, when the expression is a bare name.
    name: str | None = None
    #: The index of the site whose value this is, up to indexing and shifts/scales by numeric
    #: literals (`x`, `x[g]`, `2 * x`, `-x`); None once any other function is applied (`jnp.exp(x)`).
    site_value: int | None = None


@dataclass(frozen=True)
class Argument:
    """An argument of a call: positional (keyword None) or keyword."""

    keyword: str | None
    expr: Expr
    #: The function this argument refers to: a name (`model`, `self.model` -> "model"), a lambda's
    #: qualname, or the first argument of `functools.partial(f, ...)`.
    function_ref: str | None = None


@dataclass(frozen=True)
class ChainCall:
    """A method applied to a distribution: `.expand([K])`, `.to_event(1)`, `.mask(m)`."""

    method: str
    args: tuple[Argument, ...]
    span: Span


@dataclass(frozen=True)
class Distribution:
    #: The class name inside numpyro.distributions ("Normal"), or None when not recognised.
    name: str | None
    callee_text: str
    #: Arguments by parameter name; positional ones are named from the known signature, else "#i".
    params: tuple[tuple[str, Expr], ...]
    chain: tuple[ChainCall, ...]
    span: Span

    def param(self, name: str) -> Expr | None:
        for param_name, expr in self.params:
            if param_name == name:
                return expr
        return None

    def has_chain(self, method: str) -> bool:
        return any(call.method == method for call in self.chain)


@dataclass(frozen=True)
class Context:
    """Where a statement sits inside its function."""

    plates: tuple[Plate, ...] = ()
    loops: tuple[Loop, ...] = ()
    #: (branch id, arm) pairs: two points are on exclusive paths when they share an id with other arms.
    path: tuple[tuple[int, int], ...] = ()
    reparams: tuple[ReparamConfig, ...] = ()
    #: Other NumPyro effect handlers entered with `with` (callee, span): scope, mask, condition...
    handlers: tuple[tuple[str, Span], ...] = ()

    def exclusive_with(self, other: Context) -> bool:
        arms = dict(self.path)
        return any(branch in arms and arms[branch] != arm for branch, arm in other.path)


@dataclass(frozen=True)
class Site:
    kind: str  # "sample" | "deterministic" | "factor" | "param"
    name: str | None  # the literal name, when it is one
    name_expr: Expr
    distribution: Distribution | None
    obs: Expr | None  # None when absent; an Expr with shape "none" for obs=None
    context: Context
    span: Span
    #: The variable the site's value is bound to (`x = numpyro.sample(...)`), if any.
    bound_to: str | None = None
    #: Names referenced by the name expression (to tell per-iteration names in loops).
    name_refs: frozenset[str] = frozenset()
    value: Expr | None = None  # deterministic/factor value; param init value
    #: `infer={"enumerate": ...}` on the site.
    enumerated: bool = False

    @property
    def is_latent(self) -> bool:
        return self.kind == "sample" and (self.obs is None or self.obs.shape == "none")

    @property
    def is_observed(self) -> bool:
        return self.kind == "sample" and not self.is_latent

    @property
    def plates(self) -> tuple[Plate, ...]:
        return self.context.plates


@dataclass(frozen=True)
class Call:
    """Any call in a function other than a NumPyro site."""

    #: Resolved through imports ("jax.random.normal", "print"), else the dotted source text
    #: ("self.fit", "samples.append"); "" for calls on non-name expressions.
    callee: str
    span: Span
    args: tuple[Argument, ...]
    context: Context
    #: For `x.append(...)`: receiver "x" and method "append".
    receiver: str | None = None
    method: str | None = None
    #: Span of the callee expression (for pointing at `print` rather than the whole call).
    callee_span: Span | None = None
    #: The variable this call's result is bound to (`key = random.PRNGKey(0)`), if a single name.
    bound_to: str | None = None
    #: What the receiver of a method call depends on (`x` in `x.item()`).
    receiver_deps: Deps = NO_DEPS
    #: For `reparam(fn, config=...)` and `reparam(config=...)(fn)`: the config applied to `fn` (the
    #: function_ref of the first positional argument, or of `fn=`).
    reparam: ReparamConfig | None = None

    def arg(self, position: int, keyword: str | None = None) -> Expr | None:
        positional = [a.expr for a in self.args if a.keyword is None]
        if keyword is not None:
            for argument in self.args:
                if argument.keyword == keyword:
                    return argument.expr
        return positional[position] if 0 <= position < len(positional) else None


@dataclass(frozen=True)
class Branch:
    """A Python-level decision: `if`/`while`/`assert` tests, conditional expressions, `and`/`or`."""

    kind: str  # "if" | "while" | "assert" | "ifexp" | "boolop" | "comprehension-if"
    test: Expr
    context: Context


@dataclass(frozen=True)
class Mutation:
    kind: str  # "item-assign" | "item-aug-assign" | "aug-assign" | "attr-assign" | "global" | "nonlocal" | "del"
    target: str  # the root name mutated
    span: Span
    context: Context
    #: True when `target` was bound inside this function (not a parameter, global or closure).
    created_locally: bool
    #: "array" when the target is visibly a JAX array, "container" for list/dict/set, else "unknown".
    target_kind: str = "unknown"
    #: For item assignment: the index text, the value text and the augmented operator ("+" ...).
    index_text: str | None = None
    value_text: str | None = None
    operator: str | None = None
    #: The whole statement the mutation happens in (for fixes that rewrite it).
    statement_span: Span | None = None


@dataclass(frozen=True)
class KeyUse:
    """One consumption of a PRNG key: a sampler, `split`, an inference entry point or a helper that
    consumes its key parameter."""

    key_text: str  # the key as written at the use: "key", "keys[0]"
    consumer: str  # what consumed it, for messages: "jax.random.normal", "mcmc.run", "draw"
    #: "sampler" (jax.random draws, `Distribution.sample`), "split", "inference" (MCMC/SVI/Predictive/
    #: sample_posterior), "seed" (`handlers.seed`), or "helper" (a function of this file).
    consumer_kind: str
    span: Span  # the key argument
    call_span: Span
    #: For a helper: what it passes the key to ("jax.random.normal").
    via: str | None = None
    #: The consumption splits the key (directly or, for a helper, as the helper's first use of it).
    splits: bool = False
    #: When the key is `PRNGKey(<literal>)`/`random.key(<literal>)` made in this function and consumed
    #: as it is (no split between): the span of that call, and whether it sits in a loop or comprehension.
    constant_seed: Span | None = None
    seed_in_loop: bool = False


@dataclass(frozen=True)
class KeyEvent:
    """`consume`: a key consumed; `reuse`: a key consumed again on a path where `first` consumed it
    and nothing rebound it in between."""

    kind: str  # "consume" | "reuse"
    use: KeyUse
    first: KeyUse | None = None
    #: For a reuse that comes from running a loop body again: the loop (`for`/`while`/comprehension).
    loop_span: Span | None = None
    loop_kind: str | None = None


@dataclass(frozen=True)
class Parameter:
    name: str
    has_default: bool
    default_text: str | None
    span: Span


@dataclass(frozen=True)
class FunctionIR:
    name: str  # "model"; "<module>" for module level; "<lambda>" for lambdas
    qualname: str  # "Model.model", "factory.<locals>.model", "<lambda@12:4>"
    kind: str  # "module" | "function" | "method" | "lambda"
    span: Span
    name_span: Span
    params: tuple[Parameter, ...]
    sites: tuple[Site, ...]
    plates: tuple[Plate, ...]
    calls: tuple[Call, ...]
    branches: tuple[Branch, ...]
    mutations: tuple[Mutation, ...]
    loops: tuple[Loop, ...]
    decorators: tuple[str, ...]
    reparam: ReparamConfig | None
    parent: str | None
    #: "calls numpyro.sample", "passed to NUTS", or None for non-models.
    model_reason: str | None = None
    #: Qualified names of the calls this function is passed to (`jax.lax.scan`, `numpyro.infer.NUTS`).
    passed_to: tuple[str, ...] = ()
    #: Where this function is passed (the span of the call it is passed to), parallel to passed_to.
    passed_at: tuple[Span, ...] = ()
    #: Passed as a guide (`SVI(model, guide, ...)`, `guide=`): its distributions are not priors.
    is_guide: bool = False
    #: Plates every caller in this file holds around its calls of this function.
    inherited_plates: tuple[Plate, ...] = ()
    #: Reparameterizations that may be in force from outside (set by ir.models): `reparam(f, config=...)`
    #: wrappers anywhere in the file, and `with reparam(...)` blocks or reparam-decorated or -wrapped
    #: functions that call this one. `reparam` (the decorator) is not repeated here.
    outer_reparams: tuple[ReparamConfig, ...] = ()
    #: Names bound to JAX arrays in this function.
    array_names: frozenset[str] = frozenset()
    #: Names this function binds itself (assignment, loop targets, imports), other than aliases of
    #: parameters or outer objects, and other than names declared global/nonlocal.
    created_names: frozenset[str] = frozenset()
    #: Set by ir.keyflow: PRNG key consumptions and the reuses they imply, in source order. Left empty in
    #: functions where no finding is possible (a single consumer outside loops, no literal seed).
    key_events: tuple[KeyEvent, ...] = field(default=())
    #: Site names observed by `handlers.condition(f, data={...})` wrappers of this function ("*": any),
    #: when the file fits only the wrapped model.
    conditioned: frozenset[str] = frozenset()
    #: Set by ir.inference: why the model this function belongs to enumerates discrete sites
    #: ("`infer={\"enumerate\": ...}`", "config_enumerate", "TraceEnum_ELBO"...), or None.
    enumerates: str | None = None
    #: Set by ir.inference: the model this function belongs to subsamples (`plate(..., subsample_size=)`,
    #: `numpyro.subsample`, HMCECS).
    subsamples: bool = False
    #: Set by ir.models: the fitters the file gives this function to ("NUTS", "SVI"; autoguides count as
    #: "SVI"), directly or through a helper of the file it is passed to.
    run_by: frozenset[str] = frozenset()
    #: Name of the function-valued parameter names etc. is left to rules.

    @property
    def is_model(self) -> bool:
        return self.model_reason is not None

    def site_named(self, name: str) -> Site | None:
        for site in self.sites:
            if site.name == name:
                return site
        return None

    def traced(self, deps: Deps) -> bool:
        """Whether a value with these deps is traced under JAX (depends on a latent site or a param)."""
        return any(self.sites[index].kind in ("sample", "param") for index in deps.sites)


@dataclass(frozen=True)
class SyntaxErrorInfo:
    message: str
    span: Span
    #: The newer Python whose syntax the file uses ("3.12"), when that is why it does not parse.
    requires_python: str | None = None


@dataclass(frozen=True)
class ModuleIR:
    path: str | None
    source: SourceText = field(compare=False, repr=False)
    imports: tuple[tuple[str, str], ...]  # (local name, qualified name)
    constants: tuple[tuple[str, float], ...]  # module-level numeric constants assigned once
    functions: tuple[FunctionIR, ...]  # functions[0] is "<module>" when the file parsed
    #: Lines with `# noqa` (None = every code) or `# noqa: CODES`.
    noqa: tuple[tuple[int, frozenset[str] | None], ...]
    syntax_error: SyntaxErrorInfo | None = None

    @property
    def models(self) -> Iterator[FunctionIR]:
        return (function for function in self.functions if function.is_model)

    def function(self, qualname: str) -> FunctionIR | None:
        for function in self.functions:
            if function.qualname == qualname:
                return function
        return None

    def functions_named(self, name: str) -> list[FunctionIR]:
        return [function for function in self.functions if function.name == name]
