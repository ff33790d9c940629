"""Snippets without imports (docs, answers, scratch cells) are linted as the same code with its imports."""

from __future__ import annotations

import ast
import re
import textwrap

import pytest

from numpyro_lint.config import ConfigError, Settings, settings_from_mapping
from numpyro_lint.ir.conventions import MODULE_ALIASES, unbound_bindings
from numpyro_lint.ir.imports import ImportTable
from numpyro_lint.linter import lint_text
from numpyro_lint.rules import ALL_RULES

OFF = Settings(conventional_names=False)


def strip_imports(text: str) -> str:
    """The example with its top-level imports blanked out (line numbers kept)."""
    lines = text.split("\n")
    for node in ast.parse(text).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for number in range(node.lineno, node.end_lineno + 1):
                lines[number - 1] = ""
    return "\n".join(lines)


def imports_follow_conventions(text: str) -> bool:
    """Every name the example imports and uses is what its conventional name stands for (an example
    importing `numpyro.distributions as D` cannot be linted without its imports)."""
    table = ImportTable()
    for node in ast.parse(text).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            table.add(node)
    stripped = strip_imports(text)
    tree = ast.parse(stripped)
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    resolved = unbound_bindings(tree, ())
    return all(resolved.get(local) == qualname for local, qualname in table.names.items() if local in used)


def findings(text: str, settings: Settings = Settings()) -> list[tuple[str, int, int, str]]:
    return [(d.code, d.span.line, d.span.col, d.message) for d in lint_text(text, settings=settings).diagnostics]


def with_conventional_aliases(text: str) -> str:
    """The example with `import numpyro.distributions as D` (and its uses) renamed to `dist`, and so on
    for every module that has a conventional name."""
    conventional = {qualname: alias for alias, qualname in MODULE_ALIASES.items()}
    table = ImportTable()
    for node in ast.parse(text).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            table.add(node)
    for local, qualname in table.names.items():
        alias = conventional.get(qualname)
        if alias is not None and local not in (*MODULE_ALIASES, "random", "reparam"):
            text = re.sub(rf"(?<![.\w]){re.escape(local)}\b", alias, text)
    return text


EXAMPLES = [
    pytest.param(with_conventional_aliases(example), id=f"{rule.code}-{kind}-{index}")
    for rule in ALL_RULES
    for kind, examples in (("valid", rule.VALID), ("invalid", rule.INVALID))
    for index, example in enumerate(examples)
    if rule.code != "NPL000" and strip_imports(example) != example
    and imports_follow_conventions(with_conventional_aliases(example))
]


@pytest.mark.parametrize("example", EXAMPLES)
def test_rule_example_without_its_imports_gets_the_same_findings(example):
    assert findings(strip_imports(example)) == findings(example)


def test_every_rule_family_is_compared_on_import_less_code():
    families = {param.id[:4] for param in EXAMPLES if "invalid" in param.id}
    assert families >= {"NPL1", "NPL2", "NPL3", "NPL4", "NPL5"}


def test_an_import_less_snippet_is_silent_with_the_setting_off():
    snippet = textwrap.dedent("""\
        def model(y):
            mu = numpyro.sample("mu", dist.Normal(0, 1000))
            numpyro.sample("y", dist.Normal(mu, 1), obs=y)
    """)
    assert [code for code, *_ in findings(snippet)] == ["NPL401", "NPL201"]
    assert findings(snippet, OFF) == []
    assert settings_from_mapping({"conventional-names": False}) == OFF
    with pytest.raises(ConfigError):
        settings_from_mapping({"conventional-names": "no"})


def test_random_with_jax_only_functions_is_jax_random():
    snippet = textwrap.dedent("""\
        key = random.PRNGKey(0)
        a = random.normal(key)
        b = random.normal(key)
    """)
    assert [(code, line) for code, line, *_ in findings(snippet)] == [("NPL301", 3)]


def test_random_with_python_only_functions_is_pythons_random():
    snippet = textwrap.dedent("""\
        def model():
            x = random.random()
            numpyro.sample("x", dist.Normal(x, 1))
    """)
    assert [(code, line) for code, line, *_ in findings(snippet)] == [("NPL103", 2)]


def test_random_with_only_functions_both_modules_have_stays_unresolved():
    snippet = textwrap.dedent("""\
        def model():
            x = random.uniform(0, 1)
            numpyro.sample("x", dist.Normal(x, 1))
    """)
    assert findings(snippet) == []


def test_a_name_the_file_binds_is_not_taken_for_its_convention():
    snippet = textwrap.dedent("""\
        def model(dist, y):
            mu = numpyro.sample("mu", dist.Normal(0, 1000))
            with numpyro.plate("n", 3):
                numpyro.sample("y", dist.Normal(mu, 1), obs=y)
    """)
    assert findings(snippet) == []


def test_star_import_from_numpyro_binds_its_public_names():
    snippet = textwrap.dedent("""\
        from numpyro.distributions import *

        def model():
            numpyro.sample("x", Normal(0, 1000))
    """)
    assert [(code, line) for code, line, *_ in findings(snippet)] == [("NPL401", 4)]


def test_star_import_from_an_unknown_module_turns_conventions_off():
    snippet = textwrap.dedent("""\
        from mylib import *

        def model():
            numpyro.sample("x", Normal(0, 1000))
            numpyro.sample("y", dist.Normal(0, 1000))
    """)
    assert findings(snippet) == []


def test_reparam_is_the_module_or_the_handler_by_how_it_is_used():
    tree = ast.parse("@reparam(config={'x': reparam.LocScaleReparam()})\ndef model(): pass\n")
    assert unbound_bindings(tree, ()) == {}  # both uses: unsure
    tree = ast.parse("c = {'x': reparam.LocScaleReparam()}\n")
    assert unbound_bindings(tree, ()) == {"reparam": "numpyro.infer.reparam"}
    tree = ast.parse("@reparam(config=c)\ndef model(): pass\n")
    assert unbound_bindings(tree, ()) == {"reparam": "numpyro.handlers.reparam"}
