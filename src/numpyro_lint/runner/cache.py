"""Smoke results by key (see `targets`): in memory, and on disk when smoke.disk-cache is on.

What is stored is the child's findings (site names and lines), not diagnostics: they are placed again
on the current text, so a hit after an edit that moved lines lands on the right ones.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import OrderedDict
from pathlib import Path

from numpyro_lint.runner.protocol import PROTOCOL_VERSION, Finding

MEMORY_ENTRIES = 512


class ResultCache:
    def __init__(self, folder: str | None = None) -> None:
        self.memory: OrderedDict[str, tuple[Finding, ...]] = OrderedDict()
        self.folder = Path(folder) / f"results-v{PROTOCOL_VERSION}" if folder else None

    def get(self, key: str) -> tuple[Finding, ...] | None:
        if key in self.memory:
            self.memory.move_to_end(key)
            return self.memory[key]
        if self.folder is not None:
            try:
                data = json.loads((self.folder / f"{key}.json").read_text(encoding="utf-8"))
                findings = tuple(Finding.from_json(item) for item in data)
            except (OSError, ValueError, TypeError, KeyError):
                return None
            self._remember(key, findings)
            return findings
        return None

    def put(self, key: str, findings: list[Finding]) -> None:
        self._remember(key, tuple(findings))
        if self.folder is None:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
                json.dump([f.to_json() for f in findings], stream)
            os.replace(temporary, self.folder / f"{key}.json")
        except OSError:
            pass  # a read-only or full cache folder costs a rerun, nothing more

    def _remember(self, key: str, findings: tuple[Finding, ...]) -> None:
        self.memory[key] = findings
        self.memory.move_to_end(key)
        while len(self.memory) > MEMORY_ENTRIES:
            self.memory.popitem(last=False)
