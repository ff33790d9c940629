"""The model IR: one parse of a file, every fact the rules query."""

from numpyro_lint.ir.builder import AnalysisCancelled, build_module_ir
from numpyro_lint.ir.model import FunctionIR, ModuleIR, Site

__all__ = ["AnalysisCancelled", "build_module_ir", "FunctionIR", "ModuleIR", "Site"]
