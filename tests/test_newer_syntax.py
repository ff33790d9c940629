"""A file only a newer Python can parse: NPL000 says so, instead of a SyntaxError that reads as a bug."""

from __future__ import annotations

import sys

import pytest

from numpyro_lint.linter import lint_text

pytestmark = pytest.mark.skipif(sys.version_info >= (3, 12), reason="these parse on Python 3.12+")
RUNNING = f"{sys.version_info.major}.{sys.version_info.minor}"

NEWER = [
    ("def identity[T](x: T) -> T:\n    return x\n", 1, "3.12"),
    ("import numpyro\nclass Box[T: (int, str)]:\n    pass\n", 2, "3.12"),
    ("type Vector[T] = list[T]\n", 1, "3.12"),
    ("type Vector = list[float]\n", 1, "3.12"),
    ('x = {"a": 1}\nprint(f"{x["a"]}")\n', 2, "3.12"),
    ('xs = ["a"]\nprint(f"{"\\n".join(xs)}")\n', 2, "3.12"),
    ("try:\n    pass\nexcept ValueError, TypeError:\n    pass\n", 3, "3.14"),
    ("def first[T = int](xs: list[T]) -> T:\n    return xs[0]\n", 1, "3.13"),
    ("type Pair[T = float] = tuple[T, T]\n", 1, "3.13"),
]
REAL_ERRORS = [
    "def identity[T](x:\n    return x\n",
    "def model(:\n    pass\n",
    'print(f"{x")\n',
    "type = 3 +\n",
    "type(x)\nx = (\n",
    "try:\n    pass\nexcept ValueError, TypeError\n    pass\n",
]


@pytest.mark.parametrize(("text", "line", "version"), NEWER)
def test_newer_syntax_is_reported_as_such(text, line, version):
    [diagnostic] = lint_text(text).diagnostics
    assert diagnostic.code == "NPL000" and diagnostic.span.line == line
    assert diagnostic.message.startswith(f"uses Python {version} syntax (")
    assert f"numpyro-lint is running on Python {RUNNING}" in diagnostic.message


@pytest.mark.parametrize("text", REAL_ERRORS)
def test_a_real_syntax_error_is_not_blamed_on_the_python_version(text):
    [diagnostic] = lint_text(text).diagnostics
    assert diagnostic.code == "NPL000" and diagnostic.message.startswith("SyntaxError: ")
