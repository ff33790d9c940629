from __future__ import annotations

from typing import Iterator

from numpyro_lint.diagnostic import Diagnostic, Span
from numpyro_lint.ir.model import Distribution, Expr, FunctionIR
from numpyro_lint.rules.base import Rule, literal_text, prior_sites

#: Families whose `scale` parameter sets the width of the prior.
SCALE_FAMILIES = frozenset({
    "Normal", "Cauchy", "StudentT", "Laplace", "Logistic", "Gumbel", "HalfNormal", "HalfCauchy",
    "HalfStudentT", "LogNormal", "TruncatedNormal", "TruncatedCauchy",
})
#: Priors of an observation's noise scale, and the parameter that sets their width (see `_data_unit`).
NOISE_WIDTH = {"HalfNormal": "scale", "HalfCauchy": "scale", "HalfStudentT": "scale", "Exponential": "rate"}
#: `LogNormal`'s scale is in log units: a scale strictly above this is wide whatever the data's units
#: (one standard deviation multiplies the value by e^5, about 150).
LOG_SCALE_THRESHOLD = 5.0
LADDER = (
    "On Stan's prior-choice ladder, assuming unit-scale parameters, `Normal(0, 1e6)` is \"super-vague\" "
    "and `Normal(0, 10)` \"very weak\""
)


class WidePrior(Rule):
    """## What it does
    Flags a latent site's prior whose literal scale is strictly above `wide-prior-scale` (default
    100, so `Normal(0, 100)` is not reported and `Normal(0, 101)` is): the `scale` of Normal, Cauchy,
    StudentT, Laplace, Logistic, Gumbel, HalfNormal, HalfCauchy, HalfStudentT and (unless bounded on
    both sides) TruncatedNormal/TruncatedCauchy; a `Uniform` more than twice that wide; an
    `Exponential` whose rate is below its inverse. `LogNormal`'s scale is in log units, so it has its
    own threshold, `LOG_SCALE_THRESHOLD` (5: one standard deviation multiplies the value by e^5, about
    150). Literals include `1e3`, `1_000`, `-1e6` and module-level constants assigned once
    (`SCALE = 1000.0`).

    Not flagged when the location is at least as large as the scale (`Normal(500, 100)`,
    `Normal(2000, 1000)`) or computed from the model's arguments (`Normal(y.mean(), 1000)`): the
    parameter is then in the data's units, which are large, and the scale fits them. The model's own
    prior on the observation noise says the same: with `sigma ~ HalfNormal(100)` and
    `Normal(mu, sigma, obs=y)` the data's units are about 100, and the threshold is 100 times
    `wide-prior-scale` for that model's other priors (a noise prior that is itself wide, or narrower
    than 1, changes nothing).

    ## Why is this bad?
    A "non-informative" `Normal(0, 1000)` is not neutral: on Stan's prior-choice ladder, assuming
    unit-scale parameters, `Normal(0, 1e6)` is "super-vague" and `Normal(0, 10)` already "very weak".
    A wider prior puts nearly all its mass on values nobody believes, makes the prior predictive
    absurd, slows warmup and can leave the posterior improper-looking when the data are weak.

    ## Example
    ```python
    def model(x, y=None):
        beta = numpyro.sample("beta", dist.Normal(0.0, 1000.0))
        numpyro.sample("y", dist.Normal(beta * x, 1.0), obs=y)
    ```

    ## Use instead
    Put the parameter on unit scale (standardize the data) and use a weakly informative prior:
    ```python
    def model(x, y=None):
        beta = numpyro.sample("beta", dist.Normal(0.0, 10.0))
        numpyro.sample("y", dist.Normal(beta * x, 1.0), obs=y)
    ```

    ## Fix safety
    Any fix changes the model, so it is unsafe: a narrower scale (`weak-prior-scale`, default 10)
    is only right once the parameter is on unit scale. A wide `LogNormal` gets no fix (its scale is
    in log units: what to narrow it to is the author's call).

    ## Options
    `wide-prior-scale` (default 100): a scale is reported when it is strictly above this value
    (a `Uniform` when wider than twice it, an `Exponential` when its rate is below its inverse).
    `LogNormal` uses the fixed log-space threshold 5 instead. Observed sites, scales computed from
    data or variables, and distributions in guides are never reported.
    """

    code = "NPL401"
    fix_safety = "unsafe"
    summary = "a latent site's prior is very wide (literal scale > wide-prior-scale)"
    VALID = [
        """
import numpyro
import numpyro.distributions as dist

def model(x, scale, y=None):
    a = numpyro.sample("a", dist.Normal(0.0, 10.0))
    b = numpyro.sample("b", dist.Normal(0.0, scale))
    c = numpyro.sample("c", dist.Uniform(0.0, 150.0))
    d = numpyro.sample("d", dist.Exponential(0.1))
    e = numpyro.sample("e", dist.TruncatedNormal(0.0, 1000.0, low=0.0, high=1.0))
    f = numpyro.sample("f", dist.HalfNormal(100.0))
    g = numpyro.sample("g", dist.Normal(500.0, 100.0))
    h = numpyro.sample("h", dist.LogNormal(0.0, 2.0))
    numpyro.sample("y", dist.Normal(a + b * x, 1000.0), obs=y)
""",
        """
import numpyro
import numpyro.distributions as dist

def fvc_model(weeks, fvc=None):
    intercept = numpyro.sample("intercept", dist.Normal(0.0, 500.0))
    slope = numpyro.sample("slope", dist.Normal(0.0, 3.0))
    sigma = numpyro.sample("sigma", dist.HalfNormal(100.0))
    numpyro.sample("fvc", dist.Normal(intercept + slope * weeks, sigma), obs=fvc)
""",
    ]
    INVALID = [
        """
import numpyro
import numpyro.distributions as D
from numpyro.distributions import HalfCauchy, StudentT

SCALE = 1_000

def model(x, y=None):
    a = numpyro.sample("a", D.Normal(0, 1e3))  # expect
    b = numpyro.sample("b", StudentT(3, 0, SCALE))  # expect
    s = numpyro.sample("s", HalfCauchy(scale=250))  # expect
    u = numpyro.sample("u", D.Uniform(-1e6, 1e6))  # expect
    r = numpyro.sample("r", D.Exponential(0.001))  # expect
    m = numpyro.sample("m", D.LogNormal(0.0, 10.0))  # expect
    numpyro.sample("y", D.Normal(a + b * x + u + m, s), obs=y)
""",
    ]

    def check(self, module, settings) -> Iterator[Diagnostic]:
        threshold = settings.wide_prior_scale
        units: dict[int, tuple[float, str | None]] = {}
        for function, _, site in prior_sites(module):
            distribution = site.distribution
            assert distribution is not None
            unit, noise = units.get(id(function)) or units.setdefault(id(function), _data_unit(function, threshold))
            found = _wide(distribution, threshold * unit)
            if found is None:
                continue
            span, what = found
            if distribution.name == "LogNormal":
                bar = f"LogNormal's log-space threshold is {LOG_SCALE_THRESHOLD:g}: one standard deviation " \
                      f"multiplies the value by e^{literal_text(distribution.param('scale'))}"
                advice = "use a log-space scale of 1 or 2"
            else:
                bar = f"wide-prior-scale is {threshold:g}"
                if noise is not None:
                    bar += f", times {unit:g} for the data's units that the prior on `{noise}` implies"
                advice = f"use a weakly informative prior, e.g. `Normal(0, {settings.weak_prior_scale:g})` or narrower"
            yield self.diagnostic(span, (
                f"Wide prior on `{site.name or site.name_expr.text}`: `{distribution.callee_text}` with {what} "
                f"({bar}). {LADDER}: a prior this wide is not neutral, it puts nearly all its mass on "
                "implausible values and slows or destabilizes sampling. Put the parameter on unit scale "
                f"(standardize the data) and {advice}."
            ))


def _data_unit(function: FunctionIR, threshold: float) -> tuple[float, str | None]:
    """The data's units as the model's author sees them, and the site that says so: the width of the prior
    on an observation's noise scale (`sigma ~ HalfNormal(100)` for `Normal(mu, sigma, obs=y)`: units of
    about 100). (1, None) when there is none, when it is narrower than 1, or when it is itself wide."""
    unit, name = 1.0, None
    for site in function.sites:
        scale = site.distribution.param("scale") if site.is_observed and site.distribution is not None else None
        if scale is None or scale.site_value is None:
            continue
        noise = function.sites[scale.site_value]
        prior = noise.distribution
        if not noise.is_latent or prior is None or prior.name not in NOISE_WIDTH:
            continue
        width = prior.param(NOISE_WIDTH[prior.name])
        if width is None or width.value is None or width.value <= 0:
            continue
        value = 1 / width.value if prior.name == "Exponential" else width.value
        if unit < value <= threshold:
            unit, name = value, noise.name or noise.name_expr.text
    return unit, name


def _wide(distribution: Distribution, threshold: float) -> tuple[Span, str] | None:
    """Where the prior is too wide (the argument, or the whole Uniform) and what was found, or None.
    Strictly above the threshold; a location at least as large as the scale, or computed from the
    model's arguments, means the data's units are large and the scale fits them."""
    name = distribution.name
    if name in SCALE_FAMILIES:
        if name in ("TruncatedNormal", "TruncatedCauchy") and (
            distribution.param("low") is not None and distribution.param("high") is not None
        ):
            return None  # bounded on both sides: the bounds, not the scale, set the width
        scale = distribution.param("scale")
        if scale is None or scale.value is None:
            return None
        if name == "LogNormal":
            wide = scale.value > LOG_SCALE_THRESHOLD
        else:
            wide = scale.value > threshold and not _in_large_units(distribution.param("loc"), scale.value)
        if wide:
            return scale.span, f"scale {literal_text(scale)}"
    elif name == "Uniform":
        low, high = distribution.param("low"), distribution.param("high")
        if low is not None and high is not None and low.value is not None and high.value is not None:
            width = high.value - low.value
            if width > 2 * threshold:
                return distribution.span, f"width {width:g} (from {literal_text(low)} to {literal_text(high)})"
    elif name == "Exponential":
        rate = distribution.param("rate")
        if rate is not None and rate.value is not None and 0 < rate.value < 1 / threshold:
            return rate.span, f"rate {literal_text(rate)}, so scale {1 / rate.value:g}"
    return None


def _in_large_units(loc: Expr | None, scale: float) -> bool:
    """`Normal(500, 100)`, `Normal(y.mean(), 1000)`: the location says the data's units are large."""
    if loc is None:
        return False
    if loc.value is not None:
        return abs(loc.value) >= scale
    return bool(loc.deps.args)
