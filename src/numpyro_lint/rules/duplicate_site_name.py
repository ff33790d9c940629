from __future__ import annotations

from typing import Iterator

from numpyro_lint.diagnostic import Diagnostic, RelatedLocation, line_reference
from numpyro_lint.rules.base import Rule, models


class DuplicateSiteName(Rule):
    """## What it does
    Flags two sites (`sample`, `deterministic`, `factor`, `param`) with the same literal name that
    can both run in one execution of a model.

    ## Why is this bad?
    Site names key the trace: NumPyro raises `AssertionError: all sites must have unique names`,
    or, under some handlers, the second site silently replaces the first in the samples.

    ## Example
    ```python
    def model():
        a = numpyro.sample("x", dist.Normal(0, 1))
        b = numpyro.sample("x", dist.Normal(a, 1))
    ```

    ## Use instead
    ```python
    def model():
        a = numpyro.sample("a", dist.Normal(0, 1))
        b = numpyro.sample("b", dist.Normal(a, 1))
    ```

    ## Fix safety
    No fix: which name should change is the author's choice.

    ## Options
    None.
    """

    code = "NPL205"
    summary = "two sites with the same name on one path"
    VALID = [
        """
import numpyro
import numpyro.distributions as dist

def model(flag, y=None):
    if flag:
        x = numpyro.sample("x", dist.Normal(0, 1))
    else:
        x = numpyro.sample("x", dist.Normal(0, 10))
    if y is None:
        return numpyro.sample("obs", dist.Normal(x, 1))
    numpyro.sample("obs", dist.Normal(x, 1), obs=y)
""",
    ]
    INVALID = [
        """
import numpyro
import numpyro.distributions as dist

def model():
    a = numpyro.sample("x", dist.Normal(0, 1))
    b = numpyro.deterministic("x", a * 2)  # expect
""",
    ]

    def check(self, module, settings) -> Iterator[Diagnostic]:
        for function in models(module):
            seen: dict[str, list] = {}
            for site in function.sites:
                if site.name is None:
                    continue
                earlier = [
                    other for other in seen.get(site.name, [])
                    if not other.context.exclusive_with(site.context)
                    and other.context.handlers == site.context.handlers
                ]
                if earlier:
                    first = earlier[0]
                    yield self.diagnostic(site.span, (
                        f"Site name \"{site.name}\" is already used on {line_reference(first.span.line)} of "
                        f"`{function.name}`: NumPyro needs unique site names in one trace. Rename one."
                    ), related=(RelatedLocation(first.span, f"first site named \"{site.name}\""),))
                seen.setdefault(site.name, []).append(site)
