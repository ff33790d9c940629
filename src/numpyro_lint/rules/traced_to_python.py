from __future__ import annotations

from typing import Iterator

from numpyro_lint.diagnostic import Diagnostic
from numpyro_lint.rules.base import Rule, models, traced_site_names

CONVERSIONS = frozenset({"float", "int", "bool", "complex"})
METHODS = frozenset({"item", "tolist", "__float__", "__int__"})


class TracedToPython(Rule):
    """## What it does
    Flags conversions of a sampled value to a Python or NumPy value: `float()`, `int()`, `bool()`,
    `.item()`, `.tolist()`, `np.asarray()` (and other `numpy` functions), `math.*`.

    ## Why is this bad?
    Sampled values are tracers under jit/NUTS/SVI: the conversion raises
    `ConcretizationTypeError` or `TracerArrayConversionError`. NumPy and `math` functions cannot
    see inside a tracer; their `jax.numpy` counterparts can.

    ## Example
    ```python
    def model():
        s = numpyro.sample("s", dist.HalfNormal(1))
        numpyro.sample("x", dist.Normal(0, math.sqrt(s)))
    ```

    ## Use instead
    ```python
    def model():
        s = numpyro.sample("s", dist.HalfNormal(1))
        numpyro.sample("x", dist.Normal(0, jnp.sqrt(s)))
    ```

    ## Fix safety
    No fix.

    ## Options
    None.
    """

    code = "NPL105"
    summary = "a sampled value converted to a Python or NumPy value"
    VALID = [
        """
import math
import numpy as np
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

def model(x, n):
    n_obs = int(n)
    scale = float(np.asarray(x).std())
    half = math.sqrt(n_obs)
    s = numpyro.sample("s", dist.HalfNormal(1))
    numpyro.sample("y", dist.Normal(0, jnp.sqrt(s) * half + scale))
""",
    ]
    INVALID = [
        """
import math
import numpy as np
import numpyro
import numpyro.distributions as dist

def model():
    s = numpyro.sample("s", dist.HalfNormal(1))
    a = float(s)  # expect
    b = s.item()  # expect
    c = np.asarray(s)  # expect
    d = math.sqrt(s)  # expect
    e = s.tolist()  # expect
""",
    ]

    def check(self, module, settings) -> Iterator[Diagnostic]:
        for function in models(module):
            for call in function.calls:
                kind = None
                if call.method in METHODS and function.traced(call.receiver_deps):
                    kind, deps = f"`.{call.method}()`", call.receiver_deps
                elif call.callee in CONVERSIONS or call.callee.startswith(("numpy.", "math.")):
                    if call.callee.startswith("numpy.random."):
                        continue
                    traced = [a.expr.deps for a in call.args if function.traced(a.expr.deps)]
                    if traced:
                        kind, deps = f"`{call.callee}()`", traced[0]
                if kind is None:
                    continue
                names = traced_site_names(function, deps.sites)
                yield self.diagnostic(call.span, (
                    f"{kind} of {names} needs a concrete value, but sampled values are tracers under "
                    "jit/NUTS/SVI (ConcretizationTypeError). Keep it a JAX array: use `jax.numpy` "
                    "functions instead of `numpy`/`math`, and drop the conversion."
                ))
