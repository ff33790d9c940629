from __future__ import annotations

import re
from typing import Iterator

from numpyro_lint.diagnostic import Diagnostic, RelatedLocation
from numpyro_lint.ir.distributions import DISCRETE, LOC_SCALE
from numpyro_lint.ir.model import Distribution, FunctionIR, ModuleIR, Site
from numpyro_lint.ir.models import SAMPLERS
from numpyro_lint.rules.base import Rule, prior_sites, site_names
from numpyro_lint.rules.batched_latent_without_plate import visibly_batched

BATCHING_METHODS = ("expand", "expand_by", "to_event")


class CenteredHierarchy(Rule):
    """## What it does
    Flags a latent site with a loc-scale prior (Normal, StudentT, Cauchy, Laplace, Logistic, Gumbel)
    inside a plate (or visibly batched) whose scale depends on another continuous latent site,
    through any data flow (`tau`, `jnp.exp(log_tau)`, `sigma[group]`, `tau * 2`), unless a
    reparameterization is in force for it: a `reparam` config naming it (decorator, `with` block,
    `reparam(model, config=...)` wrapper, or a callee of one), or any callable config.

    ## Why is this bad?
    This is the centered parameterization of a hierarchy. When the group scale is small the group
    effects are pinned together, and when it is large they spread out: the posterior is a funnel
    whose neck NUTS cannot enter with one step size. The result is divergences and a biased scale,
    as in the classic eight-schools model (tens of divergences centered, none non-centered).

    ## Example
    ```python
    def model(J, sigma, y=None):
        mu = numpyro.sample("mu", dist.Normal(0, 5))
        tau = numpyro.sample("tau", dist.HalfCauchy(5))
        with numpyro.plate("J", J):
            theta = numpyro.sample("theta", dist.Normal(mu, tau))
            numpyro.sample("obs", dist.Normal(theta, sigma), obs=y)
    ```

    ## Use instead
    Non-center it with `LocScaleReparam(0)`, or sample a standard normal and shift/scale it:
    ```python
    @reparam(config={"theta": LocScaleReparam(centered=0)})
    def model(J, sigma, y=None):
        ...  # unchanged

    def model(J, sigma, y=None):
        mu = numpyro.sample("mu", dist.Normal(0, 5))
        tau = numpyro.sample("tau", dist.HalfCauchy(5))
        with numpyro.plate("J", J):
            theta_raw = numpyro.sample("theta_raw", dist.Normal(0, 1))
            theta = numpyro.deterministic("theta", mu + tau * theta_raw)
            numpyro.sample("obs", dist.Normal(theta, sigma), obs=y)
    ```
    With much data per group the centered form is fine, often better (the likelihood, not the group
    scale, then shapes each group value, and the non-centered form gets the funnel instead); the message
    says so, and `# noqa: NPL501` keeps it.
    When the file fits the model only with SVI or SteinVI the finding is pedantic: the message then
    speaks of the guide's fit, not of NUTS.

    ## Fix safety
    Safe: the site is wrapped in `numpyro.handlers.reparam(config={"theta": LocScaleReparam(0)})`
    (merged into the model's reparam config or the site's `with` when there is one). The model's
    prior is unchanged and `samples["theta"]` still holds theta; the sampler sees an extra
    `theta_decentered` site. A second, unsafe fix samples `theta_raw ~ Normal(0, 1)` and makes
    `theta` a `numpyro.deterministic` of `loc + scale * theta_raw`: same prior, but the latent
    variables the sampler and `get_samples()` know change.

    ## Options
    None.
    """

    code = "NPL501"
    escalation = ("pedantic when the file fits the model only with variational inference (SVI, SteinVI), "
                  "where the funnel costs accuracy rather than divergences")
    fix_safety = "safe (LocScaleReparam); unsafe (explicit non-centering)"
    summary = "a centered hierarchical prior (scale depends on another latent site)"
    VALID = [
        """
import numpyro
import numpyro.distributions as dist
from numpyro.handlers import reparam
from numpyro.infer.reparam import LocScaleReparam

@reparam(config={"theta": LocScaleReparam(0)})
def model(J, sigma, y=None):
    mu = numpyro.sample("mu", dist.Normal(0, 5))
    tau = numpyro.sample("tau", dist.HalfCauchy(5))
    with numpyro.plate("J", J):
        theta = numpyro.sample("theta", dist.Normal(mu, tau))
        eta = numpyro.sample("eta", dist.Normal(0, 1))
        numpyro.sample("obs", dist.Normal(theta + tau * eta, sigma), obs=y)
""",
    ]
    INVALID = [
        """
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

def model(group, n_groups, y=None):
    log_tau = numpyro.sample("log_tau", dist.Normal(0, 1))
    nu = numpyro.sample("nu", dist.Gamma(2, 0.1))
    with numpyro.plate("groups", n_groups):
        a = numpyro.sample("a", dist.Normal(0, jnp.exp(log_tau)))  # expect
        b = numpyro.sample("b", dist.StudentT(nu, 0, scale=jnp.exp(log_tau) * 2))  # expect
    numpyro.sample("y", dist.Normal(a[group] + b[group], jnp.exp(log_tau)), obs=y)
""",
    ]

    def check(self, module, settings) -> Iterator[Diagnostic]:
        for function, index, site in prior_sites(module):
            distribution = site.distribution
            assert distribution is not None
            if distribution.name not in LOC_SCALE or not _batched(function, site):
                continue
            scale = distribution.param("scale")
            if scale is None:
                continue
            parents = frozenset(
                i for i in scale.deps.sites if i != index and _continuous_latent(function.sites[i])
            )
            if (not parents or _reparameterized(function, site) or _conditioned(module, function, site)
                    or _masked_out(distribution)):
                continue
            name = site.name or site.name_expr.text
            plates = function.inherited_plates + site.plates
            where = f"in plate `{plates[-1].name}`" if plates and plates[-1].name else (
                "in a plate" if plates else "batched")
            variational_only = bool(function.run_by) and not function.run_by & SAMPLERS
            if variational_only:
                fitters = "/".join(sorted(function.run_by))
                consequence = (f"a funnel-shaped posterior, which {fitters} approximates poorly (a mean-field "
                               "guide shrinks the scale and understates the spread of the group values)")
            else:
                consequence = "a funnel NUTS cannot explore (divergences, biased scale)"
            yield self.diagnostic(site.span, (
                f"`{name}` is a centered hierarchical prior: `{distribution.callee_text}` {where} with a scale "
                f"(`{scale.text}`) that depends on the latent {site_names(function, parents)}. When that scale "
                f"is small the group values are pinned together: {consequence}. Non-center it with "
                "LocScaleReparam(0), or sample a standard normal and shift/scale it: "
                f"`@reparam(config={{\"{site.name or '<name>'}\": LocScaleReparam(0)}})`. When each group has "
                "much data the centered form is fine, often better (the data pins each group value down); "
                "keep it then, with `# noqa: NPL501`."
            ), related=tuple(
                RelatedLocation(function.sites[i].span, f"the scale of `{name}` depends on this latent site")
                for i in sorted(parents)
            ), pedantic=variational_only)


def _batched(function: FunctionIR, site: Site, depth: int = 2) -> bool:
    """In a plate, batched by `.expand`/`.to_event`, by an argument built as an array of a given shape
    (`Normal(jnp.zeros(n), tau)`), or by the value of such a site (`Normal(0, tau * lambdas)`). Not from
    the IR's guess of argument shapes: a sampled scalar looks like an array to it, and a loop of scalar
    sites (a time series) is no hierarchy."""
    distribution = site.distribution
    assert distribution is not None
    if site.plates or function.inherited_plates or any(
            distribution.has_chain(method) for method in BATCHING_METHODS):
        return True
    for _, expr in distribution.params:
        if visibly_batched(function, expr):
            return True
        if depth and any(function.sites[i].is_latent and function.sites[i].distribution is not None
                         and _batched(function, function.sites[i], depth - 1) for i in expr.deps.sites):
            return True
    return False


def _continuous_latent(site: Site) -> bool:
    return site.is_latent and (site.distribution is None or site.distribution.name not in DISCRETE)


def _conditioned(module: ModuleIR, function: FunctionIR, site: Site) -> bool:
    """Observed: inside `with handlers.condition(data={...})` naming it (or data that is no literal dict), or
    through a `handlers.condition(model, data={...})` wrapper, the only way the file fits the model."""
    if "*" in function.conditioned or site.name in function.conditioned:
        return True
    for callee, span in site.context.handlers:
        if callee == "numpyro.handlers.condition":
            source = module.source
            text = source.text[source.offset(span.line, span.col):source.offset(span.end_line, span.end_col)]
            if "{" not in text or re.search(rf"""["']{re.escape(site.name or "")}["']\s*:""", text):
                return True
    return False


def _masked_out(distribution: Distribution) -> bool:
    """`.mask(False)`: the site adds no density (an imputation placeholder), so it has no funnel."""
    return any(call.method == "mask" and call.args and call.args[0].expr.text == "False"
               for call in distribution.chain)


def _reparameterized(function: FunctionIR, site: Site) -> bool:
    configs = [*site.context.reparams, *function.outer_reparams]
    if function.reparam is not None:
        configs.append(function.reparam)
    return any(config.covers(site.name) for config in configs)
