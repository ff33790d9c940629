"""What a smoke run measured, for the editor: each site's shapes, its prior's 5-50-95% quantiles and its
smoke posterior (mean, sd, R-hat, ESS), and the run's size, divergences, worst R-hat and time. NumPy only.
"""

from __future__ import annotations

import numpy as np

from numpyro_lint.runner.checks import MAX_COMPONENTS, mixing
from numpyro_lint.runner.protocol import ModelFacts, SiteFacts
from numpyro_lint.runner.sampling import Chains, SiteInfo

QUANTILES = (0.05, 0.5, 0.95)


def model_facts(model: str, seconds: float, sites: dict[str, SiteInfo], prior: dict[str, np.ndarray] | None,
                chains: Chains | None) -> ModelFacts:
    facts = [_site_facts(site, (prior or {}).get(name), chains) for name, site in sites.items()]
    rhats = [site.rhat for site in facts if site.rhat is not None]
    if chains is None:
        return ModelFacts(model, round(seconds, 3), sites=tuple(facts))
    return ModelFacts(model, round(seconds, 3), True, chains.settings.chains, chains.settings.samples,
                      chains.divergences, max(rhats) if rhats else None, tuple(facts))


def _site_facts(site: SiteInfo, prior: np.ndarray | None, chains: Chains | None) -> SiteFacts:
    quantiles: tuple[float, ...] = ()
    if prior is not None:
        values = np.asarray(prior, dtype=float).reshape(-1)
        values = values[np.isfinite(values)]
        if values.size:
            quantiles = tuple(float(q) for q in np.quantile(values, QUANTILES))
    facts = SiteFacts(site.name, site.kind, site.dtype, site.shape, site.batch_shape, site.event_shape, quantiles)
    draws = chains.unconstrained.get(site.name) if chains is not None else None
    if draws is None:
        return facts
    stats = mixing(draws)
    rhat = max((s.rhat for s in stats), default=None)
    ess = min((s.ess for s in stats), default=None)
    mean, sd = _moments(draws, site)
    return SiteFacts(**{**facts.__dict__, "posterior_mean": mean, "posterior_sd": sd,
                        "rhat": _finite(rhat), "ess": _finite(ess)})


def _moments(draws: np.ndarray, site: SiteInfo) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Mean and sd of each element's draws on the site's own scale (the first MAX_COMPONENTS)."""
    chains, count = draws.shape[:2]
    values = np.asarray(draws).reshape(chains * count, -1)[:, :MAX_COMPONENTS]
    if not site.discrete:
        if site.transform is None:
            return (), ()  # a support whose bijection needs the whole event (simplex...): no element scale
        try:
            values = np.asarray(site.transform(np.asarray(values, dtype=np.float32)), dtype=float)
        except Exception:  # a bijection that cannot map these draws
            return (), ()
    values = np.asarray(values, dtype=float)
    with np.errstate(all="ignore"):
        return (tuple(float(v) for v in values.mean(axis=0)), tuple(float(v) for v in values.std(axis=0)))


def _finite(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)
