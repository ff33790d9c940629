"""One static analysis of a snapshot: `lint_text` without fixes, then the LSP form of every diagnostic.
Runs on the scheduler's worker thread, never on the event loop.

Fixes are not computed here: a diagnostic's fixes are computed when a code action asks for them
(`with_fixes`), the fix-all text when fix-all is asked for (`fixed_text`), and both are kept with the
analysis, so for the version it was made for.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from lsprotocol import types

from numpyro_lint.config import Settings
from numpyro_lint.diagnostic import Diagnostic
from numpyro_lint.ir.model import ModuleIR
from numpyro_lint.server.documents import lsp_diagnostics
from numpyro_lint.server.snapshot import Snapshot


@dataclass(frozen=True)
class Job:
    snapshot: Snapshot
    settings: Settings
    encoding: str


@dataclass(frozen=True)
class Analysis:
    job: Job
    #: The model IR of the text (fixes, hovers, code lenses, inlay hints); None for a Markdown or
    #: reStructuredText document, whose code blocks are programs of their own and carry their fixes.
    module: ModuleIR | None
    diagnostics: tuple[Diagnostic, ...]
    #: LSP diagnostics by document (notebook cell) URI.
    lsp: dict[str, list[types.Diagnostic]]
    _computed: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    @property
    def snapshot(self) -> Snapshot:
        return self.job.snapshot

    @property
    def may_fix_safely(self) -> bool:
        """Whether a diagnostic of a rule with safe fixes was found (fix-all may change something),
        decided without computing a fix."""
        from numpyro_lint.rules import SAFELY_FIXABLE

        return not self.snapshot.is_notebook and any(d.code in SAFELY_FIXABLE for d in self.diagnostics)

    def with_fixes(self, diagnostic: Diagnostic) -> Diagnostic:
        """`diagnostic` (found in this version, statically or by a smoke run) with its fixes."""
        from numpyro_lint.fixes import with_fixes

        if self.module is None:
            return diagnostic  # a document's code-block diagnostics were linted with their fixes
        return self._once(("fixes", diagnostic.code, diagnostic.span, diagnostic.message),
                          lambda: with_fixes(diagnostic, self.module, self.job.settings))

    def fixed_text(self) -> str:
        """The text with every safe fix applied, to a fixed point, as `numpyro-lint fix` would (its
        first round uses this analysis and the fixes already computed for it)."""
        from numpyro_lint.fixes import MAX_FIXED_DIAGNOSTICS
        from numpyro_lint.fixes.apply import fix_text
        from numpyro_lint.linter import LintResult
        from numpyro_lint.rules import SAFELY_FIXABLE

        def compute() -> str:
            if self.module is None:
                return fix_text(self.snapshot.text, self.snapshot.path, self.job.settings, unsafe=False,
                                fixes="safe").text
            fixable = [d for d in self.diagnostics if d.code in SAFELY_FIXABLE][:MAX_FIXED_DIAGNOSTICS]
            first = LintResult(self.module, tuple(self.with_fixes(d) for d in fixable))
            return fix_text(self.snapshot.text, self.snapshot.path, self.job.settings, unsafe=False, fixes="safe",
                            first=first).text

        return self._once("fix-all", compute)

    def _once(self, key: Any, compute: Any) -> Any:
        # The event loop (quick fixes) and the worker (fix-all) both ask: neither waits for the other's
        # computation; at worst one is computed twice.
        with self._lock:
            if key in self._computed:
                return self._computed[key]
        value = compute()
        with self._lock:
            return self._computed.setdefault(key, value)


def analyse(job: Job, cancelled: Callable[[], bool] | None = None) -> Analysis:
    """Raises AnalysisCancelled soon after `cancelled()` turns true."""
    from numpyro_lint.linter import lint_document_text, lint_text  # imported after `initialize` is answered

    snapshot = job.snapshot
    if snapshot.is_python:
        result = lint_text(snapshot.text, snapshot.path, job.settings, fixes="none", cancelled=cancelled)
        module, diagnostics = result.module, result.diagnostics
    else:  # many small programs, linted with their fixes (documents are short and rarely fixed)
        module, diagnostics = None, lint_document_text(snapshot.text, snapshot.path, job.settings,
                                                       language=snapshot.language)
    return Analysis(job, module, diagnostics, lsp_diagnostics(snapshot, diagnostics, job.encoding))


def warm_up() -> None:
    """Import what the first analysis, hover and code action need, while the editor is still opening
    files."""
    import numpyro_lint.fixes  # noqa: F401
    import numpyro_lint.linter  # noqa: F401
    import numpyro_lint.rule_docs  # noqa: F401
    import libcst  # noqa: F401
