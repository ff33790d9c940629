"""One static analysis of a snapshot: `lint_document_text`, then the LSP form of every diagnostic. Runs on the
scheduler's worker thread, never on the event loop."""

from __future__ import annotations

from dataclasses import dataclass

from lsprotocol import types

from numpyro_lint.config import Settings
from numpyro_lint.diagnostic import Diagnostic, Fix
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
    diagnostics: tuple[Diagnostic, ...]
    #: LSP diagnostics by document (notebook cell) URI.
    lsp: dict[str, list[types.Diagnostic]]
    #: The model IR of the text (for hovers, code lenses and inlay hints).
    module: ModuleIR | None = None

    @property
    def snapshot(self) -> Snapshot:
        return self.job.snapshot

    @property
    def fixes(self) -> list[Fix]:
        return [d.fix for d in self.diagnostics if d.fix is not None]


def analyse(job: Job) -> Analysis:
    # imported after `initialize` is answered, not before
    from numpyro_lint.code_blocks import flavour_of
    from numpyro_lint.linter import lint_document_text, lint_text

    snapshot = job.snapshot
    language = None if snapshot.is_notebook else snapshot.language
    if flavour_of(snapshot.path, language) is None:
        result = lint_text(snapshot.text, snapshot.path, job.settings)
        diagnostics, module = result.diagnostics, result.module
    else:  # a Markdown or reStructuredText document: its code blocks have no one module for insight
        diagnostics, module = lint_document_text(snapshot.text, snapshot.path, job.settings, language=language), None
    return Analysis(job, diagnostics, lsp_diagnostics(snapshot, diagnostics, job.encoding), module)


def warm_up() -> None:
    """Import what the first analysis and hover need, while the editor is still opening files."""
    import numpyro_lint.linter  # noqa: F401
    import numpyro_lint.rule_docs  # noqa: F401
