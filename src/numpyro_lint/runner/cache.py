"""Smoke results by key (see `targets`): in memory, and on disk when smoke.disk-cache is on.

What is stored is the child's findings (site names and lines), not diagnostics: they are placed again
on the current text, so a hit after an edit that moved lines lands on the right ones; and what the run
measured (`ModelFacts`), for the editor.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from numpyro_lint.runner.protocol import PROTOCOL_VERSION, Finding, ModelFacts

MEMORY_ENTRIES = 512


@dataclass(frozen=True)
class CachedResult:
    findings: tuple[Finding, ...]
    facts: ModelFacts | None = None


class ResultCache:
    def __init__(self, folder: str | None = None) -> None:
        self.memory: OrderedDict[str, CachedResult] = OrderedDict()
        self.folder = Path(folder) / f"results-v{PROTOCOL_VERSION}" if folder else None

    def get(self, key: str) -> CachedResult | None:
        if key in self.memory:
            self.memory.move_to_end(key)
            return self.memory[key]
        if self.folder is not None:
            try:
                data = json.loads((self.folder / f"{key}.json").read_text(encoding="utf-8"))
                findings = tuple(Finding.from_json(item) for item in data["findings"])
                facts = ModelFacts.from_json(data["facts"]) if data.get("facts") else None
            except (OSError, ValueError, TypeError, KeyError):
                return None
            result = CachedResult(findings, facts)
            self._remember(key, result)
            return result
        return None

    def put(self, key: str, findings: list[Finding], facts: ModelFacts | None = None) -> None:
        self._remember(key, CachedResult(tuple(findings), facts))
        if self.folder is None:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
                json.dump({"findings": [f.to_json() for f in findings],
                           "facts": facts.to_json() if facts is not None else None}, stream)
            os.replace(temporary, self.folder / f"{key}.json")
        except OSError:
            pass  # a read-only or full cache folder costs a rerun, nothing more

    def _remember(self, key: str, result: CachedResult) -> None:
        self.memory[key] = result
        self.memory.move_to_end(key)
        while len(self.memory) > MEMORY_ENTRIES:
            self.memory.popitem(last=False)
