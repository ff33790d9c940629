"""Documentation of the smoke-run findings (NPL900-NPL907). Text only: importing this imports no JAX."""

from __future__ import annotations

_COMMON_OPTIONS = """## Options
`[tool.numpyro-lint.smoke]`: `enabled` (editor only; `numpyro-lint smoke` needs no setting), `python`,
`platform` (`cpu` by default, so a background check never takes GPU memory), `memory-mb`, `timeout-s`,
`chains`, `warmup`, `samples`, `seed`."""

SMOKE_DOCS: dict[str, str] = {
    "NPL900": """Smoke run skipped: no arguments found for the model.

## What it does
Reports, once per model, that the smoke runner could not find arguments to call the model with.

## Why is this bad?
Nothing is wrong with the model; the runner just cannot run it. It looks, in order, for a directive
comment above the `def`, for the file's own `MCMC.run`/`SVI.run`/`Predictive` calls, and for defaults
on every parameter.

## Example
```python
def model(J, sigma, y=None):
    ...
```

## Use instead
```python
# numpyro-lint: smoke(J=8, sigma=jnp.ones(8), y=None)
def model(J, sigma, y=None):
    ...
```

## Fix safety
No fix.

""" + _COMMON_OPTIONS,
    "NPL901": """Divergent transitions in a short NUTS run.

## What it does
Runs NUTS briefly (2 chains x 300 warmup x 300 samples by default) and reports divergent transitions on
the latent sites most implicated: scale sites whose draws at divergent transitions sit in their lowest
decile, and the centered sites they feed.

## Why is this bad?
Divergences mean the sampler could not follow the posterior's geometry; the draws are biased, usually
away from the neck of a funnel (small scales).

## Example
A centered hierarchy: `theta ~ Normal(mu, tau)` with `tau` a latent scale.

## Use instead
Non-center it: `numpyro.handlers.reparam(config={"theta": LocScaleReparam(0)})`.

## Fix safety
See NPL501's fix.

""" + _COMMON_OPTIONS,
    "NPL902": """Non-finite values in prior draws or in the log density at initial values.

## What it does
Draws from the prior predictive and evaluates the log density at NUTS's initial values; reports the sites
with NaN or infinite values.

## Why is this bad?
A NaN prior draw or log density usually means an invalid parameter (a negative scale, a probability
outside [0, 1]) and makes inference fail or silently stall.

## Example
```python
s = -1.0
numpyro.sample("x", dist.Normal(0, s))
```

## Use instead
Keep parameters in their support (`jnp.exp`, `softplus`, positive priors).

## Fix safety
No fix.

""" + _COMMON_OPTIONS,
    "NPL903": """Observed data far from the prior predictive.

## What it does
Compares each observed site's data with prior predictive draws: data outside the central 99% of the
prior predictive, or a prior predictive whose spread is over 100x the data's.

## Why is this bad?
A prior that ignores the data's scale makes sampling slow and unstable and weakly identifies nothing;
rstanarm rescales its default priors to the data for this reason.

## Example
`sigma ~ HalfNormal(1000)` for data with standard deviation 1.

## Use instead
Priors on the data's scale, or standardize the data.

## Fix safety
No fix.

""" + _COMMON_OPTIONS,
    "NPL904": """Poor convergence in the smoke run: split R-hat over 1.05 or bulk ESS under 100.

## What it does
Computes split R-hat and effective sample size per latent site from the smoke run.

## Why is this bad?
Chains that disagree or mix slowly give unreliable estimates.

## Example
A weakly identified model, or a multimodal posterior.

## Use instead
Reparameterize, use more informative priors, or run longer.

## Fix safety
No fix.

""" + _COMMON_OPTIONS,
    "NPL905": """The model raised an exception.

## What it does
Reports the exception raised while running the model, on the innermost line of the model's file in the
traceback.

## Why is this bad?
The model cannot be sampled.

## Example
A shape mismatch between a plate and its data.

## Use instead
Fix the error the message names.

## Fix safety
No fix.

""" + _COMMON_OPTIONS,
    "NPL906": """Tree depth saturated: more than 5% of NUTS transitions hit the maximum tree depth.

## What it does
Counts transitions whose tree depth reached NUTS's maximum.

## Why is this bad?
The sampler is taking the longest trajectories it can: the posterior is badly scaled or strongly
correlated, and sampling is slow.

## Example
Parameters on very different scales, or highly correlated regression coefficients.

## Use instead
Rescale the data or parameters, or use a dense mass matrix.

## Fix safety
No fix.

""" + _COMMON_OPTIONS,
    "NPL907": """NUTS could not reproduce the prior.

## What it does
Samples the model without its data with NUTS and compares each latent site's draws with exact prior draws
from `Predictive`.

## Why is this bad?
Without data the exact answer is known. A sampler that cannot reproduce it misses a region of the prior
(typically the neck of a funnel) even when it shows no divergences, and will miss it in the posterior too.

## Example
Neal's funnel: `y ~ Normal(0, 3)`, `x ~ Normal(0, exp(y / 2))`.

## Use instead
Non-center the sites whose scale depends on the site reported.

## Fix safety
No fix.

## Options
`prior-recovery-threshold` in `[tool.numpyro-lint.smoke]`.""",
}
