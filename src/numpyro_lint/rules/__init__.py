"""The rule registry: one module per rule (or small family), each carrying its docs and examples."""

from __future__ import annotations

from numpyro_lint.rules.base import Rule
from numpyro_lint.rules.batched_latent_without_plate import BatchedLatentWithoutPlate
from numpyro_lint.rules.branch_on_traced import PythonBranchOnTraced
from numpyro_lint.rules.centered_hierarchy import CenteredHierarchy
from numpyro_lint.rules.constant_seed import ConstantSeedInRepeatedScope
from numpyro_lint.rules.duplicate_site_name import DuplicateSiteName
from numpyro_lint.rules.host_randomness import ModelHostRandomness
from numpyro_lint.rules.improper_prior import ImproperPrior
from numpyro_lint.rules.inplace_array_update import InplaceArrayUpdate
from numpyro_lint.rules.key_reuse import KeyReuse, KeyUsedAfterSplit
from numpyro_lint.rules.model_io import ModelIO
from numpyro_lint.rules.mutates_outer_state import ModelMutatesOuterState
from numpyro_lint.rules.obs_without_plate import ObsWithoutPlate
from numpyro_lint.rules.primitive_in_jax_control_flow import PrimitiveInJaxControlFlow
from numpyro_lint.rules.sites_in_python_loop import SitesInPythonLoop
from numpyro_lint.rules.support_mismatch import SupportMismatch
from numpyro_lint.rules.syntax_error import SyntaxError_
from numpyro_lint.rules.traced_to_python import TracedToPython
from numpyro_lint.rules.unplated_dim_in_plate import UnplatedDimInPlate
from numpyro_lint.rules.vague_gamma import VagueGamma
from numpyro_lint.rules.wide_prior import WidePrior

ALL_RULES: tuple[Rule, ...] = (
    SyntaxError_(),
    ModelMutatesOuterState(),
    ModelIO(),
    ModelHostRandomness(),
    PythonBranchOnTraced(),
    TracedToPython(),
    InplaceArrayUpdate(),
    ObsWithoutPlate(),
    BatchedLatentWithoutPlate(),
    SitesInPythonLoop(),
    PrimitiveInJaxControlFlow(),
    DuplicateSiteName(),
    UnplatedDimInPlate(),
    KeyReuse(),
    ConstantSeedInRepeatedScope(),
    KeyUsedAfterSplit(),
    WidePrior(),
    VagueGamma(),
    ImproperPrior(),
    SupportMismatch(),
    CenteredHierarchy(),
)

RULES_BY_CODE: dict[str, Rule] = {rule.code: rule for rule in ALL_RULES}
#: Codes whose fix can be safe (`fix_safety` says "safe" somewhere); the others offer unsafe fixes or none.
SAFELY_FIXABLE: frozenset[str] = frozenset(
    rule.code for rule in ALL_RULES if "safe" in rule.fix_safety.replace("unsafe", ""))

__all__ = ["ALL_RULES", "RULES_BY_CODE", "SAFELY_FIXABLE", "Rule"]
