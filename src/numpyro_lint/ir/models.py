"""Which functions are models: they call a NumPyro primitive, or the file passes them to inference.

Also records, for every function, the calls it is passed to (`jax.lax.scan`, `NUTS`...), which other
rules ask about.
"""

from __future__ import annotations

import re
from dataclasses import replace

from numpyro_lint.ir.model import Call, FunctionIR, ReparamConfig

PRIMITIVES = frozenset({
    "numpyro.sample", "numpyro.deterministic", "numpyro.factor", "numpyro.param", "numpyro.plate",
    "numpyro.plate_stack", "numpyro.subsample", "numpyro.prng_key", "numpyro.module",
})
#: Entry points that take a model (or guide) as first argument, by their last name component.
MODEL_ENTRIES = frozenset({
    "NUTS", "HMC", "SA", "BarkerMH", "AIES", "ESS", "HMCECS", "Predictive", "SVI", "log_density",
    "initialize_model", "render_model", "log_likelihood", "potential_energy", "get_model_relations",
})
MODEL_KEYWORDS = frozenset({"model", "guide", "fn"})
#: Samplers: they run the model they are given (NumPyro enumerates its discrete latent sites).
SAMPLERS = frozenset({"NUTS", "HMC", "SA", "BarkerMH", "HMCECS", "AIES", "ESS", "MixedHMC", "DiscreteHMCGibbs",
                      "HMCGibbs"})
#: Kernels that update a model's discrete sites by Gibbs steps around an inner HMC/NUTS kernel (which
#: then does not enumerate them).
GIBBS = frozenset({"DiscreteHMCGibbs", "MixedHMC", "HMCGibbs"})
#: Entry points that fit the model they are given (by last name): samplers, SVI and autoguides, SteinVI.
FITTERS = SAMPLERS | {"SVI", "SteinVI"}


def is_model_entry(callee: str) -> bool:
    if not callee.startswith("numpyro."):
        return False
    last = callee.rsplit(".", 1)[-1]
    return last in MODEL_ENTRIES or last.startswith("Auto") or callee.startswith("numpyro.handlers.")


def _model_positions(callee: str) -> tuple[int, ...]:
    last = callee.rsplit(".", 1)[-1]
    if last == "SVI":
        return (0, 1)
    if last == "initialize_model":
        return (1,)
    return (0,)


def index_functions(functions: list[FunctionIR]) -> tuple[dict[str, list[int]], dict[str, int]]:
    """(name -> indices into `functions`, qualname -> index): what resolving a reference needs."""
    by_name: dict[str, list[int]] = {}
    by_qualname: dict[str, int] = {}
    for index, function in enumerate(functions):
        by_name.setdefault(function.name, []).append(index)
        by_qualname[function.qualname] = index
    return by_name, by_qualname


def mark_models(functions: list[FunctionIR]) -> list[FunctionIR]:
    by_name, by_qualname = index_functions(functions)
    reasons: dict[int, str] = {}
    passed_to: dict[int, list[tuple[str, object]]] = {}
    guides: set[int] = set()
    #: Calls a function is given to as it is, by name, not wrapped in a handler (`NUTS(model)`, not
    #: `NUTS(reparam(model, ...))`).
    fitted_as_is: dict[int, list[str]] = {}
    for index, function in enumerate(functions):
        for site in function.sites:
            reasons.setdefault(index, f"calls numpyro.{site.kind}")
        for call in function.calls:
            if call.callee in PRIMITIVES:
                reasons.setdefault(index, f"calls {call.callee}")
    for function in functions:
        gibbs_inner = _gibbs_inner_kernels(function)
        for call in function.calls:
            entry = is_model_entry(call.callee)
            positions = _model_positions(call.callee) if entry else ()
            positional = 0
            for argument in call.args:
                ref = argument.function_ref
                is_model_slot = entry and (
                    (argument.keyword is None and positional in positions) or argument.keyword in MODEL_KEYWORDS
                )
                is_guide_slot = argument.keyword == "guide" or (
                    argument.keyword is None and positional == 1 and call.callee.rsplit(".", 1)[-1] == "SVI")
                if argument.keyword is None:
                    positional += 1
                if ref is None:
                    continue
                # `NUTS(model)` in `def fit(model)` fits whatever `fit` is given, not a function named `model`.
                wrapped = _handler_call(function, argument.expr.span) or any(p.name == ref for p in function.params)
                for target in _resolve(ref, function, functions, by_name, by_qualname):
                    passed_to.setdefault(target, []).append((call.callee, call.span))
                    if not wrapped:
                        inner = call.span in gibbs_inner or (call.bound_to is not None and call.bound_to in gibbs_inner)
                        fitted_as_is.setdefault(target, []).append("numpyro.infer.DiscreteHMCGibbs" if inner
                                                                   else call.callee)
                    if is_guide_slot:
                        guides.add(target)
                    if is_model_slot:
                        short = call.callee.rsplit(".", 1)[-1]
                        reasons.setdefault(target, f"passed to {short}")
    for index in _eager(functions, passed_to, by_name, by_qualname):
        reasons.pop(index, None)
    run_by = {index: _run_by(callees, functions, by_name) for index, callees in fitted_as_is.items()}
    outer_reparams = _outer_reparams(functions, by_name, by_qualname, run_by)
    conditioned = _conditioned(functions, by_name, by_qualname, run_by)
    result = []
    for index, function in enumerate(functions):
        passes = passed_to.get(index, [])
        result.append(replace(
            function,
            model_reason=reasons.get(index),
            passed_to=tuple(callee for callee, _ in passes),
            passed_at=tuple(span for _, span in passes),  # type: ignore[misc]
            is_guide=index in guides,
            outer_reparams=outer_reparams.get(index, ()),
            run_by=run_by.get(index, frozenset()),
            conditioned=frozenset(conditioned.get(index, ())),
        ))
    return result


def _eager(functions: list[FunctionIR], passed_to: dict[int, list], by_name, by_qualname) -> set[int]:
    """Code that runs once, eagerly, with concrete values, so it is no model whatever it calls: module
    level (a notebook's `with handlers.seed(rng_seed=0): x = numpyro.sample(...)`), and plain functions
    that only eager code calls, directly, and that are never passed on (to NUTS, `seed`, `jit`...) nor
    decorated, or whose every site sits in a `with handlers.seed(...)` block of its own. A function nobody
    calls stays a model: it is probably run elsewhere."""
    eager = {index for index, function in enumerate(functions) if function.kind == "module" or (
        function.sites and index not in passed_to and not function.decorators
        and all(_seeded_here(site.context.handlers) for site in function.sites))}
    callers: dict[int, set[int]] = {}
    for caller, function in enumerate(functions):
        for call in function.calls:
            name = call.callee.split(".", 1)[1] if call.callee.startswith(("self.", "cls.")) else call.callee
            if name and "." not in name:
                for target in _resolve(name, function, functions, by_name, by_qualname):
                    callers.setdefault(target, set()).add(caller)
    changed = True
    while changed:
        changed = False
        for index, direct in callers.items():
            function = functions[index]
            if (index not in eager and function.kind == "function" and not function.decorators
                    and index not in passed_to and direct <= eager):
                eager.add(index)
                changed = True
    return eager


def _conditioned(functions: list[FunctionIR], by_name, by_qualname,
                 run_by: dict[int, frozenset[str]]) -> dict[int, set[str]]:
    """Per function, the site names that `handlers.condition(f, data={...})` wrappers observe ("*" when the
    data is not a literal dict), unless the file also fits `f` itself, unwrapped."""
    found: dict[int, set[str]] = {}
    for function in functions:
        for call in function.calls:
            if call.callee != "numpyro.handlers.condition":
                continue
            data = call.arg(1, "data")
            wrapped = [a.function_ref for a in call.args if a.keyword in (None, "fn")][:1]
            for target in resolve_function_refs(wrapped, function, functions, by_name, by_qualname):
                if data is None or run_by.get(target):
                    continue
                names = set(re.findall(r"""["'](\w+)["']\s*:""", data.text)) if data.text.startswith("{") else {"*"}
                found.setdefault(target, set()).update(names or {"*"})
    return found


def _gibbs_inner_kernels(function: FunctionIR) -> set:
    """Spans and names of the kernels a function gives to a Gibbs kernel (`DiscreteHMCGibbs(NUTS(model))`,
    `DiscreteHMCGibbs(kernel)`)."""
    found: set = set()
    for call in function.calls:
        if call.callee.rsplit(".", 1)[-1] in GIBBS:
            for argument in call.args:
                found.add(argument.expr.span)
                if argument.expr.name:
                    found.add(argument.expr.name)
    return found


def _handler_call(function: FunctionIR, span) -> bool:
    """Whether the expression at `span` is a call of a NumPyro effect handler (`reparam(model, ...)`)."""
    return any(call.span == span and call.callee.startswith("numpyro.handlers.") for call in function.calls)


def _run_by(callees: list[str], functions: list[FunctionIR], by_name) -> frozenset[str]:
    """The fitters (`FITTERS`, autoguides as "SVI") a function is given to: directly, or through a helper
    of the file it is passed to (`run_inference(model, ...)` whose body builds `NUTS(...)`)."""
    found: set[str] = set()
    for callee in callees:
        names = [callee] if callee.startswith("numpyro.") else [
            call.callee for helper in by_name.get(callee, []) if "." not in callee
            for call in functions[helper].calls if call.callee.startswith("numpyro.")]
        for name in names:
            last = name.rsplit(".", 1)[-1]
            if last in FITTERS:
                found.add(last)
            elif last.startswith("Auto") and is_model_entry(name):
                found.add("SVI")
    return frozenset(found)


def _seeded_here(handlers: tuple[tuple[str, object], ...]) -> bool:
    return any(callee == "numpyro.handlers.seed" for callee, _ in handlers)


def _outer_reparams(functions: list[FunctionIR], by_name, by_qualname,
                    run_by: dict[int, frozenset[str]]) -> dict[int, tuple[ReparamConfig, ...]]:
    """Per function, the reparam configs that may be in force around it: `reparam(f, config=...)` wrappers
    (unless the file also fits `f` itself, unwrapped: that run has no reparam), and whatever is in force
    where it is called or passed on (a `with reparam` block, a decorated or wrapped caller), transitively.
    "May": precision rules stay silent when any path is covered."""
    found: dict[int, set[ReparamConfig]] = {}
    for caller, function in enumerate(functions):
        for call in function.calls:
            if call.reparam is not None:
                wrapped = [a.function_ref for a in call.args if a.keyword in (None, "fn")][:1]
                for target in resolve_function_refs(wrapped, function, functions, by_name, by_qualname):
                    if not run_by.get(target):
                        found.setdefault(target, set()).add(call.reparam)
    edges = calls_of(functions, by_name, by_qualname)
    changed = bool(edges)
    while changed:
        changed = False
        for caller, callee, call in edges:
            inherited = found.get(caller, set()) | set(call.context.reparams)
            if functions[caller].reparam is not None:
                inherited.add(functions[caller].reparam)
            if not inherited <= found.setdefault(callee, set()):
                found[callee] |= inherited
                changed = True
    return {index: tuple(sorted(configs, key=lambda c: c.span)) for index, configs in found.items() if configs}


def calls_of(functions: list[FunctionIR], by_name, by_qualname) -> list[tuple[int, int, Call]]:
    """(caller index, callee index, call) for each call of a function of this file (`f()`, `self.f()`)
    and each call it is passed to (`scan(f, ...)`, `NUTS(f)`, `reparam(f, ...)`)."""
    return [(caller, target, call) for caller, function in enumerate(functions) for call in function.calls
            for target in call_targets(function, call, functions, by_name, by_qualname)]


def call_targets(caller: FunctionIR, call: Call, functions: list[FunctionIR], by_name, by_qualname) -> list[int]:
    """The functions of the file that `call` calls (`f()`, `self.f()`) or passes on (`scan(f, ...)`)."""
    refs = [a.function_ref for a in call.args if a.function_ref is not None]
    name = call.callee.split(".", 1)[1] if call.callee.startswith(("self.", "cls.")) else call.callee
    if name and "." not in name:
        refs.append(name)
    return resolve_function_refs(refs, caller, functions, by_name, by_qualname)


def resolve_function_refs(refs, caller: FunctionIR, functions: list[FunctionIR], by_name, by_qualname) -> list[int]:
    """Indices into `functions` of the functions the names `refs` refer to, seen from `caller`."""
    return [target for ref in refs if ref for target in _resolve(ref, caller, functions, by_name, by_qualname)]


def _resolve(ref: str, caller: FunctionIR, functions: list[FunctionIR], by_name, by_qualname) -> list[int]:
    """The functions a reference names: a lambda's qualname, else the innermost visible def of that name."""
    if ref in by_qualname and ref.startswith("<lambda"):
        return [by_qualname[ref]]
    candidates = by_name.get(ref, [])
    if len(candidates) <= 1:
        return candidates
    scope = caller.qualname if caller.kind != "module" else ""
    while True:
        prefix = f"{scope}.<locals>.{ref}" if scope else ref
        for index in candidates:
            if functions[index].qualname == prefix:
                return [index]
        if not scope:
            return candidates
        scope = scope.rsplit(".<locals>.", 1)[0] if ".<locals>." in scope else ""
