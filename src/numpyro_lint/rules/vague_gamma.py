from __future__ import annotations

from typing import Iterator

from numpyro_lint.diagnostic import Diagnostic
from numpyro_lint.rules.base import Rule, literal_text, prior_sites


class VagueGamma(Rule):
    """## What it does
    Flags `Gamma(ε, ε)` and `InverseGamma(ε, ε)` priors: equal literal concentration and rate below 1,
    such as `Gamma(0.001, 0.001)`, on a latent site.

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
    None. Observed sites and guides are never reported.
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
    numpyro.sample("y", dist.Gamma(0.001, 0.001), obs=y)
""",
    ]
    INVALID = [
        """
import numpyro
import numpyro.distributions as dist
from numpyro.distributions import InverseGamma

EPS = 1e-3

def model():
    tau = numpyro.sample("tau", dist.Gamma(0.001, 0.001))  # expect
    v = numpyro.sample("v", InverseGamma(concentration=EPS, rate=0.001))  # expect
    w = numpyro.sample("w", dist.Gamma(rate=0.01, concentration=0.01).expand([3]))  # expect
""",
    ]

    def check(self, module, settings) -> Iterator[Diagnostic]:
        for _, _, site in prior_sites(module):
            distribution = site.distribution
            assert distribution is not None
            if distribution.name not in ("Gamma", "InverseGamma"):
                continue
            shape, rate = distribution.param("concentration"), distribution.param("rate")
            if shape is None or rate is None or shape.value is None or shape.value != rate.value:
                continue
            if not 0 < shape.value < 1:
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
