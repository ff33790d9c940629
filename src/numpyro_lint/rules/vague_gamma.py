from __future__ import annotations

from typing import Iterator

from numpyro_lint.diagnostic import Diagnostic
from numpyro_lint.ir.model import FunctionIR
from numpyro_lint.rules.base import Rule, literal_text, prior_sites

#: `Gamma(ε, ε)` with ε at most this is the BUGS-era "vague" prior wherever it is used.
VAGUE_EPSILON = 0.1
#: Parameters through which a precision or variance enters a distribution.
SCALE_PARAMETERS = frozenset({
    "scale", "precision", "variance", "covariance_matrix", "precision_matrix", "scale_tril", "noise",
})


class VagueGamma(Rule):
    """## What it does
    Flags `Gamma(ε, ε)` and `InverseGamma(ε, ε)` priors on a latent site: equal literal concentration
    and rate with ε at most `VAGUE_EPSILON` (0.1), such as `Gamma(0.001, 0.001)`; or with ε below 1
    when the site is used as a precision or variance, that is when its value flows into the scale of
    another distribution (`Normal(0, 1 / jnp.sqrt(tau))`, `Normal(0, jnp.sqrt(var))`).

    Not flagged: `Gamma(0.3, 0.3)` used otherwise, e.g. as a sparsity prior on the rates of a Poisson
    factorization, where a shape below 1 is a deliberate choice and ε is not "vague".

    ## Why is this bad?
    The BUGS-era "vague" precision prior is not uninformative. When the group-level variance is
    small, inferences depend strongly on ε, and the density piles up near zero and at huge values
    (Gelman 2006, "Prior distributions for variance parameters in hierarchical models"). It also
    makes NUTS take long trajectories through the spike near zero.

    ## Example
    ```python
    def model(y=None):
        tau = numpyro.sample("tau", dist.Gamma(0.001, 0.001))
        numpyro.sample("y", dist.Normal(0.0, 1.0 / jnp.sqrt(tau)), obs=y)
    ```

    ## Use instead
    A prior on the standard deviation, on the scale of the data:
    ```python
    def model(y=None):
        sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
        numpyro.sample("y", dist.Normal(0.0, sigma), obs=y)
    ```

    ## Fix safety
    Any fix changes the model, so it is unsafe (`gamma-replacement`, default `Gamma(2, 0.1)`).

    ## Options
    None. The ε bound is the constant `VAGUE_EPSILON` (0.1). Observed sites and guides are never
    reported.
    """

    code = "NPL402"
    fix_safety = "unsafe"
    summary = "a vague Gamma(ε, ε) or InverseGamma(ε, ε) prior"
    VALID = [
        """
import numpyro
import numpyro.distributions as dist

def model(a, y=None):
    t1 = numpyro.sample("t1", dist.Gamma(2.0, 0.1))
    t2 = numpyro.sample("t2", dist.Gamma(0.001, 0.01))
    t3 = numpyro.sample("t3", dist.Gamma(a, a))
    t4 = numpyro.sample("t4", dist.InverseGamma(1.0, 1.0))
    rate = numpyro.sample("rate", dist.Gamma(0.3, 0.3))
    numpyro.sample("counts", dist.Poisson(rate), obs=y)
    numpyro.sample("y", dist.Gamma(0.001, 0.001), obs=y)
""",
    ]
    INVALID = [
        """
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from numpyro.distributions import InverseGamma

EPS = 1e-3

def model(y=None):
    tau = numpyro.sample("tau", dist.Gamma(0.001, 0.001))  # expect
    v = numpyro.sample("v", InverseGamma(concentration=EPS, rate=0.001))  # expect
    w = numpyro.sample("w", dist.Gamma(rate=0.01, concentration=0.01).expand([3]))  # expect
    precision = numpyro.sample("precision", dist.Gamma(0.5, 0.5))  # expect
    numpyro.sample("y", dist.Normal(0.0, 1.0 / jnp.sqrt(precision)), obs=y)
""",
    ]

    def check(self, module, settings) -> Iterator[Diagnostic]:
        for function, index, site in prior_sites(module):
            distribution = site.distribution
            assert distribution is not None
            if distribution.name not in ("Gamma", "InverseGamma"):
                continue
            shape, rate = distribution.param("concentration"), distribution.param("rate")
            if shape is None or rate is None or shape.value is None or shape.value != rate.value:
                continue
            epsilon = shape.value
            if not (0 < epsilon <= VAGUE_EPSILON or (0 < epsilon < 1 and _sets_a_scale(function, index))):
                continue
            a, b = settings.gamma_replacement
            yield self.diagnostic(distribution.span, (
                f"`{distribution.callee_text}({literal_text(shape)}, {literal_text(rate)})` on "
                f"`{site.name or site.name_expr.text}` is the \"vague\" Gamma(ε, ε) prior, and it is not "
                "uninformative: inferences depend strongly on ε when the variance is small, and its mass "
                "piles up near zero and at huge values (Gelman 2006). Put a prior on the standard deviation "
                "instead (`HalfNormal`, `HalfStudentT` or `HalfCauchy` with a scale that fits the data), "
                f"or use a weakly informative `Gamma({a:g}, {b:g})`."
            ))


def _sets_a_scale(function: FunctionIR, index: int) -> bool:
    """Whether site `index` is used as a precision or variance: its value flows into the scale of another
    distribution in the same function."""
    for site in function.sites:
        if site.distribution is None:
            continue
        for name, expr in site.distribution.params:
            if name in SCALE_PARAMETERS and index in expr.deps.sites:
                return True
    return False
