from __future__ import annotations

from typing import Iterator

from numpyro_lint.diagnostic import Diagnostic, RelatedLocation, line_reference
from numpyro_lint.ir.model import Loop, Site
from numpyro_lint.rules.base import Rule, models


#: A loop written to run at most this many times (`range(3)`) makes a fixed, small set of sites.
FEW = 4


class SitesInPythonLoop(Rule):
    """## What it does
    Flags a `numpyro.sample` site inside a Python `for`/`while` loop (or comprehension) whose name
    changes on every iteration (`f"x_{i}"`, `"x" + str(t)`).

    Not flagged: a loop whose variable is the site name itself (`for name in ["mu", "tau"]`,
    `for name, site in trace.items()`), which makes one site per name as an autoguide does, and a
    loop over literal names or a literal range of at most 4 (`range(3)`), which makes a fixed, small
    set of distinct sites.

    ## Why is this bad?
    The loop is unrolled when the model is traced: N iterations make N separate sites, so tracing and
    compilation grow with N (minutes for thousands), the posterior of latent sites comes back as N
    scalar arrays, and vectorized inference is lost.

    ## Example
    ```python
    def model(y):
        for i in range(len(y)):
            numpyro.sample(f"y_{i}", dist.Normal(0, 1), obs=y[i])
    ```

    ## Use instead
    Independent iterations: a plate.
    ```python
    def model(y):
        with numpyro.plate("data", len(y)):
            numpyro.sample("y", dist.Normal(0, 1), obs=y)
    ```
    Iterations that depend on the previous one: `numpyro.contrib.control_flow.scan`.

    ## Fix safety
    No fix.

    ## Options
    None.
    """

    code = "NPL203"
    summary = "sample sites with per-iteration names in a Python loop"
    VALID = [
        """
import numpyro
import numpyro.distributions as dist

def model():
    for name in ["mu", "tau"]:
        numpyro.sample(name, dist.Normal(0, 1))
    for name, scale in [("a", 1.0), ("b", 2.0)]:
        numpyro.sample(name, dist.Normal(0, scale))
""",
    ]
    INVALID = [
        """
import numpyro
import numpyro.distributions as dist

def model(y, T):
    for i in range(len(y)):
        numpyro.sample(f"y_{i}", dist.Normal(0, 1), obs=y[i])  # expect
    xs = [numpyro.sample(f"x{k}", dist.Normal(0, 1)) for k in range(10)]  # expect
    t = 0
    while t < T:
        numpyro.sample("z_" + str(t), dist.Normal(0, 1))  # expect
        t += 1
""",
    ]

    def check(self, module, settings) -> Iterator[Diagnostic]:
        for function in models(module):
            for site in function.sites:
                if site.kind != "sample":
                    continue
                loop = _renaming_loop(site)
                if loop is None:
                    continue
                what = {"for": "`for` loop", "while": "`while` loop", "comprehension": "comprehension"}[loop.kind]
                # An observed site has no posterior: only the cost of unrolling applies to it.
                scalars = "" if site.is_observed else " and the posterior comes back as separate scalars"
                yield self.diagnostic(site.span, (
                    f"Site name `{site.name_expr.text}` changes on every iteration of the {what} on "
                    f"{line_reference(loop.span.line)}: the loop unrolls into one site per iteration, so "
                    f"tracing and compilation grow with its length{scalars}. "
                    "Vectorize with `numpyro.plate`, or use `numpyro.contrib.control_flow.scan` when each "
                    "step depends on the previous one."
                ), related=(RelatedLocation(loop.span, f"the {what}"),))


def _renaming_loop(site: Site) -> Loop | None:
    """The innermost loop whose every iteration gives this site a new name, unless it visits literal names."""
    if site.name is not None or not site.name_refs or site.name_expr.name is not None:
        return None  # a literal name, or `for name in names: sample(name, ...)`: one site per name
    for loop in reversed(site.context.loops):
        if site.name_refs & loop.target_names:
            if loop.literal_items is None and not (loop.trip_count is not None and loop.trip_count <= FEW):
                return loop
        elif loop.kind == "while" and site.name_expr.name is None:
            return loop
    return None
