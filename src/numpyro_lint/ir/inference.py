"""How the file runs each model: with which inference entry points, and whether NumPyro checks its plates
strictly. NumPyro's own plate check (`numpyro.util._validate_model`) is loose for plain MCMC and
`Trace_ELBO`, strict for `TraceGraph_ELBO`, and an error once sites are enumerated; rules whose verdict
depends on that ask here.
"""

from __future__ import annotations

from dataclasses import replace

from numpyro_lint.ir.distributions import DISCRETE
from numpyro_lint.ir.model import FunctionIR
from numpyro_lint.ir.models import GIBBS, SAMPLERS, calls_of, index_functions, resolve_function_refs

#: Wrappers that enumerate the model they are given, by last name.
ENUMERATING_WRAPPERS = frozenset({"config_enumerate", "infer_discrete"})


def mark_inference(functions: list[FunctionIR]) -> list[FunctionIR]:
    """Sets `enumerates` and `subsamples` on every function (see FunctionIR)."""
    by_name, by_qualname = index_functions(functions)
    run_by = [function.run_by for function in functions]
    enumerated_by = _enumerating_calls(functions, by_name, by_qualname)
    enumerates = [_own_enumeration(function, run_by[index]) or enumerated_by.get(index)
                  for index, function in enumerate(functions)]
    subsamples = [_own_subsampling(function, run_by[index]) for index, function in enumerate(functions)]
    # A submodel is run with its model, and a helper's enumerated site makes its caller's trace enumerate:
    # both flow along calls between models.
    edges = [(a, b) for a, b, _ in calls_of(functions, by_name, by_qualname)
             if functions[a].is_model and functions[b].is_model and a != b]
    changed = True
    while changed:
        changed = False
        for a, b in edges:
            for x, y in ((a, b), (b, a)):
                if enumerates[x] and not enumerates[y]:
                    enumerates[y] = enumerates[x]
                    changed = True
                if subsamples[x] and not subsamples[y]:
                    subsamples[y] = True
                    changed = True
    return [replace(function, enumerates=enumerates[i], subsamples=subsamples[i])
            for i, function in enumerate(functions)]


def _own_enumeration(function: FunctionIR, run_by: frozenset[str]) -> str | None:
    if any(site.enumerated for site in function.sites):
        return 'a site with `infer={"enumerate": ...}`'
    for name in (*function.decorators, *function.passed_to):
        last = name.rsplit(".", 1)[-1]
        if last in ENUMERATING_WRAPPERS:
            return f"`{last}`"
    enumerating = run_by & (SAMPLERS - GIBBS)
    if enumerating and any(
            site.is_latent and site.distribution is not None and site.distribution.name in DISCRETE
            for site in function.sites):
        return "a discrete latent site under " + "/".join(sorted(enumerating))
    return None


def _enumerating_calls(functions: list[FunctionIR], by_name, by_qualname) -> dict[int, str]:
    """Functions passed to `SVI(..., loss=TraceEnum_ELBO())` or `Predictive(..., infer_discrete=True)`."""
    losses = {call.bound_to for function in functions for call in function.calls
              if call.bound_to and call.callee.endswith("TraceEnum_ELBO")}
    found: dict[int, str] = {}
    for caller in functions:
        for call in caller.calls:
            last = call.callee.rsplit(".", 1)[-1]
            if last == "SVI" and any("TraceEnum_ELBO" in a.expr.text or a.expr.name in losses for a in call.args):
                reason = "`TraceEnum_ELBO`"
            elif last == "Predictive" and any(a.keyword == "infer_discrete" and a.expr.text == "True"
                                              for a in call.args):
                reason = "`Predictive(..., infer_discrete=True)`"
            else:
                continue
            refs = [argument.function_ref for argument in call.args if argument.function_ref]
            for target in resolve_function_refs(refs, caller, functions, by_name, by_qualname):
                found.setdefault(target, reason)
    return found


def _own_subsampling(function: FunctionIR, run_by: frozenset[str]) -> bool:
    return ("HMCECS" in run_by or any(plate.subsample_size_text for plate in function.plates)
            or any(call.callee == "numpyro.subsample" for call in function.calls))
