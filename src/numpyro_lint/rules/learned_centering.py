from __future__ import annotations

from typing import Iterator

from numpyro_lint.diagnostic import Diagnostic
from numpyro_lint.ir.model import FunctionIR, ReparamConfig, Site
from numpyro_lint.ir.plates import plates_around
from numpyro_lint.rules.base import Rule, models
from numpyro_lint.rules.batched_latent_without_plate import batched_part


class LearnedCenteringOutsidePlate(Rule):
    """## What it does
    Flags a latent site reparameterized with `LocScaleReparam()` (`centered=None`: the centering is
    learned) whose distribution is visibly batched (`jnp.zeros(K)`, `.expand([K])`, a literal list)
    outside every plate and without `.to_event()`.

    ## Why is this bad?
    With `centered=None`, `LocScaleReparam` learns how far to center each site as a `numpyro.param`
    named `<site>_centered`, of the site's *event* shape. Inside a plate, or with `.to_event(1)`,
    each element gets its own centering. A batched site outside every plate has an empty event shape,
    so all K elements share one centering value: groups with much data (which want the centered
    form) and groups with little (which want the non-centered one) are forced to the same compromise.

    ## Example
    ```python
    @reparam(config={"theta": LocScaleReparam()})
    def model(K, tau):
        theta = numpyro.sample("theta", dist.Normal(jnp.zeros(K), tau))
    ```

    ## Use instead
    ```python
    @reparam(config={"theta": LocScaleReparam()})
    def model(K, tau):
        with numpyro.plate("groups", K):
            theta = numpyro.sample("theta", dist.Normal(0.0, tau))
    ```
    or `.to_event(1)` if the K values are one vector-valued variable; or a fixed `LocScaleReparam(0)`.

    ## Fix safety
    No fix: a plate or `.to_event(1)` depends on what the values mean.

    ## Options
    None.
    """

    code = "NPL502"
    summary = "LocScaleReparam with a learned centering on a batched site outside every plate"
    VALID = [
        """
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from numpyro.handlers import reparam
from numpyro.infer.reparam import LocScaleReparam

@reparam(config={"a": LocScaleReparam(), "b": LocScaleReparam(), "c": LocScaleReparam(0)})
def model(K, tau):
    with numpyro.plate("groups", K):
        a = numpyro.sample("a", dist.Normal(0.0, tau))
    b = numpyro.sample("b", dist.Normal(jnp.zeros(K), tau).to_event(1))
    c = numpyro.sample("c", dist.Normal(jnp.zeros(K), tau))
""",
    ]
    INVALID = [
        """
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from numpyro.handlers import reparam
from numpyro.infer.reparam import LocScaleReparam

@reparam(config={"theta": LocScaleReparam(centered=None), "eta": LocScaleReparam()})
def model(K, tau):
    theta = numpyro.sample("theta", dist.Normal(jnp.zeros(K), tau))  # expect
    eta = numpyro.sample("eta", dist.Normal(0.0, tau).expand([K]))  # expect
""",
    ]

    def check(self, module, settings) -> Iterator[Diagnostic]:
        for function in models(module):
            for site in function.sites:
                if not site.is_latent or site.distribution is None or plates_around(function, site):
                    continue
                config = _learned_centering(function, site)
                batched = batched_part(function, site.distribution)
                if config is None or batched is None:
                    continue
                name = site.name
                yield self.diagnostic(site.span, (
                    f"`{name}` gets `LocScaleReparam()` with a learned centering (`centered=None`), but it is "
                    f"batched by `{batched[1]}` outside every plate and without `.to_event()`: its event shape "
                    f"is empty, so the learned `{name}_centered` is one value shared by every element instead "
                    "of one per element. Put the site in a `numpyro.plate`, add `.to_event(1)` if the values "
                    "are one vector, or fix the centering (`LocScaleReparam(0)`)."
                ))


def _learned_centering(function: FunctionIR, site: Site) -> ReparamConfig | None:
    configs = [*site.context.reparams, *function.outer_reparams]
    if function.reparam is not None:
        configs.append(function.reparam)
    return next((config for config in configs if site.name in config.learned_centering), None)
