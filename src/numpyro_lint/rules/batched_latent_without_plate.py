from __future__ import annotations

import re
from typing import Iterator

from numpyro_lint.diagnostic import Diagnostic, Severity, Span
from numpyro_lint.ir.distributions import LAST_DIM_PARAMS, SCALAR_EVENT
from numpyro_lint.ir.model import Distribution, Expr, FunctionIR
from numpyro_lint.ir.plates import call_at, plates_around
from numpyro_lint.rules.base import Rule, models

#: Array constructors whose first argument (or `shape=`) is the shape they make.
SHAPED_CONSTRUCTORS = frozenset({
    "jax.numpy.zeros", "jax.numpy.ones", "jax.numpy.full", "jax.numpy.empty",
    "numpy.zeros", "numpy.ones", "numpy.full", "numpy.empty",
})
LITERAL_ARRAYS = frozenset({"jax.numpy.array", "jax.numpy.asarray", "numpy.array", "numpy.asarray"})
_UNIT_SHAPE = re.compile(r"[\[(]\s*(?:1\s*,?\s*)*[\])]")


class BatchedLatentWithoutPlate(Rule):
    """## What it does
    Flags a latent `sample` site whose distribution is visibly batched — a parameter built as an
    array of a given shape (`jnp.zeros(K)`, `jnp.ones((K,))`), a literal list of several values, or
    `.expand([K])` — outside every plate and without `.to_event()`.

    Not flagged: scalar parameters; multivariate distributions, whose array parameters describe one
    event (`MultivariateNormal(jnp.zeros(K), ...)`, `Dirichlet(jnp.ones(K))`); sites inside a plate,
    including plates held by every caller of the function.

    Pedantic, except in models that enumerate (`infer={"enumerate": ...}`, `config_enumerate`,
    discrete latents under NUTS, `TraceEnum_ELBO`, `infer_discrete`, `Predictive(infer_discrete=True)`),
    where it is reported by default, as an error.

    ## Why is this bad?
    The site has K values but NumPyro is told neither that they are independent copies (a plate)
    nor that they form one vector-valued variable (`.to_event(1)`). Under plain NUTS and `Trace_ELBO`
    this is harmless: NumPyro's own plate check is loose there and the log-density is the same. Under
    enumeration NumPyro allocates enumeration dimensions to the left of the plates it knows, so an
    undeclared batch dimension can collide with them. NumPyro's check (`numpyro.util._validate_model`)
    then says so in different ways: MCMC with enumerated discrete latent sites raises
    "Missing a plate statement" (`initialize_model` validates with `plate_warning="error"`);
    `TraceEnum_ELBO` and `TraceGraph_ELBO` only warn (`plate_warning="strict"`); `infer_discrete`
    does not check at all, so a collision there shows up as wrong shapes or values. A vector of
    *different* parameters (`jnp.array([4.0, 1.0])`) is
    one vector-valued variable: declare it with `.to_event(1)`, never with a plate.

    ## Example
    ```python
    def model(K):
        theta = numpyro.sample("theta", dist.Normal(jnp.zeros(K), 1.0))
    ```

    ## Use instead
    ```python
    def model(K):
        with numpyro.plate("components", K):
            theta = numpyro.sample("theta", dist.Normal(0.0, 1.0))
    ```
    or, for one vector-valued variable, `dist.Normal(jnp.zeros(K), 1.0).to_event(1)`.

    ## Fix safety
    No fix: plate or `to_event` depends on what the values mean.

    ## Options
    None.
    """

    code = "NPL202"
    summary = "a batched latent site outside every plate"
    tier = "pedantic"
    escalation = "default, as an error, in models that enumerate"
    VALID = [
        """
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

def model(K):
    mu = numpyro.sample("mu", dist.Normal(jnp.array(0.0), 1.0))
    with numpyro.plate("k", K):
        theta = numpyro.sample("theta", dist.Normal(jnp.zeros(K), 1.0))
    beta = numpyro.sample("beta", dist.Normal(jnp.zeros(K), 1.0).to_event(1))
    w = numpyro.sample("w", dist.Dirichlet(jnp.ones(K)))
    L = numpyro.sample("L", dist.MultivariateNormal(jnp.zeros(K), jnp.eye(K)))
    one = numpyro.sample("one", dist.Normal(0.0, 1.0).expand([1]))
""",
    ]
    INVALID = [
        """
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

def model(K):
    theta = numpyro.sample("theta", dist.Normal(jnp.zeros(K), 1.0))  # expect: pedantic
    tau = numpyro.sample("tau", dist.HalfNormal(1.0).expand([K]))  # expect: pedantic
    pair = numpyro.sample("pair", dist.Normal(jnp.array([0.0, 1.0]), 1.0))  # expect: pedantic
""",
        """
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from numpyro.infer import SVI, TraceEnum_ELBO

def mixture(data, K=3):
    locs = numpyro.sample("locs", dist.Normal(jnp.zeros(K), 10.0))  # expect
    with numpyro.plate("data", len(data)):
        z = numpyro.sample("z", dist.Categorical(jnp.ones(K) / K), infer={"enumerate": "parallel"})
        numpyro.sample("obs", dist.Normal(locs[z], 1.0), obs=data)
""",
    ]

    def check(self, module, settings) -> Iterator[Diagnostic]:
        for function in models(module):
            for site in function.sites:
                if not site.is_latent or site.distribution is None or plates_around(function, site):
                    continue
                batched = batched_part(function, site.distribution)
                if batched is None:
                    continue
                span, text = batched
                found = (f"Latent site \"{site.name or site.name_expr.text}\" is batched by `{text}` but sits "
                         "outside any plate and has no `.to_event()`")
                if _different_values(function, site.distribution):
                    remedy = ("These are different parameters of one vector-valued variable: add `.to_event(1)` "
                              "(not a plate, which would declare them independent copies).")
                else:
                    remedy = ("Put it in `with numpyro.plate(...)` for independent copies, or add `.to_event(1)` "
                              "for one vector-valued variable.")
                if function.enumerates:
                    yield self.diagnostic(span, (
                        f"{found}: this model enumerates ({function.enumerates}), and an undeclared batch "
                        "dimension can collide with the enumeration dimensions. NumPyro raises \"Missing a plate "
                        "statement\" for it under MCMC, only warns under `TraceEnum_ELBO`, and `infer_discrete` "
                        f"does not check it at all. {remedy}"), severity=Severity.ERROR, pedantic=False)
                else:
                    yield self.diagnostic(span, (
                        f"{found}. Harmless under NUTS and `Trace_ELBO`. Once the model enumerates, NumPyro "
                        "raises \"Missing a plate statement\" for it when MCMC enumerates discrete latent sites, "
                        "warns under `TraceEnum_ELBO` and `TraceGraph_ELBO`, and `infer_discrete` does not check "
                        f"it. {remedy}"))


def _different_values(function: FunctionIR, distribution: Distribution) -> bool:
    """Whether a parameter is a literal vector of different numbers (`jnp.array([4.0, 1.0])`)."""
    for _, expression in distribution.params:
        text = expression.text
        call = call_at(function, expression.span)
        if call is not None and call.callee in LITERAL_ARRAYS and call.arg(0, "object") is not None:
            text = call.arg(0, "object").text  # type: ignore[union-attr]
        if text.startswith("[") and _several_items(text):
            items = {item.strip() for item in text[1:-1].split(",") if item.strip()}
            if len(items) > 1:
                return True
    return False


def batched_part(function: FunctionIR, distribution: Distribution) -> tuple[Span, str] | None:
    """The expression that makes this distribution batched (span, text), or None."""
    if distribution.name == "Independent" or distribution.has_chain("to_event"):
        return None
    for chain in distribution.chain:
        if chain.method in ("expand", "expand_by") and chain.args:
            shape = chain.args[0].expr
            if shape.text[:1] in "[(" and not _UNIT_SHAPE.fullmatch(shape.text):
                return chain.span, f".{chain.method}({shape.text})"
    if distribution.name not in SCALAR_EVENT or distribution.name in LAST_DIM_PARAMS:
        return None
    for _, expression in distribution.params:
        if visibly_batched(function, expression):
            return expression.span, expression.text
    return None


def visibly_batched(function: FunctionIR, expression: Expr) -> bool:
    if expression.shape != "array":
        return False
    if expression.text.startswith("["):
        return _several_items(expression.text)
    call = call_at(function, expression.span)
    if call is None:
        return False
    if call.callee in SHAPED_CONSTRUCTORS:
        shape = call.arg(0, "shape")
        return shape is not None and not _unit(shape)
    if call.callee in LITERAL_ARRAYS:
        values = call.arg(0, "object")
        return values is not None and values.text.startswith("[") and _several_items(values.text)
    return False


def _unit(shape: Expr) -> bool:
    """`1`, `()`, `[1]`, `(1,)`: shapes with a single element."""
    if shape.value is not None:
        return shape.value <= 1
    return bool(_UNIT_SHAPE.fullmatch(shape.text))


def _several_items(text: str) -> bool:
    """A one-level list literal with at least two items: `[0.0, 1.0]`, not `[x]` or `[[a, b]]`."""
    inner = text[1:-1].strip().rstrip(",")
    return "," in inner and not inner.startswith("[")
