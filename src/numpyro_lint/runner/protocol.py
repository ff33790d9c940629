"""The JSON-lines protocol between the server/CLI side and the runner child. Standard library only.

One JSON object per line each way. The parent sends requests, the child answers with events that
carry the request's `id`:

    parent -> child   {"op": "run", "id": 3, "path": ..., "text": ..., "models": [ModelRequest...],
                       "settings": RunSettings}
                      {"op": "exit"}
    child -> parent   {"event": "ready", "pid": ..., "jax": "0.10.2", "numpyro": "0.22.0", "devices": [...]}
                      {"event": "fatal", "message": ...}            (cannot start: no JAX, ...)
                      {"event": "model", "id": 3, "model": "model"}  (a model's checks start: its deadline)
                      {"event": "progress", "id": 3, "model": ..., "message": "warmup 100/300"}
                      {"event": "findings", "id": 3, "model": ..., "stage": "prior", "findings": [...]}
                      {"event": "facts", "id": 3, "model": ..., "facts": ModelFacts}  (what the run measured)
                      {"event": "done", "id": 3, "rss_mb": 640.5}
                      {"event": "exit-called", "status": 3, "line": 12}   (the user's code called os._exit)
                      {"event": "memory", "rss_mb": 2100.0}                (over smoke.memory-mb: exiting)

Findings name sites and lines, never spans: the parent places them with the IR of the current text, so
a cached finding lands on the right line after an edit that moved it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

PROTOCOL_VERSION = 2
#: Exit status of a child that stopped itself because it went over smoke.memory-mb.
EXIT_MEMORY = 86
#: Stages of one model's checks, in order; each may publish findings as soon as it ends.
STAGES = ("load", "prior", "nuts", "advice", "recovery")


@dataclass(frozen=True)
class Related:
    message: str
    site: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class Finding:
    """One smoke finding, placed by site name (or by line, for tracebacks) rather than by span."""

    code: str
    message: str
    #: Qualified name of the model function it concerns (None: the file as a whole).
    model: str | None = None
    #: The site it is reported on; None to report on `line` or, failing that, the model's `def`.
    site: str | None = None
    #: A 1-based line of the user's file (innermost frame of a traceback), with its text at the time.
    line: int | None = None
    line_text: str | None = None
    related: tuple[Related, ...] = field(default=())
    severity: str = "warning"
    stage: str = "prior"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["related"] = [asdict(item) for item in self.related]
        return {key: value for key, value in data.items() if value not in (None, [], ())}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Finding:
        related = tuple(Related(**item) for item in data.get("related", ()))
        known = {key: value for key, value in data.items() if key in _FINDING_FIELDS and key != "related"}
        return cls(**known, related=related)


_FINDING_FIELDS = frozenset(Finding.__dataclass_fields__)


@dataclass(frozen=True)
class ModelRequest:
    """What the parent knows about a model to run, from the IR."""

    qualname: str
    #: The text inside `# numpyro-lint: smoke(...)` above the def, if any.
    directive: str | None = None
    directive_line: int | None = None
    #: Every parameter has a default (way (c) of finding arguments).
    all_defaults: bool = False
    #: Latent sites the centered-hierarchy rule (NPL501) flags: the measured-advice rerun
    #: non-centers them with LocScaleReparam(0).
    centered: tuple[str, ...] = ()
    #: Same value: the same compiled functions can serve (only the seed differs).
    compile_key: str = ""
    #: site -> the latent sites its distribution's parameters depend on (data flow in the function).
    parents: dict[str, list[str]] = field(default_factory=dict)
    #: site -> the latent sites its `scale` depends on.
    scale_parents: dict[str, list[str]] = field(default_factory=dict)

    def scale_children(self, site: str) -> list[str]:
        return [child for child, parents in self.scale_parents.items() if site in parents]


@dataclass(frozen=True)
class SiteFacts:
    """What a run measured about one site, for the editor's hover and inlay hints."""

    name: str
    kind: str  # "latent" | "observed" | "deterministic" | "factor"
    dtype: str  # "float32", "int32"...
    shape: tuple[int, ...]
    batch_shape: tuple[int, ...] = ()
    event_shape: tuple[int, ...] = ()
    #: 5%, 50% and 95% quantiles of the prior draws, over all of the site's elements.
    prior_quantiles: tuple[float, ...] = ()
    #: Posterior mean and sd of each element (the first MAX_COMPONENTS) in the smoke run with the data.
    posterior_mean: tuple[float, ...] = ()
    posterior_sd: tuple[float, ...] = ()
    #: Worst split R-hat and bulk ESS over its elements in that run.
    rhat: float | None = None
    ess: float | None = None


@dataclass(frozen=True)
class ModelFacts:
    """What a run measured about one model: its size, divergences, worst R-hat, time, and its sites."""

    model: str
    seconds: float
    #: Whether NUTS ran (not when the prior predictive already failed, nor without continuous latents).
    sampled: bool = False
    chains: int = 0
    samples: int = 0
    divergences: int = 0
    max_rhat: float | None = None
    sites: tuple[SiteFacts, ...] = ()

    def site(self, name: str) -> SiteFacts | None:
        return next((site for site in self.sites if site.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelFacts:
        sites = tuple(SiteFacts(**{key: tuple(value) if isinstance(value, list) else value
                                   for key, value in item.items() if key in _SITE_FIELDS})
                      for item in data.get("sites", ()))
        return cls(**{key: value for key, value in data.items() if key in _MODEL_FIELDS and key != "sites"},
                   sites=sites)


_SITE_FIELDS = frozenset(SiteFacts.__dataclass_fields__)
_MODEL_FIELDS = frozenset(ModelFacts.__dataclass_fields__)


@dataclass(frozen=True)
class RunSettings:
    chains: int = 2
    warmup: int = 300
    samples: int = 300
    seed: int = 0
    prior_recovery_threshold: float = 0.25
    max_tree_depth: int = 10


def encode(message: dict[str, Any]) -> bytes:
    return (json.dumps(message, separators=(",", ":")) + "\n").encode("utf-8")


def decode(line: bytes) -> dict[str, Any] | None:
    """A message, or None for a line that is not one (a stray write to the protocol stream)."""
    try:
        message = json.loads(line)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


def run_request(request_id: int, path: str, text: str, models: list[ModelRequest],
                settings: RunSettings) -> dict[str, Any]:
    return {
        "op": "run", "id": request_id, "path": path, "text": text,
        "models": [asdict(model) for model in models], "settings": asdict(settings),
    }
