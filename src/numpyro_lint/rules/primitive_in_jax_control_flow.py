from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from numpyro_lint.diagnostic import Diagnostic, RelatedLocation, Span, line_reference
from numpyro_lint.ir.model import Argument, Call, Context, FunctionIR, ModuleIR
from numpyro_lint.ir.models import PRIMITIVES, index_functions, resolve_function_refs
from numpyro_lint.ir.plates import call_at
from numpyro_lint.rules.base import Rule

#: JAX transformations that trace a function once: callee -> (positions, keywords) of function arguments.
CONTROL_FLOW: dict[str, tuple[tuple[int, ...], tuple[str, ...]]] = {
    "jax.lax.scan": ((0,), ("f",)),
    "jax.lax.fori_loop": ((2,), ("body_fun",)),
    "jax.lax.while_loop": ((0, 1), ("cond_fun", "body_fun")),
    "jax.lax.cond": ((1, 2), ("true_fun", "false_fun")),
    "jax.lax.map": ((0,), ("f",)),
    "jax.lax.associative_scan": ((0,), ("fn",)),
    "jax.vmap": ((0,), ("fun",)),
}
#: What to use instead, by the last part of the callee.
INSTEAD = {
    "scan": "`numpyro.contrib.control_flow.scan`",
    "fori_loop": "`numpyro.contrib.control_flow.scan`",
    "while_loop": "`numpyro.contrib.control_flow.scan` over a fixed number of steps",
    "map": "`numpyro.plate` (or `numpyro.contrib.control_flow.scan`)",
    "associative_scan": "`numpyro.contrib.control_flow.scan`",
    "cond": "`numpyro.contrib.control_flow.cond`",
    "vmap": "`numpyro.plate`",
}


@dataclass(frozen=True)
class _Primitive:
    span: Span  # where to report: the primitive, or the call of the helper that holds it
    text: str  # "`numpyro.sample` site \"x\""
    inner: Span | None = None  # for a helper: the primitive inside it


class PrimitiveInJaxControlFlow(Rule):
    """## What it does
    Flags NumPyro primitives (`sample`, `param`, `deterministic`, `factor`, `plate`, `prng_key`...)
    in a function given to `jax.lax.scan`, `fori_loop`, `while_loop`, `cond`, `map`,
    `associative_scan` or `jax.vmap` (or decorated with `@jax.vmap`): passed by name, as a lambda, as
    a nested def, through `functools.partial`, through import aliases (`from jax import lax`,
    `from jax.lax import scan`), or in a helper of the same file that the function calls. The
    diagnostic is on the primitive and points at the control-flow call.

    Not flagged: `numpyro.contrib.control_flow.scan`/`cond`, and primitives run under their own
    `handlers.seed`, `substitute`, `condition` or `block` inside the function (a self-contained
    trace, as in vectorized prior sampling), or in a function passed wrapped in a handler
    (`vmap(seed(model, key))`).

    ## Why is this bad?
    JAX traces the function once and reuses the trace for every step or element. NumPyro's effect
    handlers see a single site instead of one per step: under MCMC or SVI the sample's value leaks
    as a tracer (`UnexpectedTracerError`) or the same draw is used for every step, and the sites are
    missing from the trace that inference and `Predictive` read.

    ## Example
    ```python
    def model(T):
        def step(x, _):
            x = numpyro.sample("x", dist.Normal(x, 1))
            return x, x
        jax.lax.scan(step, 0.0, None, length=T)
    ```

    ## Use instead
    ```python
    from numpyro.contrib.control_flow import scan

    def model(T):
        def step(x, _):
            x = numpyro.sample("x", dist.Normal(x, 1))
            return x, x
        scan(step, 0.0, None, length=T)
    ```

    ## Fix safety
    `jax.lax.scan` becomes `numpyro.contrib.control_flow.scan` (safe); `jax.lax.cond` becomes
    `numpyro.contrib.control_flow.cond` (unsafe: NumPyro's `cond` takes one operand, and the sites of
    its branches must agree in name and shape). Other transformations get no fix.

    ## Options
    None.
    """

    code = "NPL204"
    summary = "a NumPyro primitive inside jax.lax control flow or jax.vmap"
    fix_safety = "safe for scan, unsafe for cond"
    VALID = [
        """
import jax
import numpyro
import numpyro.distributions as dist
from numpyro import handlers
from numpyro.contrib.control_flow import scan

def model(T, ys):
    def step(x, y):
        x = numpyro.sample("x", dist.Normal(x, 1), obs=y)
        return x, x
    scan(step, 0.0, ys, length=T)

def prior_draws(keys):
    def one(key):
        with handlers.seed(rng_seed=key):
            return numpyro.sample("x", dist.Normal(0, 1))
    return jax.vmap(one)(keys)

def loglik(y, mu):
    return jax.vmap(lambda m: dist.Normal(m, 1).log_prob(y).sum())(mu)
""",
    ]
    INVALID = [
        """
import jax
from jax import lax
import numpyro
import numpyro.distributions as dist

def model(T):
    def step(x, _):
        x = numpyro.sample("x", dist.Normal(x, 1))  # expect
        return x, x
    lax.scan(step, 0.0, None, length=T)
    jax.vmap(lambda m: numpyro.sample("m", dist.Normal(m, 1)))(jax.numpy.zeros(3))  # expect
""",
    ]

    def check(self, module, settings) -> Iterator[Diagnostic]:
        found: dict[Span, tuple[_Primitive, list[tuple[str, Span]]]] = {}
        for traced, callee, at in _traced_functions(module):
            for primitive in _primitives(module, traced, set()):
                found.setdefault(primitive.span, (primitive, []))[1].append((callee, at))
        for primitive, controls in found.values():
            callee, at = controls[0]
            short = callee.rsplit(".", 1)[-1]
            related = [RelatedLocation(span, f"traced once by `{name}` here") for name, span in controls]
            if primitive.inner is not None:
                related.append(RelatedLocation(primitive.inner, "the primitive in the helper"))
            yield self.diagnostic(primitive.span, (
                f"{primitive.text} runs inside a function given to `{callee}` ({line_reference(at.line)}): "
                "JAX traces that function once, so NumPyro sees one site instead of one per step or element; under "
                "MCMC or SVI its value leaks as a tracer or repeats for every step. "
                f"Use {INSTEAD.get(short, '`numpyro.contrib.control_flow.scan`')} instead."
            ), related=tuple(related))


def _traced_functions(module: ModuleIR) -> Iterator[tuple[int, str, Span]]:
    """(function index, control-flow callee, span to relate) for every function that JAX traces once."""
    if not any(call.callee in CONTROL_FLOW for function in module.functions for call in function.calls) and not any(
        decorator in CONTROL_FLOW for function in module.functions for decorator in function.decorators
    ):
        return
    functions = list(module.functions)
    by_name, by_qualname = index_functions(functions)
    for index, function in enumerate(functions):
        for decorator in function.decorators:
            if decorator in CONTROL_FLOW:
                yield index, decorator, function.name_span
        for call in function.calls:
            slots = CONTROL_FLOW.get(call.callee)
            if slots is None:
                continue
            for argument in _function_arguments(call, slots):
                if _wrapped_in_handler(function, argument):
                    continue
                for target in resolve_function_refs([argument.function_ref], function, functions, by_name, by_qualname):
                    yield target, call.callee, call.span


def _function_arguments(call: Call, slots: tuple[tuple[int, ...], tuple[str, ...]]) -> Iterator[Argument]:
    positions, keywords = slots
    if call.callee == "jax.lax.cond" and sum(1 for a in call.args if a.keyword is None) == 5:
        positions = (2, 4)  # the old form: cond(pred, true_operand, true_fun, false_operand, false_fun)
    positional = 0
    for argument in call.args:
        if argument.keyword is None:
            if positional in positions and argument.function_ref:
                yield argument
            positional += 1
        elif argument.keyword in keywords and argument.function_ref:
            yield argument


def _wrapped_in_handler(function: FunctionIR, argument: Argument) -> bool:
    """`vmap(seed(model, key))`: the function is passed inside a NumPyro handler, which owns its trace."""
    call = call_at(function, argument.expr.span)
    return call is not None and call.callee.startswith("numpyro.handlers.")


def _primitives(module: ModuleIR, index: int, seen: set[int]) -> list[_Primitive]:
    """The primitives that run when `functions[index]` runs: its own, and those of helpers it calls."""
    seen.add(index)
    function = module.functions[index]
    found = [
        _Primitive(site.span, f"`numpyro.{site.kind}` site \"{site.name or site.name_expr.text}\"")
        for site in function.sites if not _seeded(site.context)
    ]
    found += [
        _Primitive(call.span, f"`{call.callee}`")
        for call in function.calls if call.callee in PRIMITIVES and not _seeded(call.context)
    ]
    for call in function.calls:
        helper = _called_helper(module, function, call)
        if helper is None or helper in seen or _seeded(call.context):
            continue
        inner = _primitives(module, helper, seen)
        if inner:
            name = module.functions[helper].name
            found.append(_Primitive(call.span, f"`{name}`, which calls {inner[0].text},", inner[0].inner or inner[0].span))
    return found


def _called_helper(module: ModuleIR, function: FunctionIR, call: Call) -> int | None:
    name = call.callee.split(".", 1)[1] if call.callee.startswith(("self.", "cls.")) else call.callee
    if not name or "." in name:
        return None
    functions = list(module.functions)
    matches = [i for i, f in enumerate(functions) if f.name == name and f.kind != "lambda"]
    if not matches:
        return None
    by_name = {name: matches}
    by_qualname = {functions[i].qualname: i for i in matches}
    resolved = resolve_function_refs([name], function, functions, by_name, by_qualname)
    return resolved[0] if len(resolved) == 1 else None


#: Handlers that, entered inside the traced function, give its sites their values there: the primitive
#: then runs in a trace of its own (vectorized prior draws, per-sample log densities).
SELF_CONTAINED = frozenset({
    "numpyro.handlers.seed", "numpyro.handlers.substitute", "numpyro.handlers.condition", "numpyro.handlers.block",
})


def _seeded(context: Context) -> bool:
    return any(handler in SELF_CONTAINED for handler, _ in context.handlers)
