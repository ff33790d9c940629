"""Plates that reach a function from outside: a helper called only inside a plate is inside that plate.

`inherited_plates` of a function are the plates held around every place in the file that calls it or
passes it on (`scan(step, ...)` inside a plate runs `step` inside it), each with the caller's own
inherited plates, transitively. A function never called or passed in the file inherits none.
"""

from __future__ import annotations

from dataclasses import replace

from numpyro_lint.diagnostic import Span
from numpyro_lint.ir.model import Call, FunctionIR, Plate, Site
from numpyro_lint.ir.models import call_targets, index_functions


def attach_inherited_plates(functions: list[FunctionIR]) -> list[FunctionIR]:
    """`functions` with `inherited_plates` set on those that hold sites."""
    if not any(function.sites for function in functions):
        return functions
    index = _FunctionIndex(functions)
    # Only a call made inside a plate can pass one on: most files have none, and skip the call graph.
    if not any(index.targets(function, call) for function in functions if function.plates
               for call in function.calls if call.context.plates):
        return functions
    sites = call_sites(functions, index)
    memo: dict[int, tuple[Plate, ...]] = {}
    result = []
    for position, function in enumerate(functions):
        plates = _inherited(position, sites, functions, memo) if function.sites else ()
        result.append(replace(function, inherited_plates=plates) if plates else function)
    return result


class _FunctionIndex:
    def __init__(self, functions: list[FunctionIR]) -> None:
        self.functions = functions
        self.by_name, self.by_qualname = index_functions(functions)

    def targets(self, caller: FunctionIR, call: Call) -> list[int]:
        """The functions of the file that `call` calls or passes on."""
        return call_targets(caller, call, self.functions, self.by_name, self.by_qualname)


def call_sites(functions: list[FunctionIR], index: _FunctionIndex | None = None,
               ) -> dict[int, list[tuple[int, tuple[Plate, ...]]]]:
    """Function index -> (caller index, plates held at the call) for each call or pass of it in the file."""
    index = index or _FunctionIndex(functions)
    found: dict[int, list[tuple[int, tuple[Plate, ...]]]] = {}
    for caller, function in enumerate(functions):
        for call in function.calls:
            for target in index.targets(function, call):
                if target != caller:
                    found.setdefault(target, []).append((caller, call.context.plates))
    return found


def _inherited(index: int, sites, functions: list[FunctionIR], memo: dict[int, tuple[Plate, ...]]) -> tuple[Plate, ...]:
    if index in memo:
        return memo[index]
    memo[index] = ()  # a cycle inherits nothing through itself
    common: tuple[Plate, ...] | None = None
    for caller, plates in sites.get(index, ()):
        held = _inherited(caller, sites, functions, memo) + plates
        common = held if common is None else tuple(plate for plate in common if plate in held)
        if not common:
            break
    memo[index] = common or ()
    return memo[index]


SCAN = "numpyro.contrib.control_flow.scan"


def plates_around(function: FunctionIR, site: Site) -> tuple[Plate, ...]:
    """Every plate a site runs in: those entered in its function and those its callers hold."""
    return function.inherited_plates + site.context.plates


def in_scan_step(functions: tuple[FunctionIR, ...], index: int) -> bool:
    """Whether `functions[index]` runs as (or inside) a `numpyro.contrib.control_flow.scan` step, where
    each site is one time step and scan stacks them."""
    callers = call_sites(list(functions))
    pending, seen = [index], {index}
    while pending:
        current = pending.pop()
        if SCAN in functions[current].passed_to:
            return True
        for caller, _ in callers.get(current, ()):
            if caller not in seen:
                seen.add(caller)
                pending.append(caller)
    return False


def call_at(function: FunctionIR, span: Span) -> Call | None:
    """The call (other than a site) whose expression is exactly `span`."""
    for call in function.calls:
        if call.span == span:
            return call
    return None


def draws_one_value(function: FunctionIR, site: Site, depth: int = 3) -> bool:
    """Whether the site's distribution visibly describes one scalar value: no plate around it, no
    `.expand`/`.to_event`, and every argument a number or the value of such a latent site (or of a
    `param` with a number as initial value). Observed array data is then larger than the distribution."""
    distribution = site.distribution
    if distribution is None or distribution.chain or plates_around(function, site):
        return False
    for _, expr in distribution.params:
        if expr.value is not None:
            continue
        if expr.site_value is None or expr.deps.args or depth == 0:
            return False
        parent = function.sites[expr.site_value]
        if parent.kind == "param":
            if parent.value is None or parent.value.value is None or parent.context.plates:
                return False
        elif not parent.is_latent or not draws_one_value(function, parent, depth - 1):
            return False
    return True
