from __future__ import annotations

import re
from typing import Iterator

from numpyro_lint.diagnostic import Diagnostic, Severity
from numpyro_lint.ir.distributions import SCALAR_EVENT
from numpyro_lint.ir.model import Distribution, FunctionIR, Site
from numpyro_lint.ir.plates import call_at, draws_one_value, in_scan_step, plates_around
from numpyro_lint.rules.base import Rule

#: Calls whose result is the array they are given (or build from them).
ARRAY_CALLS = frozenset({
    "jax.numpy.array", "jax.numpy.asarray", "jax.numpy.stack", "jax.numpy.concatenate", "jax.numpy.hstack",
    "jax.numpy.vstack", "jax.numpy.column_stack", "numpy.array", "numpy.asarray", "numpy.stack",
    "numpy.concatenate",
})


#: Count likelihoods, whose data is often a single number passed in (`k` successes of `n`): for these an
#: argument counts as array data only when the model treats it or the parameters' data as arrays.
COUNTS = frozenset({
    "Binomial", "BetaBinomial", "Poisson", "NegativeBinomial2", "NegativeBinomialProbs", "NegativeBinomialLogits",
    "GammaPoisson", "ZeroInflatedPoisson", "Geometric",
})


class ObsWithoutPlate(Rule):
    """## What it does
    Flags an observed `sample` site whose data is visibly an array (a parameter of the model, a list,
    a slice, `jnp.asarray(...)`) outside every plate and without `.to_event()` or `Independent`.
    Plates count however they are entered: `with numpyro.plate(...)`, several in one `with`, nested,
    `numpyro.plate_stack`, or held by every caller of the function that holds the site.

    Reported by default when it changes results: the distribution visibly describes one value (scalar
    parameters, as in `Normal(mu, 1)` with a scalar `mu`) while the data, an argument of the model, has
    many; or the model enumerates (`infer={"enumerate": ...}`, `config_enumerate`, discrete latents
    under NUTS, `TraceEnum_ELBO`, `infer_discrete`) or subsamples. Otherwise the finding is pedantic:
    the distribution is as large as the data (`Normal(X @ beta, sigma)`), or the data is fixed in the
    model (`obs=jnp.array([1.0, 2.0])`, a slice of an argument), so it is never None and `Predictive`
    returns it unchanged.

    Not flagged: scalar data; multivariate distributions (`MultivariateNormal`, `Dirichlet`...), whose
    array data can be one event; per-step data inside a `numpyro.contrib.control_flow.scan` step.

    ## Why is this bad?
    NumPyro sums the log-density over the data either way, so NUTS and `Trace_ELBO` fit the same
    posterior, and `Predictive` returns observed values unchanged. But when you call the model with the
    data argument None to predict, a distribution with scalar parameters describes one value:
    `Predictive` and prior predictive checks then draw one value instead of one per data point.
    Under enumeration NumPyro requires every batch dimension to be declared by a plate, and with
    subsampling only a plate tells it how to rescale a likelihood. Elsewhere a plate documents that the observations are
    conditionally independent, which is why the finding is pedantic there.

    ## Example
    ```python
    def model(y=None):
        mu = numpyro.sample("mu", dist.Normal(0, 1))
        numpyro.sample("y", dist.Normal(mu, 1), obs=y)
    ```

    ## Use instead
    The plate's size cannot be `y.shape[0]` when `y` is None, so the model takes it as an argument:
    ```python
    def model(N, y=None):
        mu = numpyro.sample("mu", dist.Normal(0, 1))
        with numpyro.plate("data", N):
            numpyro.sample("y", dist.Normal(mu, 1), obs=y)
    ```
    If the values form one vector-valued observation, declare it: `dist.Normal(mu, 1).to_event(1)`.

    ## Fix safety
    The fix wraps the site in `numpyro.plate("<site>_data", size)`. Safe when the size comes from data
    that is never None (a literal list's length, `x.shape[0]` for a slice of `x`, a data argument the
    distribution depends on); unsafe when it comes from a size argument of the model (`N` when `y`
    defaults to None) or must guard the observed argument for None (`len(y) if y is not None else 1`:
    prior predictive draws gain a dimension of size 1). When the distribution's parameters are batched
    along a last dimension of their own (`sigma` of shape `(2,)` for data of shape `(N, 2)`), the plate
    gets `dim=-2`. No fix when no size can be found.

    ## Options
    None.
    """

    code = "NPL201"
    summary = "an observed array site outside every plate"
    fix_safety = "safe where the size comes from data, else unsafe"
    escalation = ("pedantic when the distribution is as large as the data and the model neither "
                  "enumerates nor subsamples")
    VALID = [
        """
import numpyro
import numpyro.distributions as dist
from numpyro.contrib.control_flow import scan

def model(y, n_groups):
    mu = numpyro.sample("mu", dist.Normal(0, 1))
    numpyro.sample("one", dist.Normal(mu, 1), obs=0.5)
    with numpyro.plate("data", y.shape[0]):
        numpyro.sample("y", dist.Normal(mu, 1), obs=y)
    numpyro.sample("vec", dist.Normal(mu, 1).to_event(1), obs=y)
    numpyro.sample("mvn", dist.MultivariateNormal(mu, jnp.eye(3)), obs=y)

def likelihood(mu, y):
    numpyro.sample("z", dist.Normal(mu, 1), obs=y)

def outer(y):
    mu = numpyro.sample("m", dist.Normal(0, 1))
    with numpyro.plate("obs", len(y)):
        likelihood(mu, y)

def series(ys):
    def step(carry, y_t):
        x = numpyro.sample("x", dist.Normal(carry, 1), obs=y_t)
        return x, x
    scan(step, 0.0, ys)
""",
    ]
    INVALID = [
        """
import numpyro
import numpyro.distributions as dist

def model(x, y):
    mu = numpyro.sample("mu", dist.Normal(0, 1))
    numpyro.sample("y", dist.Normal(mu, 1), obs=y)  # expect
    numpyro.sample("first", dist.Normal(mu, 1), obs=x[:, 0])  # expect: pedantic
    numpyro.sample("listed", dist.Normal(mu, 1), obs=[1.0, 2.0])  # expect: pedantic
""",
        """
import numpyro
import numpyro.distributions as dist

def regression(X, y):
    beta = numpyro.sample("beta", dist.Normal(0, 1).expand([3]).to_event(1))
    numpyro.sample("y", dist.Normal(X @ beta, 1), obs=y)  # expect: pedantic
""",
    ]

    def check(self, module, settings) -> Iterator[Diagnostic]:
        for index, function in enumerate(module.functions):
            if not function.sites or not function.is_model:
                continue  # eager code (a notebook's `with handlers.seed(...)` cell) is no model
            for site in function.sites:
                if not site.is_observed or plates_around(function, site) or not _batch_only(site.distribution):
                    continue
                what = _array_data(function, site)
                if what is None:
                    continue
                if in_scan_step(module.functions, index):
                    continue
                assert site.obs is not None
                name = site.name or site.name_expr.text
                found = f"Observed site \"{name}\" gets {what} outside any plate and without `.to_event()`"
                # `Predictive` returns observed values unchanged: only a model called with the data
                # argument None draws them, and then `y.shape[0]` cannot size the plate.
                predicted = what.startswith("the argument") and draws_one_value(function, site)
                plate = _plate_text(function, site.obs.name, predicted)
                remedy = (f"Wrap it in {plate}, or add `.to_event(1)` if the values are one vector-valued "
                          "observation.")
                if predicted:
                    yield self.diagnostic(site.obs.span, (
                        f"{found}, but its distribution has scalar parameters: when you call the model with "
                        f"`{site.obs.name}=None` for prediction, it describes one value, not one per data "
                        "point, so `Predictive` and prior predictive checks draw one value instead of one per "
                        "observation (given the data, `Predictive` returns it unchanged, and the fitted "
                        f"posterior is unaffected). {remedy}"))
                elif function.enumerates:
                    yield self.diagnostic(site.obs.span, (
                        f"{found}: this model enumerates ({function.enumerates}), and NumPyro then requires "
                        f"every batch dimension to be declared by a plate (\"Missing a plate statement\"). "
                        f"{remedy}"), severity=Severity.ERROR)
                elif function.subsamples:
                    yield self.diagnostic(site.obs.span, (
                        f"{found}: this model subsamples, and only a plate tells NumPyro how to rescale a "
                        f"likelihood to the full data. {remedy}"))
                else:
                    size = ("The data is fixed in the model, so `Predictive` returns it unchanged"
                            if draws_one_value(function, site) else "The distribution is as large as the data")
                    yield self.diagnostic(site.obs.span, (
                        f"{found}. {size}, so NUTS, SVI and `Predictive` are right; a plate declares that the "
                        f"observations are conditionally independent, which enumeration requires. {remedy}"),
                        pedantic=True)


def _plate_text(function: FunctionIR, observed: str | None, predicted: bool) -> str:
    """The plate to suggest: over `y.shape[0]`, unless `y` is None in the runs that matter: it defaults to
    None, or the finding is about calling the model with `y=None`; then over a size argument."""
    if observed is None:
        return "a plate"
    if predicted or any(p.name == observed and p.default_text == "None" for p in function.params):
        return (f"`with numpyro.plate(\"data\", N):` with `N` a size argument of the model (the number of "
                f"observations): `{observed}.shape[0]` fails when `{observed}` is None")
    return f"`with numpyro.plate(\"data\", {observed}.shape[0]):`"


def _array_data(function: FunctionIR, site: Site) -> str | None:
    """How the site's data is visibly an array ("the argument `y`"), or None when it is not."""
    obs = site.obs
    if not site.is_observed or obs is None:
        return None
    if obs.name is not None:
        parameter = next((p for p in function.params if p.name == obs.name), None)
        if parameter is not None and obs.name not in function.created_names:
            if parameter.default_text is not None and parameter.default_text != "None":
                return None  # `n=10`: a number, or something set up to be one
            if site.distribution is not None and site.distribution.name in COUNTS and not _shaped(
                function, {obs.name} | {a for _, param in site.distribution.params for a in param.deps.args}
            ):
                return None  # `obs=k` of a Binomial: k successes is often one number
            return f"the argument `{obs.name}`"
        bound = [call for call in function.calls if call.bound_to == obs.name and call.span < site.span]
        if bound and bound[-1].callee in ARRAY_CALLS:
            return f"the array `{obs.name}`"
        return None
    if obs.shape != "array":
        return None
    if obs.text.startswith(("[", "(")):
        return f"the list `{obs.text}`"
    if obs.text.endswith("]") and ":" in obs.text:
        return f"the slice `{obs.text}`"
    call = call_at(function, obs.span)
    if call is not None and call.callee in ARRAY_CALLS:
        return f"the array `{obs.text}`"
    return None


def _shaped(function: FunctionIR, names: set[str]) -> bool:
    """Whether the function treats one of `names` as an array: `y.shape`, `len(y)`, `y[...]`."""
    if not names:
        return False
    alternatives = "|".join(re.escape(name) for name in sorted(names))
    pattern = re.compile(rf"\b(?:{alternatives})\s*(?:\.shape|\.ndim|\.size|\[)|(?:len|shape)\(\s*(?:{alternatives})\s*\)")
    texts = [argument.expr.text for call in function.calls for argument in call.args]
    texts += [plate.size_text for plate in function.plates if plate.size_text]
    texts += [param.text for site in function.sites if site.distribution for _, param in site.distribution.params]
    return any(pattern.search(text) for text in texts)


def _batch_only(distribution: Distribution | None) -> bool:
    """Whether array data can only be a batch of this distribution (not one event of it)."""
    if distribution is None or distribution.name == "Independent" or distribution.has_chain("to_event"):
        return False
    return distribution.name in SCALAR_EVENT or distribution.has_chain("expand")
