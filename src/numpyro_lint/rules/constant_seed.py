from __future__ import annotations

import re
from pathlib import PurePath
from typing import Iterator

from numpyro_lint.diagnostic import Diagnostic, RelatedLocation, Span
from numpyro_lint.ir.model import FunctionIR
from numpyro_lint.rules.base import Rule

#: Functions that run once, like module level: a fixed seed there is a choice, not an accident.
_RUN_ONCE = frozenset({"main"})


class ConstantSeedInRepeatedScope(Rule):
    """## What it does
    Flags `random.PRNGKey(<literal>)` or `random.key(<literal>)` fed straight to a sampler (a
    `jax.random` draw or `Distribution.sample`) inside a function, method, lambda, loop or
    comprehension.

    Not flagged: module level and `if __name__ == "__main__":` (outside loops), a function named
    `main`, functions named `test_*` and anything in a test file (`test_*.py`, `*_test.py`,
    `conftest.py`), and keys given to inference entry points (`mcmc.run(random.PRNGKey(0), ...)`),
    where a fixed seed is how a script stays reproducible. Nor a draw whose only use is the initial
    value of a `numpyro.param` (`param("loc", random.normal(random.PRNGKey(0), (3,)))`): it runs once,
    when the parameter is created, so the same value every time is what the author asked for.

    ## Why is this bad?
    A literal seed makes the same key every time the code runs, so the "random" draw is the same on
    every call, every loop iteration, or every leaf that `jax.tree.map` visits: noise that is
    supposed to be independent is identical.

    ## Example
    ```python
    params = jax.tree.map(lambda p: p + 0.01 * random.normal(random.PRNGKey(0), p.shape), params)
    ```

    ## Use instead
    Take a key from the caller and split it per use:
    ```python
    leaves, tree = jax.tree.flatten(params)
    keys = random.split(key, len(leaves))
    params = jax.tree.unflatten(tree, [p + 0.01 * random.normal(k, p.shape) for p, k in zip(leaves, keys)])
    ```
    Inside a model, use `numpyro.prng_key()`.

    ## Fix safety
    No fix: where the key should come from is the author's choice.

    ## Options
    None.
    """

    code = "NPL302"
    summary = "a literal PRNG seed fed to a sampler in code that runs repeatedly"
    VALID = [
        """
import jax
from jax import random
import numpyro
from numpyro.distributions import constraints
from numpyro.infer import MCMC, NUTS

X = random.normal(random.PRNGKey(0), (100, 3))

def fit(model, x):
    mcmc = MCMC(NUTS(model), num_warmup=100, num_samples=100)
    mcmc.run(random.PRNGKey(0), x)
    return mcmc

def test_shapes():
    assert random.normal(random.PRNGKey(1), (3,)).shape == (3,)

if __name__ == "__main__":
    y = random.normal(random.PRNGKey(2), (100,))

def guide():
    loc = numpyro.param("loc", init_value=random.normal(random.PRNGKey(3), (3,)))
    init = random.uniform(random.PRNGKey(4), (3,))
    scale = numpyro.param("scale", init, constraint=constraints.positive)
""",
    ]
    INVALID = [
        """
import jax
from jax import random

def jitter(params):
    return jax.tree.map(lambda p: p + 0.01 * random.normal(random.PRNGKey(0), p.shape), params)  # expect

def noise(shape):
    key = random.PRNGKey(42)  # expect
    return random.uniform(key, shape)

draws = [random.normal(random.PRNGKey(7)) for _ in range(3)]  # expect
""",
    ]

    def check(self, module, settings) -> Iterator[Diagnostic]:
        if _is_test_file(module.path):
            return
        for function in module.functions:
            repeated = _repeated_scope(function)
            seen = set()
            for event in function.key_events:
                use = event.use
                seed = use.constant_seed
                if (event.kind != "consume" or seed is None or use.consumer_kind != "sampler" or seed in seen
                        or not (repeated or use.seed_in_loop) or _is_test(function)
                        or _initializes_param(function, use.call_span)):
                    continue
                seen.add(seed)
                seed_text = _seed_text(function, seed)
                if use.seed_in_loop:
                    where, when = "inside a loop", "on every iteration"
                elif function.kind == "lambda":
                    where, when = "inside a lambda", "every time the lambda runs"
                else:
                    where, when = f"inside `{function.name}`", f"every time `{function.name}` runs"
                related = ()
                if use.span != seed:
                    related = (RelatedLocation(use.span, f"consumed by `{use.consumer}`"),)
                yield self.diagnostic(seed, (
                    f"`{seed_text}` {where} makes the same key {when}, so `{use.consumer}` returns the "
                    "same numbers each time. Take a key from the caller and split it per use, or inside "
                    "a model use `numpyro.prng_key()`."
                ), related=related)


def _repeated_scope(function: FunctionIR) -> bool:
    return function.kind in ("function", "method", "lambda") and function.name not in _RUN_ONCE


def _is_test(function: FunctionIR) -> bool:
    """`test_*` functions, and lambdas or helpers defined inside one."""
    return any(part.startswith("test_") for part in f"{function.parent}.{function.qualname}".split("."))


def _is_test_file(path: str | None) -> bool:
    name = PurePath(path).name if path else ""
    return name == "conftest.py" or (name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py")))


def _initializes_param(function: FunctionIR, draw: Span) -> bool:
    """Whether the draw at `draw` is (part of) a `numpyro.param` initial value, written inline or bound to
    a name first (`init = random.normal(...)`, then `param("w", init)`)."""
    bound = next((call.bound_to for call in function.calls if call.span == draw), None)
    for site in function.sites:
        value = site.value
        if site.kind != "param" or value is None:
            continue
        inside = (value.span.line, value.span.col) <= (draw.line, draw.col) and (
            draw.end_line, draw.end_col) <= (value.span.end_line, value.span.end_col)
        if inside or (bound is not None and re.search(rf"\b{bound}\b", value.text)):
            return True
    return False


def _seed_text(function: FunctionIR, seed: Span) -> str:
    """`PRNGKey(0)` for the call at `seed`."""
    for call in function.calls:
        if call.span == seed and call.args:
            return f"{call.callee.rsplit('.', 1)[-1]}({call.args[0].expr.text})"
    return "PRNGKey(...)"
