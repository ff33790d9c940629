from __future__ import annotations

import re
from typing import Iterator

from numpyro_lint.diagnostic import Diagnostic
from numpyro_lint.ir.model import Distribution, Site
from numpyro_lint.rules.base import Rule, prior_sites


class ImproperPrior(Rule):
    """## What it does
    Flags `ImproperUniform` as the prior of a latent site, unless the same model gives the site a
    density some other way: a `numpyro.factor` that depends on it (the documented way to give it a
    custom density), or an observed site whose data is it (`sample("c_prior", Normal(0, 1), obs=c)`).

    ## Why is this bad?
    `ImproperUniform` has no normalizing constant: unless the likelihood pins the parameter down, the
    posterior is improper and NUTS drifts without converging. Prior predictive checks and
    `Predictive` without posterior samples cannot draw from it (its `sample` raises).

    ## Example
    ```python
    def model(y=None):
        mu = numpyro.sample("mu", dist.ImproperUniform(constraints.real, (), ()))
        numpyro.sample("y", dist.Normal(mu, 1.0), obs=y)
    ```

    ## Use instead
    ```python
    def model(y=None):
        mu = numpyro.sample("mu", dist.Normal(0.0, 10.0))
        numpyro.sample("y", dist.Normal(mu, 1.0), obs=y)
    ```

    The message suggests a proper prior for the `ImproperUniform`'s support: `Normal` for `real`,
    `HalfNormal` or `LogNormal` for `positive`, `Dirichlet` for `simplex`, `LKJCholesky` for
    `corr_cholesky`, and for `ordered_vector` (ordinal cutpoints) a proper prior pushed through
    `OrderedTransform`:
    ```python
    from numpyro.distributions import transforms

    c = numpyro.sample("c", dist.TransformedDistribution(
        dist.Normal(0.0, 10.0).expand([K - 1]).to_event(1), transforms.OrderedTransform()))
    ```

    ## Fix safety
    No fix: the proper prior to use depends on the parameter's support and scale.

    ## Options
    None.
    """

    code = "NPL403"
    summary = "an improper (ImproperUniform) prior on a latent site"
    VALID = [
        """
import numpyro
import numpyro.distributions as dist
from numpyro.distributions import constraints

def model(y=None):
    mu = numpyro.sample("mu", dist.ImproperUniform(constraints.real, (), ()))
    numpyro.factor("mu_prior", -0.5 * mu ** 2)
    numpyro.sample("y", dist.Normal(mu, 1.0), obs=y)
    numpyro.sample("z", dist.ImproperUniform(constraints.real, (), ()), obs=y)
    cut = numpyro.sample("cut", dist.ImproperUniform(constraints.ordered_vector, (), (2,)))
    numpyro.sample("cut_prior", dist.Normal(0.0, 1.0), obs=cut)
""",
    ]
    INVALID = [
        """
import numpyro
from numpyro.distributions import ImproperUniform, Normal, constraints

def model(y=None):
    mu = numpyro.sample("mu", ImproperUniform(constraints.real, (), ()))  # expect
    numpyro.sample("y", Normal(mu, 1.0), obs=y)
""",
    ]

    def check(self, module, settings) -> Iterator[Diagnostic]:
        for function, index, site in prior_sites(module):
            distribution = site.distribution
            assert distribution is not None
            if distribution.name != "ImproperUniform":
                continue
            if any(_gives_density(other, index) for other in function.sites):
                continue
            yield self.diagnostic(distribution.span, (
                f"`{distribution.callee_text}` on `{site.name or site.name_expr.text}` is an improper prior: "
                "it has no normalizing constant, so the posterior can be improper (NUTS drifts and never "
                "converges) and prior or predictive sampling cannot draw from it. "
                f"{_proper_prior(distribution)}; or add its density with `numpyro.factor`."
            ))


def _gives_density(other: Site, index: int) -> bool:
    """Whether `other` adds a density term for site `index`: a factor of it, or an observed site on it."""
    if other.kind == "factor":
        return other.value is not None and index in other.value.deps.sites
    return other.is_observed and other.obs is not None and index in other.obs.deps.sites


#: A proper prior to suggest for each support of `numpyro.distributions.constraints` (`K` the length).
PROPER_PRIORS = {
    "real": "`Normal(0, 10)` (a scale that fits your data)",
    "real_vector": "`Normal(0, 10).expand([K]).to_event(1)`",
    "positive": "`HalfNormal(10)` or `LogNormal(0, 1)`",
    "nonnegative": "`HalfNormal(10)` or `Exponential(0.1)`",
    "unit_interval": "`Beta(1, 1)` (uniform on [0, 1])",
    "interval": "`Uniform(low, high)` with the interval's bounds",
    "greater_than": "a shifted `HalfNormal`: `TransformedDistribution(HalfNormal(10), AffineTransform(low, 1))`",
    "ordered_vector": ("ordered draws of a proper prior: `TransformedDistribution(Normal(0, 10).expand([K])"
                       ".to_event(1), transforms.OrderedTransform())`"),
    "positive_ordered_vector": ("positive ordered draws of a proper prior: `TransformedDistribution("
                                "Normal(0, 1).expand([K]).to_event(1), "
                                "[transforms.OrderedTransform(), transforms.ExpTransform()])`"),
    "simplex": "`Dirichlet(jnp.ones(K))`",
    "corr_cholesky": "`LKJCholesky(K, concentration=1.0)`",
    "corr_matrix": "`LKJ(K, concentration=1.0)`",
    "positive_definite": "`Wishart` or scales times an `LKJ` correlation",
    "lower_cholesky": "scales times an `LKJCholesky` factor",
}
_SUPPORT = re.compile(r"(\w+)\s*(?:\(.*\))?\s*$", re.DOTALL)


def _proper_prior(distribution: Distribution) -> str:
    """What to use instead, for the `ImproperUniform`'s support when it is a known constraint."""
    support = distribution.param("support")
    found = _SUPPORT.search(support.text) if support is not None else None
    if found is not None and found.group(1) in PROPER_PRIORS:
        return f"Give it a proper prior on its support (`{found.group(1)}`): {PROPER_PRIORS[found.group(1)]}"
    return ("Give it a proper prior for its support, e.g. `Normal(0, 10)` for a real value, `HalfNormal` for a "
            "positive one, `Uniform(low, high)` for an interval")
