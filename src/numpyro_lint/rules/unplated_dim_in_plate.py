from __future__ import annotations

import ast
from typing import Iterator

from numpyro_lint.diagnostic import Diagnostic, Span
from numpyro_lint.ir.distributions import LAST_DIM_PARAMS, SCALAR_EVENT
from numpyro_lint.ir.model import Distribution, FunctionIR
from numpyro_lint.ir.plates import call_at, plates_around
from numpyro_lint.rules.base import Rule, models
from numpyro_lint.rules.batched_latent_without_plate import SHAPED_CONSTRUCTORS


class UnplatedDimInPlate(Rule):
    """## What it does
    Flags a `sample` site inside one or more plates whose distribution is visibly batched with more
    dimensions than there are plates around it (`.expand([N, D])` or `jnp.zeros((N, D))` inside one
    plate), without `.to_event()`.

    ## Why is this bad?
    Every batch dimension of a site inside a plate should belong to a plate. NumPyro checks this even
    in its loosest mode (plain NUTS, `Trace_ELBO`): a site that has plate dimensions and one more
    batch dimension of size > 1 gets "Missing a plate statement for batch dimension ..." at run time.
    The undeclared dimension is not known to be conditionally independent, is not subsampled, and
    collides with enumeration dimensions.

    ## Example
    ```python
    def model(N, D):
        with numpyro.plate("rows", N, dim=-2):
            z = numpyro.sample("z", dist.Normal(0.0, 1.0).expand([N, D]))
    ```

    ## Use instead
    ```python
    def model(N, D):
        with numpyro.plate("rows", N, dim=-2), numpyro.plate("cols", D, dim=-1):
            z = numpyro.sample("z", dist.Normal(0.0, 1.0))
    ```
    or `.to_event(1)` when the extra dimension is one vector-valued variable.

    ## Fix safety
    No fix: a plate or `.to_event(1)` depends on what the dimension means.

    ## Options
    None.
    """

    code = "NPL206"
    summary = "a site in a plate with an extra batch dimension no plate declares"
    VALID = [
        """
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

def model(N, D):
    with numpyro.plate("rows", N, dim=-2), numpyro.plate("cols", D, dim=-1):
        z = numpyro.sample("z", dist.Normal(0.0, 1.0).expand([N, D]))
    with numpyro.plate("k", D):
        w = numpyro.sample("w", dist.Normal(jnp.zeros(D), 1.0))
        v = numpyro.sample("v", dist.Normal(jnp.zeros((1, D)), 1.0))
    with numpyro.plate("n", N):
        u = numpyro.sample("u", dist.Normal(jnp.zeros((N, D)), 1.0).to_event(1))
""",
    ]
    INVALID = [
        """
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

def model(N, D):
    with numpyro.plate("rows", N, dim=-2):
        z = numpyro.sample("z", dist.Normal(0.0, 1.0).expand([N, D]))  # expect
        w = numpyro.sample("w", dist.Normal(jnp.zeros((N, D)), 1.0))  # expect
""",
    ]

    def check(self, module, settings) -> Iterator[Diagnostic]:
        for function in models(module):
            for site in function.sites:
                plates = plates_around(function, site)
                distribution = site.distribution
                if site.kind != "sample" or not plates or distribution is None:
                    continue
                batched = _batch_rank(function, distribution)
                if batched is None or batched[0] <= len(plates):
                    continue
                rank, span, text = batched
                names = ", ".join(f"`{p.name}`" for p in plates if p.name) or "a plate"
                yield self.diagnostic(span, (
                    f"Site \"{site.name or site.name_expr.text}\" is batched by `{text}` ({rank} batch dimensions) "
                    f"inside {len(plates)} plate{'s' if len(plates) > 1 else ''} ({names}): a batch dimension no "
                    "plate declares. NumPyro warns \"Missing a plate statement\" for it even under NUTS and "
                    "`Trace_ELBO`, and it collides with enumeration. Add a plate for that dimension (mind each "
                    "plate's `dim`), or `.to_event(1)` if it is one vector-valued variable."
                ))


def _batch_rank(function: FunctionIR, distribution: Distribution) -> tuple[int, Span, str] | None:
    """(number of dimensions of size other than 1, span, text) of a visibly shaped batch, or None."""
    if distribution.name == "Independent" or distribution.has_chain("to_event"):
        return None
    for chain in distribution.chain:
        if chain.method in ("expand", "expand_by") and chain.args:
            rank = _rank(chain.args[0].expr.text)
            if rank is not None:
                return rank, chain.span, f".{chain.method}({chain.args[0].expr.text})"
    if distribution.name not in SCALAR_EVENT or distribution.name in LAST_DIM_PARAMS:
        return None
    for _, expression in distribution.params:
        call = call_at(function, expression.span)
        if call is not None and call.callee in SHAPED_CONSTRUCTORS:
            shape = call.arg(0, "shape")
            rank = _rank(shape.text) if shape is not None else None
            if rank is not None:
                return rank, expression.span, expression.text
    return None


def _rank(shape_text: str) -> int | None:
    """Dimensions other than a literal 1 in a written shape: `[N, D]` -> 2, `(1, D)` -> 1, `K` -> 1."""
    try:
        node = ast.parse(shape_text, mode="eval").body
    except SyntaxError:
        return None
    items = node.elts if isinstance(node, (ast.Tuple, ast.List)) else [node]
    if any(isinstance(item, ast.Starred) for item in items):
        return None
    return sum(1 for item in items if not (isinstance(item, ast.Constant) and item.value == 1))
