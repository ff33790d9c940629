"""Names a file uses without binding them: snippets in docs and answers write `dist.Normal`, `jnp.exp`,
`MCMC(NUTS(model))` with no import line, and a star import from NumPyro or JAX binds names no import
table lists. Both resolve here, so that rules see `numpyro.distributions.Normal` either way.

A name resolves only when nothing in the file binds it (no import, assignment, parameter, definition,
loop or `with` target anywhere) and no star import from a module we cannot list could bind it.
"""

from __future__ import annotations

import ast
from typing import Iterable

from numpyro_lint.ir.public_names import STAR_EXPORTS

# Module aliases: resolved when used as `alias.attribute`.
MODULE_ALIASES: dict[str, str] = {
    "numpyro": "numpyro",
    "dist": "numpyro.distributions",
    "constraints": "numpyro.distributions.constraints",
    "transforms": "numpyro.distributions.transforms",
    "handlers": "numpyro.handlers",
    "infer": "numpyro.infer",
    "autoguide": "numpyro.infer.autoguide",
    "jax": "jax",
    "jnp": "jax.numpy",
    "lax": "jax.lax",
    "jr": "jax.random",
    "np": "numpy",
}


def _callables() -> dict[str, str]:
    names = {name: f"numpyro.{name}" for name in (
        "sample", "plate", "plate_stack", "deterministic", "factor", "param", "subsample", "prng_key")}
    names.update({name: f"numpyro.handlers.{name}" for name in (
        "seed", "trace", "condition", "substitute", "block", "replay", "do")})
    names.update({name: f"numpyro.infer.{name}" for name in STAR_EXPORTS["numpyro.infer"]
                  if name[0].isupper() or name.startswith("init_to_") or name == "log_likelihood"})
    names.update({name: f"numpyro.infer.autoguide.{name}" for name in STAR_EXPORTS["numpyro.infer.autoguide"]
                  if name.startswith("Auto")})
    names.update({name: f"numpyro.infer.reparam.{name}" for name in STAR_EXPORTS["numpyro.infer.reparam"]
                  if name.endswith("Reparam")})
    from numpyro_lint.ir.distributions import SIGNATURES

    names.update({name: f"numpyro.distributions.{name}" for name in SIGNATURES})
    names.update({name: f"jax.{name}" for name in ("jit", "vmap", "pmap", "grad", "value_and_grad")})
    names["PRNGKey"] = "jax.random.PRNGKey"
    # An unbound `scan` whose step samples is NumPyro's (`jax.lax.scan` is written `lax.scan`); taking it
    # as NumPyro's can only silence rules, never raise one.
    names["scan"] = "numpyro.contrib.control_flow.scan"
    return names


# Functions and classes: resolved when called (or used as a decorator, a `with` item: also calls).
CALLABLES: dict[str, str] = _callables()

# `random` is Python's module or `jax.random`; the attributes a file uses on it decide (see `_random`).
_STDLIB_RANDOM = frozenset({
    "Random", "SystemRandom", "betavariate", "choices", "expovariate", "gammavariate", "gauss", "getrandbits",
    "getstate", "lognormvariate", "normalvariate", "paretovariate", "randbytes", "randint", "random",
    "randrange", "sample", "seed", "setstate", "shuffle", "triangular", "uniform", "vonmisesvariate",
    "weibullvariate", "choice",
})
_JAX_ONLY_RANDOM = STAR_EXPORTS["jax.random"] - _STDLIB_RANDOM
_STDLIB_ONLY_RANDOM = _STDLIB_RANDOM - STAR_EXPORTS["jax.random"]
_SPECIAL = ("random", "reparam")
CONVENTIONAL_NAMES = frozenset(MODULE_ALIASES) | frozenset(CALLABLES) | frozenset(_SPECIAL)


def candidate_names(star_modules: Iterable[str], conventional: bool = True) -> frozenset[str]:
    """The names that may resolve without an import: the conventional ones (when `conventional`) and what
    the file's star imports of NumPyro/JAX modules bind; none when a star import could bind anything."""
    stars = list(star_modules)
    if any(module not in STAR_EXPORTS for module in stars):
        return frozenset()
    names = CONVENTIONAL_NAMES if conventional else frozenset()
    for module in stars:
        names = names | STAR_EXPORTS[module]
    return names


def unbound_bindings(tree: ast.Module, star_modules: Iterable[str], conventional: bool = True) -> dict[str, str]:
    """Local name -> qualified name for the names `tree` uses but never binds: through its star imports
    of NumPyro/JAX modules, then (when `conventional`) through the conventions of NumPyro code. One walk
    of the tree: the builder asks only when a file uses such a name without importing it."""
    stars = list(dict.fromkeys(star_modules))
    candidates = candidate_names(stars, conventional)
    if not candidates:
        return {}
    uses = _Uses(candidates)
    uses.visit(tree)
    resolved: dict[str, str] = {}
    for name in uses.used - uses.bound:
        for module in reversed(stars):  # the last star import wins, as in Python
            if name in STAR_EXPORTS[module]:
                resolved[name] = f"{module}.{name}"
                break
        else:
            qualname = _conventional(name, uses) if conventional else None
            if qualname is not None:
                resolved[name] = qualname
    return resolved


def _conventional(name: str, uses: _Uses) -> str | None:
    if name == "random":
        return _random(uses.attributes.get(name, set()))
    if name == "reparam":
        as_module, as_call = name in uses.attributes, name in uses.called
        if as_module != as_call:
            return "numpyro.infer.reparam" if as_module else "numpyro.handlers.reparam"
        return None
    if name in MODULE_ALIASES and name in uses.attributes:
        return MODULE_ALIASES[name]
    if name in CALLABLES and name in uses.called:
        return CALLABLES[name]
    return None


def _random(attributes: set[str]) -> str | None:
    """`random.PRNGKey`, `random.split`, `random.normal`: jax.random. `random.random()`, `random.seed`,
    `random.gauss`: Python's. Only names both have (`choice`, `uniform`, `randint`): unsure, unresolved."""
    jax_only, stdlib_only = attributes & _JAX_ONLY_RANDOM, attributes & _STDLIB_ONLY_RANDOM
    if jax_only and not stdlib_only:
        return "jax.random"
    if stdlib_only and not jax_only:
        return "random"
    return None


class _Uses(ast.NodeVisitor):
    """Which of `names` the tree binds anywhere, calls, or takes attributes of."""

    def __init__(self, names: set[str]) -> None:
        self.names = names
        self.bound: set[str] = set()
        self.used: set[str] = set()
        self.called: set[str] = set()
        self.attributes: dict[str, set[str]] = {}

    def _bind(self, name: str | None) -> None:
        if name in self.names:
            self.bound.add(name)

    def visit_Name(self, node: ast.Name) -> None:
        if not isinstance(node.ctx, ast.Load):
            self._bind(node.id)
        elif node.id in self.names:
            self.used.add(node.id)

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id in self.names:
            self.called.add(node.func.id)
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.value, ast.Name) and node.value.id in self.names:
            self.attributes.setdefault(node.value.id, set()).add(node.attr)
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        if not isinstance(node, ast.Lambda):
            self._bind(node.name)
        arguments = node.args
        for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
                    arguments.vararg, arguments.kwarg]:
            if arg is not None:
                self._bind(arg.arg)
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef
    visit_Lambda = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._bind(node.name)
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            self._bind(alias.asname or alias.name.split(".", 1)[0])

    visit_ImportFrom = visit_Import

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        self._bind(node.name)
        self.generic_visit(node)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        self._bind(node.name)
        self.generic_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        self._bind(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        self._bind(node.rest)
        self.generic_visit(node)
