"""Text -> diagnostics: the one entry point that the CLI, the server and tests call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

from numpyro_lint.config import Settings
from numpyro_lint.diagnostic import Diagnostic
from numpyro_lint.ir import AnalysisCancelled, ModuleIR, build_module_ir
from numpyro_lint.rules import ALL_RULES, SAFELY_FIXABLE

DEFAULT_SETTINGS = Settings()
FixesWanted = Literal["all", "safe", "none"]


@dataclass(frozen=True)
class LintResult:
    module: ModuleIR
    diagnostics: tuple[Diagnostic, ...]


def lint_text(text: str, path: str | None = None, settings: Settings = DEFAULT_SETTINGS,
              *, fixes: FixesWanted = "all", cancelled: Callable[[], bool] | None = None) -> LintResult:
    """Diagnostics for one file's text, sorted by position, `# noqa` applied, fixes attached: all of them,
    only those of rules whose fixes can be safe (what `check`'s text output marks), or none. Raises
    AnalysisCancelled soon after `cancelled()` turns true."""
    module = build_module_ir(text, path, cancelled, conventional_names=settings.conventional_names)
    diagnostics: list[Diagnostic] = []
    for rule in ALL_RULES:
        if cancelled is not None and cancelled():
            raise AnalysisCancelled
        if module.syntax_error is not None and rule.code != "NPL000":
            continue
        if not settings.is_enabled(rule.code, path):
            continue
        diagnostics.extend(d for d in rule.check(module, settings) if settings.pedantic or not d.pedantic)
    diagnostics = [d for d in diagnostics if not is_suppressed(d, module)]
    diagnostics.sort(key=lambda d: (d.span.line, d.span.col, d.code))
    diagnostics = _deduplicate(diagnostics)
    wanted = diagnostics if fixes == "all" else [d for d in diagnostics if d.code in SAFELY_FIXABLE]
    if fixes != "none" and wanted:
        from numpyro_lint.fixes import attach_fixes  # LibCST-backed fixers: imported only when needed

        diagnostics = attach_fixes(diagnostics, module, settings, unsafe=fixes == "all")
    return LintResult(module, tuple(diagnostics))


@dataclass(frozen=True)
class DocumentResult:
    diagnostics: tuple[Diagnostic, ...]
    #: How many of its programs do not parse (a Python file or notebook is one program).
    syntax_errors: int


def lint_document(text: str, path: str | None, settings: Settings = DEFAULT_SETTINGS, *,
                  fixes: FixesWanted = "all", language: str | None = None) -> DocumentResult:
    """Diagnostics for any document we lint, at its own positions: Python source (a notebook's cells
    joined), or the Python code blocks of a Markdown or reStructuredText document (see code_blocks)."""
    from numpyro_lint.code_blocks import flavour_of, lint_document_blocks

    flavour = flavour_of(path, language)
    if flavour is None:
        result = lint_text(text, path, settings, fixes=fixes)
        return DocumentResult(result.diagnostics, int(result.module.syntax_error is not None))
    blocks = lint_document_blocks(text, path, settings, flavour, fixes)
    return DocumentResult(blocks.diagnostics, blocks.syntax_errors)


def lint_document_text(text: str, path: str | None, settings: Settings = DEFAULT_SETTINGS, *,
                       fixes: FixesWanted = "all", language: str | None = None) -> tuple[Diagnostic, ...]:
    """`lint_document`'s diagnostics."""
    return lint_document(text, path, settings, fixes=fixes, language=language).diagnostics


def is_suppressed(diagnostic: Diagnostic, module: ModuleIR) -> bool:
    if diagnostic.code == "NPL000":
        return False
    for line, codes in module.noqa:
        if line == diagnostic.span.line:
            return codes is None or diagnostic.code in codes
    return False


def _deduplicate(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    seen = set()
    unique = []
    for diagnostic in diagnostics:
        key = (diagnostic.code, diagnostic.span, diagnostic.message)
        if key not in seen:
            seen.add(key)
            unique.append(diagnostic)
    return unique
