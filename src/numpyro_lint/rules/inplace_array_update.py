from __future__ import annotations

from typing import Iterator

from numpyro_lint.diagnostic import Diagnostic
from numpyro_lint.rules.base import Rule, models


class InplaceArrayUpdate(Rule):
    """## What it does
    Flags item assignment (`x[i] = v`, `x[i] += v`) on a JAX array inside a model.

    ## Why is this bad?
    JAX arrays are immutable: item assignment raises `TypeError: JAX arrays are immutable`.

    ## Example
    ```python
    def model(n):
        x = jnp.zeros(n)
        x[0] = numpyro.sample("x0", dist.Normal(0, 1))
    ```

    ## Use instead
    ```python
    def model(n):
        x = jnp.zeros(n)
        x = x.at[0].set(numpyro.sample("x0", dist.Normal(0, 1)))
    ```

    ## Fix safety
    Safe: `x[i] = v` becomes `x = x.at[i].set(v)` and `x[i] += v` becomes `x = x.at[i].add(v)`,
    which is what the assignment meant.

    ## Options
    None.
    """

    code = "NPL106"
    summary = "item assignment on a JAX array"
    fix_safety = "safe"
    VALID = [
        """
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

def model(n):
    x = jnp.zeros(n)
    x = x.at[0].set(numpyro.sample("x0", dist.Normal(0, 1)))
    values = [0.0, 1.0]
    values[0] = 2.0
    table = {}
    table["a"] = x
""",
    ]
    INVALID = [
        """
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

def model(n):
    x = jnp.zeros(n)
    x[0] = numpyro.sample("x0", dist.Normal(0, 1))  # expect
    x[1] += 1.0  # expect
    z = numpyro.sample("z", dist.Normal(0, 1).expand([3]))
    z[2] = 0.0  # expect
""",
    ]

    def check(self, module, settings) -> Iterator[Diagnostic]:
        for function in models(module):
            for mutation in function.mutations:
                if mutation.kind not in ("item-assign", "item-aug-assign") or mutation.target_kind != "array":
                    continue
                method = "set" if mutation.kind == "item-assign" else _AT_METHODS.get(mutation.operator or "", "add")
                yield self.diagnostic(mutation.span, (
                    f"`{mutation.target}` is a JAX array, and JAX arrays are immutable: item assignment "
                    f"raises a TypeError. Use `{mutation.target} = {mutation.target}.at[{mutation.index_text}]"
                    f".{method}(...)`."
                ))


_AT_METHODS = {"+": "add", "*": "multiply", "/": "divide", "**": "power", "-": "add"}
