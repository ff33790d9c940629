from __future__ import annotations

from typing import Iterator

from numpyro_lint.diagnostic import Diagnostic
from numpyro_lint.rules.base import Rule, models, traced_site_names

_WHAT = {
    "if": "`if`", "while": "`while`", "assert": "`assert`", "ifexp": "conditional expression",
    "boolop": "`and`/`or`", "comprehension-if": "comprehension `if`",
}


class PythonBranchOnTraced(Rule):
    """## What it does
    Flags Python control flow (`if`, `while`, `assert`, `x if c else y`, `and`/`or`) whose test
    depends on a sampled value.

    ## Why is this bad?
    Under `jit`, NUTS and SVI, sampled values are tracers with no concrete value: the test raises
    `TracerBoolConversionError` (or `ConcretizationTypeError`). Where it does run (an un-jitted
    `Predictive`) it silently picks one branch for the whole trace.

    ## Example
    ```python
    def model():
        x = numpyro.sample("x", dist.Normal(0, 1))
        if x > 0:
            numpyro.factor("pos", 1.0)
    ```

    ## Use instead
    ```python
    def model():
        x = numpyro.sample("x", dist.Normal(0, 1))
        numpyro.factor("pos", jnp.where(x > 0, 1.0, 0.0))
    ```

    ## Fix safety
    No fix: `jnp.where` evaluates both sides and `lax.cond` needs both branches to return the
    same structure; the rewrite needs a person.

    ## Options
    None.
    """

    code = "NPL104"
    summary = "Python branch on a sampled (traced) value"
    VALID = [
        """
import jax.numpy as jnp
from jax import lax
import numpyro
import numpyro.distributions as dist

def model(y=None, X=None):
    x = numpyro.sample("x", dist.Normal(0, 1))
    if y is None:
        pass
    if X is not None and X.shape[0] > 3:
        pass
    if len(X) > 2 or x.ndim == 1:
        pass
    z = jnp.where(x > 0, x, 0.0)
    w = lax.cond(x > 0, lambda v: v, lambda v: -v, x)
    if y is not None and y.mean() > 0:
        pass
    numpyro.sample("y", dist.Normal(z + w, 1), obs=y)
""",
    ]
    INVALID = [
        """
import numpyro
import numpyro.distributions as dist
import jax.numpy as jnp

def model(y=None):
    x = numpyro.sample("x", dist.Normal(0, 1))
    s = jnp.exp(x)
    if s > 1:  # expect
        pass
    while x < 0:  # expect
        break
    assert x > -10  # expect
    z = x if x > 0 else -x  # expect
    ok = x and 1  # expect
    numpyro.sample("y", dist.Normal(z, 1), obs=y)
""",
    ]

    def check(self, module, settings) -> Iterator[Diagnostic]:
        for function in models(module):
            for branch in function.branches:
                if not function.traced(branch.test.deps):
                    continue
                names = traced_site_names(function, branch.test.deps.sites)
                yield self.diagnostic(branch.test.span, (
                    f"Python {_WHAT[branch.kind]} on `{_short(branch.test.text)}`, which depends on {names}: "
                    "sampled values are tracers under jit/NUTS/SVI, so this raises a "
                    "TracerBoolConversionError or silently fixes one branch. Use `jnp.where`, "
                    "`jax.lax.cond` or `numpyro.contrib.control_flow.cond`."
                ))


def _short(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
