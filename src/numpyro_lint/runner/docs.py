"""Documentation of the smoke-run findings (NPL900-NPL907). Text only: importing this imports no JAX."""

from __future__ import annotations

_COMMON_OPTIONS = """## Options
`[tool.numpyro-lint.smoke]`: `enabled` (editor only; `numpyro-lint smoke` needs no setting), `on-open`
(editor: also run the document opened last, so the model compiles before the first save; default true), `python`
(the interpreter of your project; default the linter's own), `platform` (`cpu` by default, so a
background check never takes GPU memory; `gpu`, or `auto` for JAX's choice), `memory-mb` (default 2048),
`timeout-s` (per stage: the prior predictive, each NUTS run; default 30), `chains`, `warmup`, `samples`
(default 2 x 300 x 300), `seed`, `prior-recovery-threshold` (NPL907), `cache-dir` (compilation cache and
results; default the per-user cache folder), `disk-cache` (keep results on disk too), `recycle-after`
(start a fresh runner process after this many runs)."""


SMOKE_DOCS: dict[str, str] = {
    "NPL900": """Smoke run skipped: no arguments found for the model.

## What it does
Reports, once per model, that the smoke runner could not find arguments to call the model with.

## Why is this bad?
Nothing is wrong with the model; the runner just cannot run it. It looks, in order, for a directive
comment above the `def` (evaluated in the module's namespace), for the file's own `MCMC.run`/
`MCMC.warmup`/`SVI.run`/`Predictive` calls (made when the file is imported, else in its
`if __name__ == "__main__":` block, which stops at the first such call), and for defaults on every
parameter.

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
Runs NUTS briefly (2 chains x 300 warmup x 300 samples by default, chains vectorized) and reports
divergent transitions, with their count and fraction, on the latent sites most implicated: the scale
site (one that other sites' scales depend on) whose draws at the divergent transitions sit lowest among
its draws (typically in its lowest decile), and the centered sites it feeds; without such a scale, the
scalar site whose divergent draws are most extreme; else the model's `def`.

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
Draws from the prior (`Predictive`, observed sites drawn too) and evaluates each site's log density, with
the data, at the first 32 draws; reports the sites with NaN or infinite values (not those that only
inherit them from a site already reported). Also a NUTS run that finds no initial values with a finite
log density.

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
Computes rank-normalized split R-hat and bulk effective sample size per latent site from the smoke run.

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
traceback. Also a run that does not finish within `timeout-s`, that goes over `memory-mb`, that crashes
the runner process (a segmentation fault in native code) or exits it (`os._exit`): each on the line the
runner's last Python stack shows in the file, else on the model's `def`; the runner starts afresh.

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
Samples the model without its data with NUTS (observed sites masked out of the density; the smoke
run's size, seed and compiled sampler) and compares each continuous latent site, in NUTS's unconstrained
space, with exact prior draws from `Predictive`. A site is not recovered when one of its 5, 10, 25, 50,
75, 90, 95% quantiles misses the prior's by more than `prior-recovery-threshold` (default 0.25) of the
prior's 5-95% spread and by more than twice the Monte Carlo error its bulk ESS allows; or when its bulk
ESS is under a tenth of the draws, too autocorrelated to stand for the prior at all. Reported once, on
the site most off (the scale that other failing sites depend on, in a funnel), with the figures. Skips
discrete and deterministic sites, and sites whose support depends on other sites.

## Why is this bad?
Without data the exact answer is known. A sampler that cannot reproduce it misses a region of the prior
(typically the neck of a funnel) even when it shows no divergences, and will miss it in the posterior too.

## Example
Neal's funnel: `y ~ Normal(0, 3)`, `x ~ Normal(0, exp(y / 2))`.

## Use instead
Non-center the sites whose scale depends on the site reported.

## Fix safety
No fix.

""" + _COMMON_OPTIONS,
}
