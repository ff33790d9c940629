"""What every rule is: a code, its documentation (the class docstring, in ruff's sections), valid and
invalid examples, and `check`, a query over the model IR."""

from __future__ import annotations

from typing import ClassVar, Iterator

from numpyro_lint.codes import RULE_NAMES
from numpyro_lint.config import Settings
from numpyro_lint.diagnostic import Diagnostic, RelatedLocation, Severity, Span
from numpyro_lint.ir.model import Expr, FunctionIR, ModuleIR, Site

#: In INVALID examples, a line that must get a diagnostic of the rule ends with this comment.
EXPECT_MARKER = "# expect"
#: ... or with this one when the diagnostic is in the pedantic tier (reported only when it is selected).
PEDANTIC_EXPECT_MARKER = "# expect: pedantic"


class Rule:
    """Subclasses document themselves in their docstring with the sections `## What it does`,
    `## Why is this bad?`, `## Example`, `## Use instead`, `## Fix safety` and `## Options`."""

    code: ClassVar[str]
    #: One line: what the rule reports (used in SARIF, docs index and hovers).
    summary: ClassVar[str]
    #: "safe", "unsafe", "safe where a size is known"... or "none": how the fix is marked.
    fix_safety: ClassVar[str] = "none"
    #: "default" (reported unless ignored) or "pedantic" (true but usually harmless: reported only when
    #: `pedantic` is selected). A rule's findings may move between tiers: see `escalation`.
    tier: ClassVar[str] = "default"
    #: When a finding leaves the rule's tier, in words for its page ("in models that enumerate"); "" if never.
    escalation: ClassVar[str] = ""
    VALID: ClassVar[list[str]] = []
    INVALID: ClassVar[list[str]] = []

    @property
    def name(self) -> str:
        return RULE_NAMES[self.code]

    def check(self, module: ModuleIR, settings: Settings) -> Iterator[Diagnostic]:
        raise NotImplementedError

    def diagnostic(self, span: Span, message: str, related: tuple[RelatedLocation, ...] = (),
                   severity: Severity = Severity.WARNING, pedantic: bool | None = None) -> Diagnostic:
        """A finding of this rule, in the rule's tier unless `pedantic` says otherwise."""
        if pedantic is None:
            pedantic = self.tier == "pedantic"
        return Diagnostic(self.code, message, span, severity, related=related, pedantic=pedantic)


def models(module: ModuleIR) -> Iterator[FunctionIR]:
    return module.models


def site_names(function: FunctionIR, sites: frozenset[int]) -> str:
    """`mu`, `tau` for messages; sites without literal names are left out."""
    names = sorted({function.sites[i].name for i in sites if function.sites[i].name})
    return ", ".join(f"`{name}`" for name in names) or "a sampled value"


def traced_site_names(function: FunctionIR, sites: frozenset[int]) -> str:
    traced = frozenset(i for i in sites if function.sites[i].kind in ("sample", "param"))
    return site_names(function, traced)


def prior_sites(module: ModuleIR) -> Iterator[tuple[FunctionIR, int, Site]]:
    """(function, index, site) for latent `sample` sites with a recognised distribution in models; guides
    (passed as one, or named `*guide*`) are left out: their distributions are not priors."""
    for function in module.models:
        if function.is_guide or "guide" in function.name.lower():
            continue
        for index, site in enumerate(function.sites):
            if site.is_latent and site.distribution is not None and site.distribution.name is not None:
                yield function, index, site


def literal_text(expr: Expr) -> str:
    """A numeric literal as written, with its value when written as a name: `1e3`, `SCALE (= 1000)`."""
    return f"{expr.text} (= {expr.value:g})" if expr.name is not None and expr.value is not None else expr.text
