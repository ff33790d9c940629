"""The smoke checks: draws and NUTS output in, findings (placed by site name) out. NumPy only.

Thresholds are the ones the smoke-runner issues fix: 99% central interval and 100x spread for the
prior predictive (NPL903), split R-hat 1.05 and bulk ESS 100 (NPL904), 5% of transitions at maximum
tree depth (NPL906); NPL907's threshold is the setting `smoke.prior-recovery-threshold`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpyro.diagnostics import effective_sample_size, gelman_rubin
from scipy.special import ndtri

from numpyro_lint.runner.protocol import Finding, ModelRequest, Related, RunSettings
from numpyro_lint.runner.sampling import Chains, SiteInfo

RHAT_LIMIT = 1.05
ESS_LIMIT = 100
TREE_DEPTH_FRACTION = 0.05
PREDICTIVE_SPREAD_RATIO = 100.0
#: Quantiles at which NUTS's draws are compared with exact prior draws (NPL907).
RECOVERY_QUANTILES = np.array([0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95])
#: A quantile gap counts only when it exceeds this many Monte Carlo standard errors (from the ESS).
RECOVERY_SIGNIFICANCE = 2.0
#: Under this fraction of the draws as bulk ESS, NUTS's draws cannot stand for the prior at all.
RECOVERY_MIN_ESS_FRACTION = 0.1
#: Components of a vector site that are compared (the first ones), to bound the work.
MAX_COMPONENTS = 16


def run_size(settings: RunSettings) -> str:
    return f"{settings.chains} chains x {settings.warmup} warmup x {settings.samples} samples"


def _names(sites) -> str:
    return ", ".join(sites)


def _fmt(value: float) -> str:
    return f"{value:.3g}"


# NPL902: non-finite values.

def nonfinite_draws(draws: dict[str, np.ndarray], sites: dict[str, SiteInfo], request: ModelRequest) -> list[Finding]:
    findings = {}
    for name, values in draws.items():
        if name not in sites:
            continue
        flat = np.asarray(values, dtype=float).reshape(len(values), -1)
        bad = ~np.isfinite(flat).all(axis=1)
        if bad.any():
            kind = "NaN" if np.isnan(flat).any() else "infinite"
            findings[name] = Finding(
                "NPL902",
                f"prior draws of `{name}` are {kind} in {int(bad.sum())} of {len(bad)} draws: check the "
                f"parameters of its distribution (a negative scale? the log or square root of a negative "
                f"number? an overflowing exp?)",
                model=request.qualname, site=name)
    return _roots(findings, request)


def nonfinite_log_densities(log_densities: dict[str, np.ndarray], sites: dict[str, SiteInfo],
                            request: ModelRequest) -> list[Finding]:
    findings = {}
    for name, values in log_densities.items():
        values = np.asarray(values, dtype=float)
        bad = ~np.isfinite(values)
        if not bad.any() or name not in sites:
            continue
        count = f"{int(bad.sum())} of {len(values)} prior draws"
        if np.isnan(values).any():
            message = (f"the log density of `{name}` is NaN at {count}: its distribution's parameters are "
                       f"invalid there (a negative or zero scale? a probability outside [0, 1]?)")
        elif sites[name].kind == "observed":
            message = (f"the log likelihood of the data at `{name}` is -inf at {count}: the data fall outside "
                       f"the support of its distribution there (negative counts? values beyond a bound?)")
        else:
            message = f"the log density of `{name}` is infinite at {count}: its prior puts no mass there"
        findings[name] = Finding("NPL902", message, model=request.qualname, site=name)
    return _roots(findings, request)


def _roots(findings: dict[str, Finding], request: ModelRequest) -> list[Finding]:
    """Only the sites whose problem is their own: not those downstream of another finding's site."""
    def ancestors(name: str, seen: set[str]) -> set[str]:
        for parent in request.parents.get(name, ()):
            if parent not in seen:
                seen.add(parent)
                ancestors(parent, seen)
        return seen

    return [f for name, f in findings.items() if not (ancestors(name, set()) & (set(findings) - {name}))]


# NPL903: prior predictive against the data.

def prior_predictive_vs_data(draws: dict[str, np.ndarray], sites: dict[str, SiteInfo],
                             request: ModelRequest) -> list[Finding]:
    findings = []
    for site in sites.values():
        if site.kind != "observed" or site.data is None or site.name not in draws:
            continue
        predicted = np.asarray(draws[site.name], dtype=float)
        try:
            data = np.broadcast_to(site.data, predicted.shape[1:])
        except ValueError:
            continue
        predicted = np.where(np.isfinite(predicted), predicted, np.nan)
        if np.isnan(predicted).all() or not np.isfinite(data).all():
            continue
        parts = []
        low, high = np.nanquantile(predicted, [0.005, 0.995], axis=0)
        outside = (data < low) | (data > high)
        if outside.any() and outside.mean() > 0.01:
            worst = np.unravel_index(np.argmax(np.maximum(low - data, data - high)), data.shape)
            parts.append(
                f"{int(outside.sum())} of {outside.size} observed values of `{site.name}` lie outside the "
                f"central 99% of the prior predictive (e.g. {_fmt(data[worst])} against "
                f"[{_fmt(low[worst])}, {_fmt(high[worst])}]): the priors rule out data like these")
        data_spread = np.subtract(*np.quantile(data, [0.95, 0.05])) if data.size > 1 else 0.0
        if data_spread > 0 and not site.discrete:
            predicted_spread = np.subtract(*np.nanquantile(predicted, [0.95, 0.05]))
            ratio = predicted_spread / data_spread
            if ratio > PREDICTIVE_SPREAD_RATIO:
                parts.append(
                    f"the prior predictive of `{site.name}` is {ratio:,.0f}x wider than the data (5-95% range "
                    f"{_fmt(predicted_spread)} against {_fmt(data_spread)}): the priors ignore the data's scale")
        if parts:
            parents = request.parents.get(site.name, [])
            advice = "; tighten the priors or rescale the data"
            if parents:
                advice = (f"; tighten or recenter the priors of {_names(parents)}, or rescale the data (as "
                          f"rstanarm rescales priors by the data's scale)")
            related = tuple(Related(f"a prior behind `{site.name}`", site=p) for p in parents)
            findings.append(Finding("NPL903", "; ".join(parts) + advice, model=request.qualname,
                                    site=site.name, related=related))
    return findings


# Rank-normalized diagnostics (Vehtari et al. 2021).

def _components(values: np.ndarray) -> np.ndarray:
    """(chains, draws, ...) -> (chains, draws, components) for at most MAX_COMPONENTS components."""
    chains, draws = values.shape[:2]
    return values.reshape(chains, draws, -1)[..., :MAX_COMPONENTS].astype(float)


def _rank_normalize(x: np.ndarray) -> np.ndarray:
    chains, draws, k = x.shape
    flat = x.reshape(chains * draws, k)
    ranks = np.argsort(np.argsort(flat, axis=0, kind="stable"), axis=0) + 1.0
    return ndtri((ranks - 0.375) / (chains * draws + 0.25)).reshape(chains, draws, k)


def _split(x: np.ndarray) -> np.ndarray:
    half = x.shape[1] // 2
    return np.concatenate([x[:, :half], x[:, half:2 * half]])


@dataclass(frozen=True)
class Mixing:
    rhat: float
    ess: float


def mixing(values: np.ndarray) -> list[Mixing]:
    """Split R-hat and bulk ESS, rank-normalized, per component; NaN (stuck draws) become inf / 0."""
    x = _components(values)
    if x.shape[1] < 4:
        return []
    z = _split(_rank_normalize(x))
    constant = np.ptp(x.reshape(-1, x.shape[-1]), axis=0) == 0
    with np.errstate(all="ignore"):
        rhat = np.asarray(gelman_rubin(z), dtype=float)
        ess = np.asarray(effective_sample_size(z), dtype=float)
    rhat = np.where(np.isfinite(rhat) & ~constant, rhat, np.inf)
    ess = np.where(np.isfinite(ess) & ~constant, ess, 0.0)
    return [Mixing(float(r), float(e)) for r, e in zip(rhat, ess, strict=True)]


# NPL901: divergences.

def _divergent_percentile(values: np.ndarray, diverging: np.ndarray) -> float | None:
    """Median percentile, among all draws, of a scalar site's draws at divergent transitions."""
    x = _components(values)
    if x.shape[-1] != 1:
        return None
    flat = x.reshape(-1)
    ranks = (np.argsort(np.argsort(flat, kind="stable")) + 0.5) / flat.size
    return float(np.median(ranks[diverging.reshape(-1)]))


def divergence_findings(chains: Chains, request: ModelRequest) -> list[Finding]:
    count, total = chains.divergences, chains.transitions
    if count == 0:
        return []
    summary = (f"{count} of {total} transitions ({count / total:.1%}) diverged in a smoke run "
               f"({run_size(chains.settings)})")
    percentiles = {name: p for name, values in chains.unconstrained.items()
                   if (p := _divergent_percentile(values, chains.diverging)) is not None}
    scale_sites = [name for name in percentiles if request.scale_children(name)]
    if scale_sites:
        implicated = [min(scale_sites, key=lambda name: percentiles[name])]
    else:
        extreme = max(percentiles, key=lambda name: abs(percentiles[name] - 0.5), default=None)
        implicated = [extreme] if extreme is not None and abs(percentiles[extreme] - 0.5) >= 0.25 else []
    if not implicated:
        return [Finding("NPL901", f"{summary}: the posterior has regions NUTS cannot follow; look for "
                                  f"funnels (a scale that depends on another site) or very different scales",
                        model=request.qualname, stage="nuts")]
    findings = []
    for name in implicated:
        where = _where(percentiles[name])
        children = request.scale_children(name)
        advice = (f"; it is the scale of {_names(children)}: non-center {'them' if len(children) > 1 else 'it'} "
                  f"(LocScaleReparam, NPL501)") if children else ""
        related = tuple(Related(f"its scale is `{name}`", site=c) for c in children)
        findings.append(Finding(
            "NPL901", f"{summary}; at the divergences `{name}` sits {where} (median percentile "
                      f"{percentiles[name]:.0%}): NUTS cannot follow the posterior there{advice}",
            model=request.qualname, site=name, related=related, stage="nuts"))
        for child in children:
            findings.append(Finding(
                "NPL901", f"{summary}; `{child}` is centered on a scale NUTS cannot follow where `{name}` is "
                          f"{'small' if percentiles[name] < 0.5 else 'large'}: non-center it "
                          f"(LocScaleReparam(0), NPL501)",
                model=request.qualname, site=child, related=(Related("its scale", site=name),), stage="nuts"))
    return findings


def _where(percentile: float) -> str:
    if percentile < 0.1:
        return "in its lowest decile"
    if percentile > 0.9:
        return "in its highest decile"
    return "below its median" if percentile < 0.5 else "above its median"


# NPL904 and NPL906: convergence and tree depth.

def convergence_findings(chains: Chains, request: ModelRequest) -> list[Finding]:
    findings = []
    draws = chains.settings.chains * chains.settings.samples
    for name, values in chains.unconstrained.items():
        stats = mixing(values)
        if not stats:
            continue
        rhat = max(s.rhat for s in stats)
        ess = min(s.ess for s in stats)
        if rhat <= RHAT_LIMIT and ess >= ESS_LIMIT:
            continue
        if ess == 0:
            problem = f"the draws of `{name}` never moved"
        else:
            problem = f"`{name}` has split R-hat {rhat:.2f} and bulk ESS {ess:.0f} of {draws} draws"
        findings.append(Finding(
            "NPL904", f"{problem} in a smoke run ({run_size(chains.settings)}; want R-hat <= {RHAT_LIMIT} and "
                      f"ESS >= {ESS_LIMIT}): the chains do not agree or mix slowly; reparameterize, rescale, or "
                      f"give it a more informative prior",
            model=request.qualname, site=name, stage="nuts"))
    return findings


def tree_depth_findings(chains: Chains, request: ModelRequest) -> list[Finding]:
    depth = chains.settings.max_tree_depth
    saturated = chains.num_steps >= 2 ** depth - 1
    fraction = float(saturated.mean()) if saturated.size else 0.0
    if fraction <= TREE_DEPTH_FRACTION:
        return []
    return [Finding(
        "NPL906", f"{fraction:.0%} of transitions hit NUTS's maximum tree depth ({depth}, {2 ** depth - 1} "
                  f"gradient steps each) in a smoke run ({run_size(chains.settings)}): the posterior has very "
                  f"different scales or strong correlations; rescale or reparameterize its sites",
        model=request.qualname, stage="nuts")]


# NPL501 measured advice.

def advice_findings(before: Chains, after: Chains, request: ModelRequest) -> list[Finding]:
    sites = ", ".join(request.centered)
    message = (f"Measured: non-centering {sites} (LocScaleReparam(0)): divergences {before.divergences} -> "
               f"{after.divergences} in a smoke run ({run_size(before.settings)}, same seed).")
    return [Finding("NPL501", message, model=request.qualname, site=name, stage="advice")
            for name in request.centered]


# NPL907: prior recovery.

@dataclass(frozen=True)
class Recovery:
    site: str
    gap: float
    quantile: float
    nuts_value: float
    prior_value: float
    ess: float
    draws: int
    flagged: bool


def compare_with_prior(name: str, values: np.ndarray, prior: np.ndarray, site: SiteInfo,
                       threshold: float) -> Recovery | None:
    """How far NUTS's draws of one site (unconstrained) are from exact prior draws, worst component."""
    if site.transform is None:
        return None
    x = _components(values)
    try:
        prior_u = np.asarray(site.transform.inv(prior), dtype=float)
    except Exception:  # a support the bijection cannot invert at these draws
        return None
    prior_u = prior_u.reshape(len(prior_u), -1)[:, :MAX_COMPONENTS]
    if prior_u.shape[1] != x.shape[-1] or not np.isfinite(prior_u).all():
        return None
    stats = mixing(values)
    worst = None
    qs = RECOVERY_QUANTILES
    for j in range(x.shape[-1]):
        nuts, exact = x[..., j].reshape(-1), prior_u[:, j]
        q_exact, q_nuts = np.quantile(exact, qs), np.quantile(nuts, qs)
        spread = q_exact[-1] - q_exact[0]
        if not spread > 0:
            continue
        gaps = np.abs(q_nuts - q_exact) / spread
        ess = stats[j].ess if stats else float(nuts.size)
        # Monte Carlo error of each quantile from ESS draws, with the density taken from the prior draws.
        low, high = np.clip(qs - 0.03, 0.001, 1), np.clip(qs + 0.03, 0, 0.999)
        density = (high - low) / np.maximum(np.quantile(exact, high) - np.quantile(exact, low), 1e-12)
        error = np.sqrt(qs * (1 - qs) / max(ess, 1.0) + qs * (1 - qs) / exact.size) / (density * spread)
        i = int(np.argmax(gaps))
        off = gaps[i] > threshold and gaps[i] > RECOVERY_SIGNIFICANCE * error[i]
        stuck = ess < RECOVERY_MIN_ESS_FRACTION * nuts.size
        candidate = Recovery(name, float(gaps[i]), float(qs[i]), float(q_nuts[i]), float(q_exact[i]),
                             float(ess), nuts.size, bool(off or stuck))
        if worst is None or (candidate.flagged, candidate.gap) > (worst.flagged, worst.gap):
            worst = candidate
    if worst is None:
        return None
    constrained = lambda u: float(np.asarray(site.transform(np.asarray(u, dtype=np.float32))))  # noqa: E731
    return Recovery(worst.site, worst.gap, worst.quantile, constrained(worst.nuts_value),
                    constrained(worst.prior_value), worst.ess, worst.draws, worst.flagged)


def prior_recovery_findings(chains: Chains, prior: dict[str, np.ndarray], sites: dict[str, SiteInfo],
                            request: ModelRequest, threshold: float) -> list[Finding]:
    results = {}
    for name, values in chains.unconstrained.items():
        if name in prior and name in sites and sites[name].kind == "latent" and not sites[name].discrete:
            result = compare_with_prior(name, values, np.asarray(prior[name]), sites[name], threshold)
            if result is not None and result.flagged:
                results[name] = result
    if not results:
        return []
    # The root of a funnel is the site other flagged sites take their scale from.
    roots = [name for name in results if any(name in request.scale_parents.get(o, ()) for o in results)]
    chosen = min(roots or results, key=lambda name: (results[name].ess / results[name].draws, -results[name].gap))
    r = results[chosen]
    children = request.scale_children(chosen)
    if children:
        cause = (f"the sampler misses a region of the prior (a funnel): non-center the sites whose scale depends "
                 f"on `{chosen}` ({_names(children)})")
    else:
        cause = ("the sampler misses a region of the prior or mixes too slowly to reproduce it: look for strong "
                 "correlations, very different scales, or heavy tails")
    others = [f"`{name}` ({results[name].quantile:.0%} quantile {_fmt(results[name].nuts_value)}, prior "
              f"{_fmt(results[name].prior_value)})" for name in results if name != chosen]
    also = f"; also off: {', '.join(others)}" if others else ""
    message = (f"NUTS could not reproduce the prior of `{chosen}` in a run without the data "
               f"({run_size(chains.settings)}): {r.quantile:.0%} quantile {_fmt(r.nuts_value)}, prior "
               f"{_fmt(r.prior_value)} (bulk ESS {r.ess:.0f} of {r.draws} draws){also}; {cause}")
    related = [Related(f"its scale depends on `{chosen}`", site=c) for c in children]
    related += [Related("centered (NPL501)", site=c) for c in request.centered if c not in children]
    return [Finding("NPL907", message, model=request.qualname, site=chosen, related=tuple(related),
                    stage="recovery")]


# NPL905: the model raised.

def _clip(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def exception_message(error: BaseException, during: str) -> str:
    detail = str(error).strip().splitlines()
    first = detail[0] if detail else ""
    name = type(error).__name__
    hint = ""
    if isinstance(error, MemoryError) or "RESOURCE_EXHAUSTED" in str(error):
        hint = " (the runner's memory is capped by smoke.memory-mb)"
    return _clip(f"{during} raised {name}: {first}" if first else f"{during} raised {name}") + hint
