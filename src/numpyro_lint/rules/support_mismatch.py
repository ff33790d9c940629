from __future__ import annotations

from typing import Iterator

from numpyro_lint.diagnostic import Diagnostic, RelatedLocation
from numpyro_lint.ir.distributions import POSITIVE_PARAMS, REAL_SUPPORT
from numpyro_lint.ir.model import Distribution, Expr, FunctionIR
from numpyro_lint.rules.base import Rule, prior_sites

#: The positive-support counterpart of each real-line family.
POSITIVE_COUNTERPART = {
    "Normal": "HalfNormal", "Cauchy": "HalfCauchy", "StudentT": "HalfStudentT", "Laplace": "Exponential",
    "Logistic": "HalfNormal", "Gumbel": "HalfNormal", "SkewNormal": "HalfNormal",
    "AsymmetricLaplace": "Exponential",
}


class SupportMismatch(Rule):
    """## What it does
    Flags a latent site with a real-line prior (Normal, StudentT, Cauchy, Laplace, Logistic, Gumbel,
    SkewNormal, AsymmetricLaplace) whose value is passed, as is, indexed or shifted/scaled by a
    literal, as a positive-only argument (scale, rate, concentration, df) of another distribution.

    ## Why is this bad?
    Half of the prior's draws are negative: there the other distribution's density is NaN (or it
    raises with `validate_args`), so initialization fails ("Cannot find valid initial parameters")
    or NUTS diverges at the boundary. It is a common slip when porting Stan, where
    `real<lower=0> sigma;` truncates the prior implicitly and NumPyro does not.

    ## Example
    ```python
    def model(y=None):
        sigma = numpyro.sample("sigma", dist.Cauchy(0.0, 5.0))
        numpyro.sample("y", dist.Normal(0.0, sigma), obs=y)
    ```

    ## Use instead
    ```python
    def model(y=None):
        sigma = numpyro.sample("sigma", dist.HalfCauchy(5.0))
        numpyro.sample("y", dist.Normal(0.0, sigma), obs=y)
    ```

    ## Fix safety
    Unsafe: the prior is truncated at zero in its family where NumPyro has one (`Normal(0, s)` ->
    `HalfNormal(s)`, `Cauchy(0, s)` -> `HalfCauchy(s)`, `TruncatedNormal(loc, s, low=0.0)`, ...).
    That is what a positive constraint means, but the prior changes; a LogNormal or Gamma may fit
    better, which is the author's choice.

    ## Options
    None. Values passed through `jnp.exp`, `softplus` or any other function are not reported.
    """

    code = "NPL404"
    fix_safety = "unsafe"
    summary = "a real-line prior used where a positive value is required"
    VALID = [
        """
import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

def model(group, y=None):
    log_sigma = numpyro.sample("log_sigma", dist.Normal(0.0, 1.0))
    z = numpyro.sample("z", dist.Normal(0.0, 1.0))
    tau = numpyro.sample("tau", dist.HalfNormal(1.0))
    a = numpyro.sample("a", dist.Normal(0.0, jnp.exp(log_sigma)))
    b = numpyro.sample("b", dist.Normal(z, jax.nn.softplus(z)))
    s = jnp.exp(z)
    numpyro.sample("y", dist.Normal(a + b, s + tau), obs=y)
""",
    ]
    INVALID = [
        """
import numpyro
import numpyro.distributions as dist

def model(group, y=None):
    sigma = numpyro.sample("sigma", dist.Cauchy(0.0, 5.0))  # expect
    nu = numpyro.sample("nu", dist.Normal(10.0, 3.0))  # expect
    with numpyro.plate("groups", 3):
        s = numpyro.sample("s", dist.StudentT(3.0, 0.0, 1.0))  # expect
    scale = s[group]
    numpyro.sample("y", dist.StudentT(nu, sigma * 2, scale), obs=y)
    numpyro.sample("w", dist.Normal(0.0, sigma), obs=y)
""",
    ]

    def check(self, module, settings) -> Iterator[Diagnostic]:
        for function, index, site in prior_sites(module):
            distribution = site.distribution
            assert distribution is not None
            if distribution.name not in REAL_SUPPORT:
                continue
            uses = list(_positive_uses(function, index))
            if not uses:
                continue
            name = site.name or site.name_expr.text
            param, consumer, _ = uses[0]
            if param == "df":
                suggestion = "`Gamma(2, 0.1)` (a common prior for degrees of freedom)"
            else:
                suggestion = _suggestion(distribution, POSITIVE_COUNTERPART.get(distribution.name, "HalfNormal"))
            yield self.diagnostic(distribution.span, (
                f"`{name}` has a `{distribution.name}` prior, whose support is the whole real line, but it is "
                f"used as the `{param}` of `{consumer.callee_text}`, which must be positive: negative draws "
                "give a NaN density, failed initialization or divergences. Give it a positive-support prior "
                f"such as {suggestion} (or `LogNormal`/`Gamma`), or pass `jnp.exp({site.bound_to or name})`."
            ), related=tuple(
                RelatedLocation(expr.span, f"used as `{param}` of `{consumer.callee_text}`")
                for param, consumer, expr in uses
            ))


def _positive_uses(function: FunctionIR, index: int) -> Iterator[tuple[str, Distribution, Expr]]:
    for site in function.sites:
        if site.distribution is None or site.distribution.name is None:
            continue
        positive = POSITIVE_PARAMS.get(site.distribution.name, frozenset())
        for param, expr in site.distribution.params:
            if param in positive and expr.site_value == index:
                yield param, site.distribution, expr


def _suggestion(distribution: Distribution, counterpart: str) -> str:
    """`HalfCauchy(5.0)` for `Cauchy(0.0, 5.0)`: the half-family keeps the scale when the location is 0."""
    loc, scale = distribution.param("loc"), distribution.param("scale")
    if distribution.name in ("Normal", "Cauchy") and scale is not None and (loc is None or loc.value == 0):
        return f"`{counterpart}({scale.text})`"
    return f"`{counterpart}`"
