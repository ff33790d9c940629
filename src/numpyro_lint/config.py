"""Settings: `[tool.numpyro-lint]` in pyproject.toml, overridden by CLI flags or editor settings."""

from __future__ import annotations

import fnmatch
import sys
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from numpyro_lint.codes import PEDANTIC, is_known_selector, normalize_selector

DEFAULT_EXCLUDE = (
    ".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", "__pycache__", "build", "dist",
    "node_modules", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints",
)


class ConfigError(ValueError):
    """A setting is unknown or has the wrong type; the message names it."""


@dataclass(frozen=True)
class SmokeSettings:
    enabled: bool = False
    #: Also run a document when it is opened (the model compiles before the first save).
    on_open: bool = True
    python: str | None = None
    platform: str = "cpu"
    memory_mb: int = 2048
    timeout_s: float = 30.0
    chains: int = 2
    warmup: int = 300
    samples: int = 300
    seed: int = 0
    prior_recovery_threshold: float = 0.25
    #: Where the JAX compilation cache and on-disk results live ("" = the per-user cache folder).
    cache_dir: str = ""
    #: Also keep smoke results on disk (in cache-dir), not only in memory.
    disk_cache: bool = False
    #: Start a fresh runner process after this many runs (0 = never); memory grows with each run.
    recycle_after: int = 10


@dataclass(frozen=True)
class Settings:
    select: tuple[str, ...] = ("NPL",)
    ignore: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    extend_exclude: tuple[str, ...] = ()
    wide_prior_scale: float = 100.0
    #: NPL401's unsafe fix replaces a wide scale with this one (Stan's "weakly informative" rung).
    weak_prior_scale: float = 10.0
    #: NPL402's unsafe fix: Gamma(concentration, rate) to use instead of a vague Gamma.
    gamma_replacement: tuple[float, float] = (2.0, 0.1)
    debounce_ms: int = 0
    #: The editor shows each site's shape after its `sample(...)` call, from the last smoke run.
    inlay_hints: bool = False
    #: Resolve names used without an import as NumPyro code means them (`dist`, `jnp`, `MCMC`...).
    conventional_names: bool = True
    #: Globs of further files to check when walking folders (`*.md`, `*.qmd`, `*.rst`: their code blocks).
    extend_include: tuple[str, ...] = ()
    smoke: SmokeSettings = field(default_factory=SmokeSettings)

    @property
    def pedantic(self) -> bool:
        """Whether the pedantic tier is selected (`select = ["NPL", "pedantic"]` or `extend-select`)."""
        return PEDANTIC in self.select and PEDANTIC not in self.ignore

    def is_enabled(self, code: str, path: str | None = None) -> bool:
        if not _matches_any(code, self.select) or _matches_any(code, self.ignore):
            return False
        if path is not None:
            for pattern, codes in self.per_file_ignores:
                if _path_matches(path, pattern) and _matches_any(code, codes):
                    return False
        return True


def _matches_any(code: str, selectors: tuple[str, ...]) -> bool:
    return any(selector == "ALL" or code.startswith(selector) for selector in selectors)


def _path_matches(path: str, pattern: str) -> bool:
    posix = Path(path).as_posix()
    return (
        fnmatch.fnmatch(posix, pattern)
        or fnmatch.fnmatch(posix, f"*/{pattern}")
        or fnmatch.fnmatch(Path(path).name, pattern)
    )


# Key in TOML -> (field name, expected kind). Kinds: "codes", "str-list", "number", "int", "bool",
# "str", "pair", "per-file".
_TOP_LEVEL_KEYS: dict[str, tuple[str, str]] = {
    "select": ("select", "codes"),
    "ignore": ("ignore", "codes"),
    "extend-select": ("extend_select", "codes"),
    "per-file-ignores": ("per_file_ignores", "per-file"),
    "exclude": ("exclude", "str-list"),
    "extend-exclude": ("extend_exclude", "str-list"),
    "wide-prior-scale": ("wide_prior_scale", "number"),
    "weak-prior-scale": ("weak_prior_scale", "number"),
    "gamma-replacement": ("gamma_replacement", "pair"),
    "debounce-ms": ("debounce_ms", "int"),
    "inlay-hints": ("inlay_hints", "bool"),
    "conventional-names": ("conventional_names", "bool"),
    "extend-include": ("extend_include", "str-list"),
}
_SMOKE_KEYS: dict[str, tuple[str, str]] = {
    "enabled": ("enabled", "bool"),
    "on-open": ("on_open", "bool"),
    "python": ("python", "str"),
    "platform": ("platform", "str"),
    "memory-mb": ("memory_mb", "int"),
    "timeout-s": ("timeout_s", "number"),
    "chains": ("chains", "int"),
    "warmup": ("warmup", "int"),
    "samples": ("samples", "int"),
    "seed": ("seed", "int"),
    "prior-recovery-threshold": ("prior_recovery_threshold", "number"),
    "cache-dir": ("cache_dir", "str"),
    "disk-cache": ("disk_cache", "bool"),
    "recycle-after": ("recycle_after", "int"),
}


def _convert(key: str, kind: str, value: Any) -> Any:
    def fail(expected: str) -> ConfigError:
        return ConfigError(f"`{key}` must be {expected}, got {value!r}")

    if kind in ("codes", "str-list"):
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise fail("a list of strings")
        if kind == "codes":
            for item in value:
                if not is_known_selector(item):
                    raise ConfigError(f"unknown rule code {item!r} in `{key}`")
            return tuple(normalize_selector(item) for item in value)
        return tuple(value)
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise fail("a positive number")
        return float(value)
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise fail("a non-negative integer")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise fail("true or false")
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise fail("a string")
        return value
    if kind == "pair":
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in value)
        ):
            raise fail("a list of two positive numbers")
        return (float(value[0]), float(value[1]))
    if kind == "per-file":
        if not isinstance(value, dict):
            raise fail("a table of glob = [codes]")
        return tuple((pattern, _convert(f"{key}.{pattern}", "codes", codes)) for pattern, codes in value.items())
    raise AssertionError(kind)


def settings_from_mapping(table: Mapping[str, Any], base: Settings | None = None) -> Settings:
    """Apply a `[tool.numpyro-lint]`-shaped mapping (kebab-case keys) on top of `base`."""
    settings = base or Settings()
    changes: dict[str, Any] = {}
    for key, value in table.items():
        if key == "smoke":
            if not isinstance(value, Mapping):
                raise ConfigError(f"`smoke` must be a table, got {value!r}")
            smoke_changes = {}
            for smoke_key, smoke_value in value.items():
                if smoke_key not in _SMOKE_KEYS:
                    raise ConfigError(f"unknown setting `smoke.{smoke_key}`")
                name, kind = _SMOKE_KEYS[smoke_key]
                smoke_changes[name] = _convert(f"smoke.{smoke_key}", kind, smoke_value)
            changes["smoke"] = replace(settings.smoke, **smoke_changes)
            continue
        if key not in _TOP_LEVEL_KEYS:
            known = ", ".join(sorted([*_TOP_LEVEL_KEYS, "smoke"]))
            raise ConfigError(f"unknown setting `{key}` (known: {known})")
        name, kind = _TOP_LEVEL_KEYS[key]
        changes[name] = _convert(key, kind, value)
    extend_select = changes.pop("extend_select", ())
    settings = replace(settings, **changes)
    if extend_select:
        settings = replace(settings, select=settings.select + extend_select)
    return settings


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml at or above `start` that has a [tool.numpyro-lint] table, else the
    nearest pyproject.toml of any kind."""
    start = start.resolve()
    directory = start if start.is_dir() else start.parent
    nearest = None
    for candidate_dir in (directory, *directory.parents):
        candidate = candidate_dir / "pyproject.toml"
        if candidate.is_file():
            nearest = nearest or candidate
            try:
                if b"numpyro-lint" in candidate.read_bytes():
                    return candidate
            except OSError:
                continue
    return nearest


def load_pyproject(path: Path, base: Settings | None = None) -> Settings:
    """Settings from a pyproject.toml; raises ConfigError with a one-line reason when it is broken."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read: {error}") from None
    table = data.get("tool", {}).get("numpyro-lint", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.numpyro-lint] must be a table")
    try:
        return settings_from_mapping(table, base)
    except ConfigError as error:
        raise ConfigError(f"{path}: [tool.numpyro-lint]: {error}") from None


def settings_field_names() -> list[str]:
    return [f.name for f in fields(Settings)]
