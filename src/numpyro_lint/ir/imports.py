"""Name resolution through a file's imports: `npr.sample` -> `numpyro.sample`."""

from __future__ import annotations

import ast
from typing import Callable

# Public re-exports: the name users write -> the canonical name rules compare against.
_CANONICAL_PREFIXES = (
    ("numpyro.primitives.", "numpyro."),
    ("numpyro.infer.hmc.", "numpyro.infer."),
    ("numpyro.infer.mcmc.", "numpyro.infer."),
    ("numpyro.infer.svi.", "numpyro.infer."),
    ("numpyro.infer.util.Predictive", "numpyro.infer.Predictive"),
    ("numpyro.distributions.continuous.", "numpyro.distributions."),
    ("numpyro.distributions.discrete.", "numpyro.distributions."),
    ("numpyro.distributions.conjugate.", "numpyro.distributions."),
    ("numpyro.distributions.distribution.", "numpyro.distributions."),
    ("numpyro.distributions.truncated.", "numpyro.distributions."),
    ("numpyro.distributions.directional.", "numpyro.distributions."),
    ("numpyro.contrib.control_flow.scan.", "numpyro.contrib.control_flow."),
    ("numpyro.contrib.control_flow.cond.", "numpyro.contrib.control_flow."),
    ("numpyro.infer.reparam.", "numpyro.infer.reparam."),
    ("jax.random.PRNGKey", "jax.random.PRNGKey"),
)


def canonical(qualname: str) -> str:
    for prefix, replacement in _CANONICAL_PREFIXES:
        if qualname.startswith(prefix):
            return replacement + qualname[len(prefix):]
    return qualname


class ImportTable:
    """Local name -> fully qualified name, from `import` and `from ... import` statements."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        #: Modules of `from M import *`, in order (resolved by ir.conventions).
        self.star_modules: list[str] = []
        self._unbound_candidates: frozenset[str] = frozenset()
        self._resolve_unbound: Callable[[], dict[str, str]] | None = None

    def add(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    self.names[alias.asname] = alias.name
                else:
                    root = alias.name.split(".", 1)[0]
                    self.names[root] = root
            return
        if node.level or not node.module:
            return
        for alias in node.names:
            if alias.name == "*":
                if node.module not in self.star_modules:
                    self.star_modules.append(node.module)
                continue
            self.names[alias.asname or alias.name] = f"{node.module}.{alias.name}"

    def qualify(self, node: ast.expr) -> str | None:
        """The qualified name of a Name/Attribute chain, resolved through imports; the dotted text
        when its root is not imported; None for anything else (calls, subscripts...)."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        root = self._local(node.id) or node.id
        parts.append(root)
        return canonical(".".join(reversed(parts)))

    def defer_unbound(self, candidates: frozenset[str], resolve: Callable[[], dict[str, str]]) -> None:
        """Names among `candidates` that no import binds resolve through `resolve()` (ir.conventions),
        called once, the first time such a name is looked up: complete files never pay for it."""
        self._unbound_candidates, self._resolve_unbound = candidates, resolve

    def _local(self, name: str) -> str | None:
        found = self.names.get(name)
        if found is None and name in self._unbound_candidates and self._resolve_unbound is not None:
            resolve, self._resolve_unbound = self._resolve_unbound, None
            for local, qualname in resolve().items():
                self.names.setdefault(local, qualname)
            found = self.names.get(name)
        return found

    def is_imported(self, local_name: str) -> bool:
        return self._local(local_name) is not None
