"""Runs of one model in the child: its trace, exact prior draws, per-site log densities, and NUTS.

NUTS is driven in jitted chunks of iterations (one compiled function for warmup and sampling, and for
the runs with and without the data: whether observed sites count is a traced argument), so progress
can be reported between chunks and a second run of the same model compiles nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
from jax import lax, random
from numpyro import handlers
from numpyro.distributions.transforms import biject_to
from numpyro.infer import NUTS, DiscreteHMCGibbs
from numpyro.infer.hmc import hmc
from numpyro.infer.reparam import LocScaleReparam
from numpyro.infer.util import initialize_model
from numpyro.primitives import Messenger

from numpyro_lint.runner.loading import ModelCall
from numpyro_lint.runner.protocol import RunSettings

#: The keyword that tells the wrapped model whether observed sites count in the density.
KEEP_DATA = "__numpyro_lint_keep_data__"
#: Per-site log densities are checked at this many prior draws.
LOG_DENSITY_DRAWS = 32
#: Iterations per jitted chunk, at most (progress is reported between chunks).
MAX_CHUNK = 50

Progress = Callable[[str], None]


@dataclass(frozen=True)
class SiteInfo:
    name: str
    kind: str  # "latent" | "observed" | "deterministic" | "factor"
    discrete: bool
    shape: tuple[int, ...]
    #: The bijection from the unconstrained space NUTS works in, when the support is fixed and
    #: elementwise; None for discrete sites and supports that depend on other sites.
    transform: Any = None
    data: np.ndarray | None = None
    dtype: str = "float32"
    batch_shape: tuple[int, ...] = ()
    event_shape: tuple[int, ...] = ()


@dataclass
class Chains:
    """Post-warmup output of a NUTS run; arrays are (chains, draws, ...), latent sites unconstrained."""

    unconstrained: dict[str, np.ndarray]
    diverging: np.ndarray
    num_steps: np.ndarray
    settings: RunSettings

    @property
    def divergences(self) -> int:
        return int(self.diverging.sum())

    @property
    def transitions(self) -> int:
        return int(self.diverging.size)


class _ObservedMask(Messenger):
    """Drops observed sites from the density when `keep` is false (a traced boolean)."""

    def __init__(self, fn=None, keep=True):
        self.keep = keep
        super().__init__(fn)

    def process_message(self, msg):
        if msg["type"] == "sample" and msg["is_observed"] and not _is_factor(msg["fn"]):
            msg["fn"] = msg["fn"].mask(self.keep)


class _Unobserve(Messenger):
    """Samples observed sites instead of conditioning on the data: the prior predictive."""

    def process_message(self, msg):
        if msg["type"] == "sample" and msg["is_observed"] and not _is_factor(msg["fn"]):
            msg["is_observed"] = False
            msg["value"] = None


def _is_factor(fn: Any) -> bool:
    while hasattr(fn, "base_dist"):
        fn = fn.base_dist
    return type(fn).__name__ == "Unit"


def with_data_switch(model: Callable) -> Callable:
    def switchable_model(*args, **kwargs):
        keep = kwargs.pop(KEEP_DATA, True)
        with _ObservedMask(keep=keep):
            return model(*args, **kwargs)

    return switchable_model


class ModelSession:
    """One model with its arguments, and the compiled functions that run it (kept between requests)."""

    def __init__(self, call: ModelCall, settings: RunSettings) -> None:
        self.call = call
        self.settings = settings
        self.sites = {name: _site_info(name, site) for name, site in _abstract_trace(call).items()
                      if _site_kind(site)}
        self._prior = None
        self._log_density = None
        self._sampler: _Sampler | None = None
        self.reparametrized: dict[tuple[str, ...], ModelSession] = {}

    @property
    def continuous_latents(self) -> list[str]:
        return [s.name for s in self.sites.values() if s.kind == "latent" and not s.discrete]

    @property
    def discrete_latents(self) -> list[str]:
        return [s.name for s in self.sites.values() if s.kind == "latent" and s.discrete]

    @property
    def observed(self) -> list[SiteInfo]:
        return [s for s in self.sites.values() if s.kind == "observed" and s.data is not None]

    def prior_draws(self, key, count: int) -> dict[str, np.ndarray]:
        """Exact draws of every site from the prior (observed sites drawn, not conditioned)."""
        if self._prior is None:
            call = self.call
            predictive = numpyro.infer.Predictive(_Unobserve(call.model), num_samples=count)
            self._prior = jax.jit(lambda k: predictive(k, *call.args, **call.kwargs))
        return {name: np.asarray(value) for name, value in self._prior(key).items()}

    def log_densities(self, draws: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Each site's log density (summed over its elements) at the first prior draws, with the data."""
        latent = {name: value[:LOG_DENSITY_DRAWS] for name, value in draws.items()
                  if name in self.sites and self.sites[name].kind == "latent"}
        if self._log_density is None:
            call = self.call

            def at(draw):
                model = handlers.substitute(handlers.seed(call.model, 0), data=draw)
                trace = handlers.trace(model).get_trace(*call.args, **call.kwargs)
                return {name: _site_log_prob(site) for name, site in trace.items()
                        if site["type"] == "sample"}

            # Without latent sites there is nothing to map over: one evaluation, at the data.
            self._log_density = jax.jit(jax.vmap(at) if latent else lambda _: jax.tree.map(jnp.atleast_1d, at({})))
        return {name: np.asarray(value) for name, value in self._log_density(latent).items()}

    def sample(self, key, keep_data: bool, progress: Progress) -> Chains:
        """A NUTS run at the smoke size; without the data when keep_data is false."""
        if self._sampler is None:
            kind = _GibbsSampler if self.discrete_latents else _NutsSampler
            self._sampler = kind(self.call, self.settings)
        return _run_chains(self._sampler, key, keep_data, self.settings, progress)

    def non_centered(self, sites: tuple[str, ...]) -> ModelSession:
        """The same model with `sites` non-centered by LocScaleReparam(0): NPL501's safe fix, in memory."""
        if sites not in self.reparametrized:
            model = handlers.reparam(self.call.model, config={name: LocScaleReparam(0) for name in sites})
            call = ModelCall(model, self.call.args, self.call.kwargs, self.call.how)
            self.reparametrized[sites] = ModelSession(call, self.settings)
        return self.reparametrized[sites]


def _abstract_trace(call: ModelCall) -> dict:
    """The model's trace with abstract values: shapes, distributions and data, and no compilation
    (run eagerly, every operation of the model would be compiled on its own)."""
    captured: dict = {}

    def trace(key):
        captured.update(handlers.trace(handlers.seed(call.model, key)).get_trace(*call.args, **call.kwargs))
        return 0

    jax.eval_shape(trace, random.PRNGKey(0))
    return captured


def _site_kind(site: dict) -> str | None:
    if site["type"] == "deterministic":
        return "deterministic"
    if site["type"] != "sample":
        return None
    if _is_factor(site["fn"]):
        return "factor"
    return "observed" if site["is_observed"] else "latent"


def _site_info(name: str, site: dict) -> SiteInfo:
    kind = _site_kind(site)
    value = site["value"]
    shape = tuple(np.shape(value))
    dtype = str(value.dtype) if hasattr(value, "dtype") else str(np.result_type(value))
    if kind in ("deterministic", "factor"):
        return SiteInfo(name, kind, False, shape, dtype=dtype, batch_shape=shape)
    fn = site["fn"]
    support = fn.support
    discrete = bool(support.is_discrete)
    data = None
    if kind == "observed":
        try:
            data = np.asarray(value, dtype=float)
        except Exception:  # data computed inside the model: an abstract value here
            data = None
    return SiteInfo(name, kind, discrete, shape, None if discrete else _static_transform(support), data,
                    dtype, tuple(fn.batch_shape), tuple(fn.event_shape))


def _static_transform(support: Any) -> Any:
    """biject_to(support) when it is elementwise and does not depend on other sites, else None."""
    if support.event_dim != 0:
        return None
    for bound in ("lower_bound", "upper_bound"):
        if hasattr(support, bound) and not isinstance(getattr(support, bound), (int, float)):
            return None
    try:
        return biject_to(support)
    except NotImplementedError:
        return None


def _site_log_prob(site: dict):
    log_prob = site["fn"].log_prob(site["value"])
    if site.get("scale") is not None:
        log_prob = log_prob * site["scale"]
    return jnp.sum(log_prob)


class _Sampler:
    """A batch of chains: `init` a state, `step` it; `chunk` runs `length` steps, jitted."""

    def __init__(self, call: ModelCall, settings: RunSettings) -> None:
        self.call = call
        self.settings = settings
        self.model = with_data_switch(call.model)
        self.chunk_length = _chunk_length(settings.warmup, settings.samples)
        self._chunk = None

    def kwargs(self, keep_data) -> dict:
        return {**self.call.kwargs, KEEP_DATA: keep_data}

    def chunk(self, state, keep_data):
        if self._chunk is None:
            self._chunk = _jit_chunk(self.step, self.fields, self.chunk_length)
        return self._chunk(state, keep_data)


class _NutsSampler(_Sampler):
    """NUTS through NumPyro's functional API, so that one compiled step serves every run."""

    def __init__(self, call: ModelCall, settings: RunSettings) -> None:
        super().__init__(call, settings)
        self._init_states = self._sample_kernel = None

    def init(self, key, keep_data):
        keys = random.split(key, self.settings.chains)
        info = initialize_model(keys, self.model, dynamic_args=True, model_args=self.call.args,
                                model_kwargs=self.kwargs(True))
        if self._init_states is None:
            init_kernel, self._sample_kernel = hmc(potential_fn_gen=info.potential_fn, algo="NUTS")
            settings = self.settings

            def init_one(z, rng_key, keep):
                return init_kernel(z, settings.warmup, max_tree_depth=settings.max_tree_depth,
                                   model_args=self.call.args, model_kwargs=self.kwargs(keep), rng_key=rng_key)

            # Jitted: run eagerly, every small operation under vmap would be compiled on its own.
            self._init_states = jax.jit(jax.vmap(init_one, in_axes=(0, 0, None)))
        return self._init_states(info.param_info.z, keys, jnp.asarray(keep_data))

    def step(self, state, keep_data):
        return jax.vmap(self._sample_kernel, in_axes=(0, None, None))(state, self.call.args, self.kwargs(keep_data))

    @staticmethod
    def fields(state):
        return state.z, state.diverging, state.num_steps


class _GibbsSampler(_Sampler):
    """Models with discrete latent sites: Gibbs updates for those, NUTS for the rest (no funsor needed)."""

    def __init__(self, call: ModelCall, settings: RunSettings) -> None:
        super().__init__(call, settings)
        self._kernel = DiscreteHMCGibbs(NUTS(self.model, max_tree_depth=settings.max_tree_depth))

    def init(self, key, keep_data):
        # Gibbs takes one key at a time: initialize the chains one by one (which also keeps the kernel's
        # step unbatched, so the compiled chunk serves every run), step them together.
        states = [self._kernel.init(k, self.settings.warmup, None, self.call.args, self.kwargs(keep_data))
                  for k in random.split(key, self.settings.chains)]
        return jax.tree.map(lambda *parts: jnp.stack(parts), *states)

    def step(self, state, keep_data):
        return jax.vmap(lambda one: self._kernel.sample(one, self.call.args, self.kwargs(keep_data)))(state)

    @staticmethod
    def fields(state):
        return state.hmc_state.z, state.hmc_state.diverging, state.hmc_state.num_steps


def _jit_chunk(step, fields, length: int):
    def chunk(state, keep_data):
        def body(current, _):
            current = step(current, keep_data)
            return current, fields(current)

        return lax.scan(body, state, None, length=length)

    return jax.jit(chunk)


def _chunk_length(warmup: int, samples: int) -> int:
    """The largest divisor of both run lengths up to MAX_CHUNK; MAX_CHUNK (overrunning) when that is tiny."""
    common = math.gcd(warmup, samples) or max(warmup, samples, 1)
    best = max(d for d in range(1, min(common, MAX_CHUNK) + 1) if common % d == 0)
    return best if best >= 10 else min(MAX_CHUNK, max(warmup + samples, 1))


def _run_chains(sampler: _Sampler, key, keep_data: bool, settings: RunSettings, progress: Progress) -> Chains:
    progress("compiling")
    state = sampler.init(key, keep_data)
    keep = jnp.asarray(keep_data)
    total = settings.warmup + settings.samples
    outputs = []
    done = 0
    while done < total:
        state, output = sampler.chunk(state, keep)
        outputs.append(jax.device_get(output))
        done += sampler.chunk_length
        if done <= settings.warmup:
            progress(f"warmup {done}/{settings.warmup}")
        else:
            progress(f"sampling {min(done - settings.warmup, settings.samples)}/{settings.samples}")
    window = slice(settings.warmup, total)

    def collect(*parts):
        joined = np.concatenate(parts)[window]  # (draws, chains, ...)
        return np.swapaxes(joined, 0, 1)

    z = jax.tree.map(collect, *[output[0] for output in outputs])
    diverging = collect(*[output[1] for output in outputs])
    num_steps = collect(*[output[2] for output in outputs])
    return Chains(dict(z), diverging, num_steps, settings)
