"""One run request in the child: load the file, find each model's arguments, run the checks in stages.

Stages per model, each publishing its findings as soon as it ends: `prior` (exact prior draws:
NPL902, NPL903), `nuts` (the smoke run: NPL901, NPL904, NPL906), `advice` (NPL501's fix measured),
`recovery` (NUTS without the data against the prior: NPL907). A model's compiled functions are kept
by its compile key, so a rerun with another seed, or after an edit elsewhere in the file, compiles
nothing.
"""

from __future__ import annotations

import inspect
import math
import os
import sys
import time
import traceback
from collections import OrderedDict
from typing import Any, Callable

import jax
import numpyro
from numpyro.primitives import _PYRO_STACK

from numpyro_lint.runner import checks, facts
from numpyro_lint.runner.loading import UserCodeError, find_call, load_module
from numpyro_lint.runner.protocol import Finding, ModelRequest, RunSettings
from numpyro_lint.runner.sampling import ModelSession

#: Models whose compiled functions stay in memory (the process is recycled anyway).
KEPT_SESSIONS = 6
#: At most this many values in all prior draws together (about 80 MB of float32).
PRIOR_DRAW_ELEMENTS = 20_000_000
#: JAX settings a user's file may change for its own run; restored after every request.
_JAX_FLAGS = ("jax_enable_x64", "jax_debug_nans", "jax_disable_jit")


def configure(cache_dir: str | None) -> dict[str, Any]:
    """Turn on the persistent compilation cache; what the ready message reports."""
    if cache_dir:
        jax.config.update("jax_compilation_cache_dir", os.path.join(cache_dir, "jax"))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    # Invalid parameters should show as the NaN they produce (NPL902), not stop the trace with an error.
    numpyro.enable_validation(False)
    return {"jax": jax.__version__, "numpyro": numpyro.__version__,
            "devices": [str(device) for device in jax.devices()], "python": sys.executable}


class Pipeline:
    def __init__(self, send: Callable[[dict], None]) -> None:
        self.send = send
        self.current_path: str | None = None
        self.sessions: OrderedDict[str, ModelSession] = OrderedDict()

    def run(self, message: dict) -> None:
        _PYRO_STACK.clear()  # a handler a previous file entered and never left
        request = _Request(self, message)
        self.current_path = request.path
        flags = {name: getattr(jax.config, name) for name in _JAX_FLAGS}
        try:
            request.run()
        finally:
            for name, value in flags.items():
                jax.config.update(name, value)
            numpyro.enable_validation(False)
            self.current_path = None

    def keep(self, key: str, session: ModelSession) -> None:
        self.sessions[key] = session
        self.sessions.move_to_end(key)
        while len(self.sessions) > KEPT_SESSIONS:
            self.sessions.popitem(last=False)


class _Request:
    def __init__(self, pipeline: Pipeline, message: dict) -> None:
        self.pipeline = pipeline
        self.id = message["id"]
        self.path = message["path"]
        self.text = message["text"]
        self.settings = RunSettings(**message["settings"])
        self.models = [ModelRequest(**model) for model in message["models"]]
        self.loaded = None
        self.load_failed = False

    def send(self, event: str, **fields) -> None:
        self.pipeline.send({"event": event, "id": self.id, **fields})

    def publish(self, model: str | None, stage: str, findings: list[Finding]) -> None:
        self.send("findings", model=model, stage=stage, findings=[f.to_json() for f in findings])

    def run(self) -> None:
        for model in self.models:
            if self.load_failed:
                return
            self.send("model", model=model.qualname)
            try:
                self.run_model(model)
            except Exception as error:  # noqa: BLE001 - the user's model: report, never crash the child
                traceback.print_exc(file=sys.stderr)
                self.publish(model.qualname, "nuts", [self.raised(error, model, "the smoke run")])

    def session(self, model: ModelRequest) -> ModelSession | None:
        key = model.compile_key
        if key and key in self.pipeline.sessions:
            self.pipeline.sessions.move_to_end(key)
            return self.pipeline.sessions[key]
        if self.loaded is None:
            self.progress(model.qualname)("loading the file")
            try:
                # The main block only matters to models without a directive.
                run_main = any(m.directive is None for m in self.models)
                self.loaded = load_module(self.path, self.text, run_main)
            except UserCodeError as error:
                self.load_failed = True
                self.publish(None, "load", [self.raised(error.error, None, error.during.capitalize())])
                return None
        try:
            call = find_call(self.loaded, model.qualname, model.directive, model.all_defaults)
        except UserCodeError as error:
            finding = Finding("NPL900", checks.exception_message(error.error, "the smoke directive"),
                              model=model.qualname, line=model.directive_line, severity="information",
                              stage="load")
            self.publish(model.qualname, "load", [finding])
            return None
        if call is None:
            self.publish(model.qualname, "load", [self.no_arguments(model)])
            return None
        self.progress(model.qualname)(f"tracing the model (arguments from {call.how})")
        session = ModelSession(call, self.settings)
        if key:
            self.pipeline.keep(key, session)
        return session

    def run_model(self, model: ModelRequest) -> None:
        progress = self.progress(model.qualname)
        started = time.perf_counter()
        try:
            session = self.session(model)
        except Exception as error:  # tracing the model raised
            self.publish(model.qualname, "load", [self.raised(error, model, "Running the model")])
            return
        if session is None:
            return
        measured: dict[str, Any] = {}
        try:
            self.check_model(model, session, progress, measured)
        finally:
            self.send_facts(model, session, started, measured)

    def send_facts(self, model: ModelRequest, session: ModelSession, started: float, measured: dict) -> None:
        """What the run measured (shapes, prior quantiles, the smoke posterior), for the editor."""
        try:
            found = facts.model_facts(model.qualname, time.perf_counter() - started, session.sites,
                                      measured.get("prior"), measured.get("chains"))
        except Exception:  # never lose the findings over the facts
            traceback.print_exc(file=sys.stderr)
            return
        self.send("facts", model=model.qualname, facts=found.to_json())

    def check_model(self, model: ModelRequest, session: ModelSession, progress, measured: dict) -> None:
        settings = self.settings
        key = jax.random.PRNGKey(settings.seed)
        prior_key, nuts_key, recovery_key = jax.random.split(key, 3)
        progress("prior predictive")
        try:
            prior = session.prior_draws(prior_key, _prior_draw_count(session, settings))
            findings = checks.nonfinite_draws(prior, session.sites, model)
            findings = findings or checks.nonfinite_log_densities(session.log_densities(prior), session.sites, model)
            findings += checks.prior_predictive_vs_data(prior, session.sites, model)
        except Exception as error:
            self.publish(model.qualname, "prior", [self.raised(error, model, "The prior predictive")])
            return
        measured["prior"] = prior
        self.publish(model.qualname, "prior", findings)
        if any(f.code == "NPL902" for f in findings) or not session.continuous_latents:
            return
        chains = self.stage(model, "nuts", lambda: session.sample(nuts_key, True, progress))
        if chains is None:
            return
        measured["chains"] = chains
        nuts_findings = (checks.divergence_findings(chains, model) + checks.convergence_findings(chains, model)
                         + checks.tree_depth_findings(chains, model))
        self.publish(model.qualname, "nuts", nuts_findings)
        if chains.divergences and model.centered:
            self.measure_advice(model, session, nuts_key, chains)
        if session.observed:
            recovery = self.stage(model, "recovery", lambda: session.sample(
                recovery_key, False, self.progress(model.qualname, "prior recovery: ")))
        else:
            recovery = chains  # no data: the smoke run already sampled the prior
        if recovery is not None:
            self.publish(model.qualname, "recovery", checks.prior_recovery_findings(
                recovery, prior, session.sites, model, settings.prior_recovery_threshold))

    def measure_advice(self, model: ModelRequest, session: ModelSession, key, before) -> None:
        def rerun():
            fixed = session.non_centered(tuple(model.centered))
            return fixed.sample(key, True, self.progress(model.qualname, "non-centered: "))

        after = self.stage(model, "advice", rerun, report=False)
        if after is not None:
            self.publish(model.qualname, "advice", checks.advice_findings(before, after, model))

    def stage(self, model: ModelRequest, stage: str, work: Callable, report: bool = True):
        try:
            return work()
        except Exception as error:
            traceback.print_exc(file=sys.stderr)
            if report:
                during = {"nuts": "The NUTS smoke run", "recovery": "The prior-recovery run"}[stage]
                self.publish(model.qualname, stage, [self.nuts_failure(error, model, during)])
            return None

    def nuts_failure(self, error: BaseException, model: ModelRequest, during: str) -> Finding:
        if "Cannot find valid initial parameters" in str(error):
            return Finding("NPL902", f"{during} found no initial values with a finite log density: the model's "
                                     f"density is NaN or -inf wherever NUTS looked (check scales and supports)",
                           model=model.qualname, stage="nuts")
        return self.raised(error, model, during)

    def progress(self, qualname: str, prefix: str = "") -> Callable[[str], None]:
        return lambda message: self.send("progress", model=qualname, message=prefix + message)

    def raised(self, error: BaseException, model: ModelRequest | None, during: str) -> Finding:
        """NPL905 on the innermost line of the user's file in the traceback (else on the model)."""
        line = None
        for frame in reversed(_frames(error)):
            if frame.filename == self.path:
                line = frame.lineno
                break
        line_text = self.text.splitlines()[line - 1].strip() if line and line <= len(self.text.splitlines()) else None
        message = checks.exception_message(error, during)
        return Finding("NPL905", message, model=model.qualname if model else None, line=line,
                       line_text=line_text, stage="nuts")

    def no_arguments(self, model: ModelRequest) -> Finding:
        directive = _directive_example(self.loaded.namespace if self.loaded else {}, model.qualname)
        return Finding(
            "NPL900",
            f"the smoke runner found no arguments to run `{model.qualname}` with: the file makes no "
            f"MCMC/SVI/Predictive call on it and not all of its parameters have defaults; add "
            f"`# numpyro-lint: {directive}` right above its `def`",
            model=model.qualname, severity="information", stage="load")


def _prior_draw_count(session: ModelSession, settings: RunSettings) -> int:
    """As many exact prior draws as NUTS makes, fewer when the model's sites are large (memory)."""
    elements = sum(math.prod(site.shape) for site in session.sites.values()) or 1
    return max(100, min(settings.chains * settings.samples, PRIOR_DRAW_ELEMENTS // elements))


def _frames(error: BaseException) -> list[traceback.FrameSummary]:
    frames: list[traceback.FrameSummary] = []
    seen = set()
    current: BaseException | None = error
    chain = []
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or current.__context__
    for exc in reversed(chain):  # the original error's frames first, the final one's last
        frames.extend(traceback.extract_tb(exc.__traceback__))
    return frames


def _directive_example(namespace: dict, qualname: str) -> str:
    function = namespace.get(qualname) if "." not in qualname else None
    try:
        parameters = inspect.signature(function).parameters.values() if function else ()
    except (TypeError, ValueError):
        parameters = ()
    names = [p.name for p in parameters if p.default is inspect.Parameter.empty
             and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    return f"smoke({', '.join(f'{name}=...' for name in names)})" if names else "smoke(...)"
