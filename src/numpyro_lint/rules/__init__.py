"""The rule registry: one module per rule (or small family), each carrying its docs and examples."""

from __future__ import annotations

from numpyro_lint.rules.base import Rule
from numpyro_lint.rules.branch_on_traced import PythonBranchOnTraced
from numpyro_lint.rules.duplicate_site_name import DuplicateSiteName
from numpyro_lint.rules.host_randomness import ModelHostRandomness
from numpyro_lint.rules.inplace_array_update import InplaceArrayUpdate
from numpyro_lint.rules.model_io import ModelIO
from numpyro_lint.rules.mutates_outer_state import ModelMutatesOuterState
from numpyro_lint.rules.syntax_error import SyntaxError_
from numpyro_lint.rules.traced_to_python import TracedToPython

ALL_RULES: tuple[Rule, ...] = (
    SyntaxError_(),
    ModelMutatesOuterState(),
    ModelIO(),
    ModelHostRandomness(),
    PythonBranchOnTraced(),
    TracedToPython(),
    InplaceArrayUpdate(),
    DuplicateSiteName(),
)

RULES_BY_CODE: dict[str, Rule] = {rule.code: rule for rule in ALL_RULES}

__all__ = ["ALL_RULES", "RULES_BY_CODE", "Rule"]
