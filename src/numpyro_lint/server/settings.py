"""Settings for one document: defaults, then the nearest pyproject.toml, then the editor's settings.

The editor's settings come from `initializationOptions` and from the `numpyro-lint` section of
`workspace/configuration` (or of `workspace/didChangeConfiguration`), with the keys of the
`[tool.numpyro-lint]` table (kebab-case: `select`, `ignore`, `wide-prior-scale`, `debounce-ms`,
`smoke = {enabled = ...}`). A null value means "not set". A broken pyproject.toml or a bad editor setting
is reported once, as a warning, and that layer is left out: the server never stops over configuration.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Mapping

from numpyro_lint.config import ConfigError, Settings, find_pyproject, load_pyproject, settings_from_mapping

logger = logging.getLogger(__name__)

SECTION = "numpyro-lint"


def editor_table(value: Any) -> dict[str, Any]:
    """The settings mapping an editor sent, without unset (null) values; {} for anything but a mapping."""
    if not isinstance(value, Mapping):
        return {}
    table = {}
    for key, item in value.items():
        if isinstance(item, Mapping):
            item = {k: v for k, v in item.items() if v is not None}
        if item is not None:
            table[str(key)] = item
    return table


class SettingsResolver:
    """Resolves and caches settings per document path; `generation` changes whenever any input does."""

    def __init__(self, root: Path | None, warn: Callable[[str], None]) -> None:
        self._root = root
        self._warn = warn
        self._editor_given: dict[str, Any] = {}
        self._editor: dict[str, Any] = {}
        self._pyproject_of_folder: dict[Path, Path | None] = {}
        self._loaded: dict[Path, tuple[int | None, Settings]] = {}
        self._warned: set[str] = set()
        self.generation = 0

    def set_editor_settings(self, value: Any) -> bool:
        """Take the editor's settings (a bad one is left out, with a warning); True when they differ
        from the ones in force."""
        given = editor_table(value)
        if given == self._editor_given:
            return False
        self._editor_given = given
        self._warned.clear()
        table = self._valid_settings(given)
        if table == self._editor:
            return False
        self._editor = table
        self.generation += 1
        return True

    def _valid_settings(self, table: dict[str, Any]) -> dict[str, Any]:
        valid: dict[str, Any] = {}
        for key, value in table.items():
            try:
                settings_from_mapping({key: value})
            except ConfigError as error:
                self._warn_once(f"numpyro-lint: ignoring an editor setting: {error}")
                continue
            valid[key] = value
        return valid

    def pyproject_changed(self) -> None:
        """A pyproject.toml was created, changed or deleted: read them again."""
        self._pyproject_of_folder.clear()
        self._loaded.clear()
        self._warned.clear()
        self.generation += 1

    def check_for_changes(self) -> bool:
        """For clients that cannot watch files: True (and caches dropped) when a pyproject.toml in use
        changed on disk."""
        for path, (mtime, _) in self._loaded.items():
            if _mtime(path) != mtime:
                self.pyproject_changed()
                return True
        return False

    def for_path(self, path: str | None) -> Settings:
        base = self._pyproject_settings(path)
        if not self._editor:
            return base
        try:
            return settings_from_mapping(self._editor, base)
        except ConfigError as error:  # valid alone, but not over this pyproject (cannot happen today)
            self._warn_once(f"numpyro-lint: ignoring the editor settings: {error}")
            return base

    def _pyproject_settings(self, path: str | None) -> Settings:
        folder = Path(path).parent if path else self._root
        if folder is None:
            return Settings()
        if folder not in self._pyproject_of_folder:
            self._pyproject_of_folder[folder] = find_pyproject(folder) if folder.is_dir() else None
        pyproject = self._pyproject_of_folder[folder]
        if pyproject is None:
            return Settings()
        if pyproject not in self._loaded:
            mtime = _mtime(pyproject)
            try:
                settings = load_pyproject(pyproject)
            except ConfigError as error:
                self._warn_once(f"numpyro-lint: {error}; using the default settings for it")
                settings = Settings()
            self._loaded[pyproject] = (mtime, settings)
        return self._loaded[pyproject][1]

    def _warn_once(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            logger.warning("%s", message)
            self._warn(message)


def _mtime(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None
