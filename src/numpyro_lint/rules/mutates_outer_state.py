from __future__ import annotations

from typing import Iterator

from numpyro_lint.diagnostic import Diagnostic
from numpyro_lint.rules.base import Rule, models

MUTATING_METHODS = frozenset({
    "append", "extend", "insert", "update", "pop", "popitem", "remove", "clear", "add", "discard",
    "setdefault", "appendleft", "extendleft", "popleft",
})


class ModelMutatesOuterState(Rule):
    """## What it does
    Flags a model that changes state it did not create: `append`/`extend`/`update`/`pop` (and similar)
    on an argument or outer object, item or attribute assignment on one, and writes to `global` or
    `nonlocal` names.

    ## Why is this bad?
    A NumPyro model body runs once per trace, not once per sample: under `jit`, NUTS and SVI the side
    effect happens a handful of times at trace time, stores tracers that leak out of the transformation,
    and never sees the sampled values. Lists that "collect the samples" stay almost empty or hold tracers.

    ## Example
    ```python
    trace = []

    def model(y):
        mu = numpyro.sample("mu", dist.Normal(0, 1))
        trace.append(mu)
        numpyro.sample("y", dist.Normal(mu, 1), obs=y)
    ```

    ## Use instead
    Record the value as a site and read it from the samples:
    ```python
    def model(y):
        mu = numpyro.sample("mu", dist.Normal(0, 1))
        numpyro.deterministic("mu_copy", mu)
        numpyro.sample("y", dist.Normal(mu, 1), obs=y)
    ```

    ## Fix safety
    No automatic fix: what the side effect was for is the author's call.

    ## Options
    None.
    """

    code = "NPL101"
    summary = "a model mutates state it did not create"
    VALID = [
        """
import numpyro
import numpyro.distributions as dist

def model(y):
    values = []
    mu = numpyro.sample("mu", dist.Normal(0, 1))
    values.append(mu)
    cache = {}
    cache["mu"] = mu
    numpyro.sample("y", dist.Normal(mu, 1), obs=y)
""",
        """
trace = []

def not_a_model(x):
    trace.append(x)
    global counter
    counter = 1
""",
    ]
    INVALID = [
        """
import numpyro as npr
from numpyro import distributions as D

trace = []
counter = 0

def model(y, log):
    global counter
    mu = npr.sample("mu", D.Normal(0, 1))
    trace.append(mu)  # expect
    log["mu"] = mu  # expect
    counter += 1  # expect
    npr.sample("y", D.Normal(mu, 1), obs=y)
""",
        """
import numpyro
import numpyro.distributions as dist

class Model:
    def model(self, y):
        mu = numpyro.sample("mu", dist.Normal(0, 1))
        self.history.append(mu)  # expect
        self.last = mu  # expect
""",
    ]

    def check(self, module, settings) -> Iterator[Diagnostic]:
        imported = {local for local, _ in module.imports}
        for function in models(module):
            for mutation in function.mutations:
                if mutation.created_locally and mutation.kind not in ("global", "nonlocal"):
                    continue
                if mutation.kind in ("global", "nonlocal"):
                    what = f"writes the {mutation.kind} name `{mutation.target}`"
                else:
                    what = f"changes `{mutation.target}`, which the model did not create"
                yield self.diagnostic(mutation.span, self._message(function.name, what))
            for call in function.calls:
                if (
                    call.method in MUTATING_METHODS
                    and call.receiver is not None
                    and call.receiver not in function.created_names
                    and call.receiver not in imported
                ):
                    what = f"calls `.{call.method}()` on `{call.receiver}`, which the model did not create"
                    yield self.diagnostic(call.span, self._message(function.name, what))

    @staticmethod
    def _message(model: str, what: str) -> str:
        return (
            f"Model `{model}` {what}: the body runs once at trace time, not once per sample, so this "
            "side effect happens a few times and may store tracers. Record values with "
            "`numpyro.deterministic` instead."
        )
