from __future__ import annotations

from typing import Iterator

from numpyro_lint.diagnostic import Diagnostic
from numpyro_lint.rules.base import Rule, models


class ModelHostRandomness(Rule):
    """## What it does
    Flags `numpy.random` and Python `random` calls inside a model, including methods of a NumPy
    `Generator` (`rng = np.random.default_rng(); rng.normal()`).

    ## Why is this bad?
    Host randomness is drawn once, at trace time, and then frozen into the compiled model as a
    constant: every NUTS step and every posterior sample sees the same "random" number, and seeding
    NumPyro does not reproduce it.

    ## Example
    ```python
    def model():
        noise = np.random.normal()
        numpyro.sample("x", dist.Normal(noise, 1))
    ```

    ## Use instead
    Make the randomness a site, or use `jax.random` with a key from `numpyro.prng_key()`:
    ```python
    def model():
        noise = numpyro.sample("noise", dist.Normal(0, 1))
        numpyro.sample("x", dist.Normal(noise, 1))
    ```

    ## Fix safety
    No fix.

    ## Options
    None.
    """

    code = "NPL103"
    summary = "numpy.random or Python random inside a model"
    VALID = [
        """
import numpyro
import numpyro.distributions as dist
from jax import random as jr
import numpy as np

def model():
    key = numpyro.prng_key()
    eps = jr.normal(key)
    numpyro.sample("x", dist.Normal(eps, 1))

def make_data():
    return np.random.normal(size=10)
""",
    ]
    INVALID = [
        """
import random
import numpy as np
import numpyro
import numpyro.distributions as dist

def model():
    rng = np.random.default_rng(0)  # expect
    a = np.random.normal()  # expect
    b = random.random()  # expect
    c = rng.normal()  # expect
    numpyro.sample("x", dist.Normal(a + b + c, 1))
""",
    ]

    def check(self, module, settings) -> Iterator[Diagnostic]:
        stdlib_random = ("random", "random") in module.imports
        generators = {
            call.bound_to
            for function in module.functions
            for call in function.calls
            if call.bound_to and call.callee.startswith("numpy.random.")
        }
        for function in models(module):
            for call in function.calls:
                if call.callee.startswith("numpy.random."):
                    source = f"`{call.callee}`"
                elif stdlib_random and call.callee.startswith("random."):
                    source = f"Python's `{call.callee}`"
                elif call.receiver in generators and call.method and call.callee == f"{call.receiver}.{call.method}":
                    source = f"the NumPy generator `{call.receiver}`"
                else:
                    continue
                yield self.diagnostic(call.span, (
                    f"{source} in model `{function.name}` draws once at trace time and is then a "
                    "constant in the compiled model. Make it a `numpyro.sample` site, or use "
                    "`jax.random` with `numpyro.prng_key()`."
                ))
