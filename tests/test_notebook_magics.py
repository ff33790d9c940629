"""IPython magics and shell escapes anywhere in a notebook cell: the cell still parses, lines unchanged."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from conftest import run_cli
from numpyro_lint.magics import mask_cell

CELLS_THAT_PARSE_ONLY_MASKED = [
    'import os\nif "SVG" in os.environ:\n    %config InlineBackend.figure_formats = ["svg"]\n',
    "x = %time f()\nfiles = !ls -la\nresult = %sx ls\n",
    "for name in files:\n    !echo {name}\n",
    "np.exp?\n?np.exp\nnp.exp??\n",
    "def f():\n    %timeit g()\n    return 1\n",
    "!pip install \\\n    numpyro\nx = 1\n",
    "%%bash\nls -la\nif [ -d x ]; then echo; fi\n",
]


@pytest.mark.parametrize("cell", CELLS_THAT_PARSE_ONLY_MASKED)
def test_masked_cell_parses_with_the_same_lines(cell):
    with pytest.raises(SyntaxError):
        ast.parse(cell)
    masked = mask_cell(cell)
    ast.parse(masked)
    assert masked.count("\n") == cell.count("\n")


def test_python_that_looks_like_a_magic_is_left_alone():
    cell = ('s = """\n%not a magic\n!nor this\n"""\nd = {"a": "b?"}  # why?\n'
            "y = (1,\n  2) if x != 3 else 4\nz = x % 2\nw = '%d' % z\n")
    assert mask_cell(cell) == cell


def test_a_python_cell_magic_keeps_its_body_linted():
    masked = mask_cell("%%time\nx = 1\nprint(x)\n")
    assert masked.split("\n")[1:] == ["x = 1", "print(x)", ""]


def test_notebook_whose_first_cell_has_an_indented_magic_is_linted_fully(tmp_path: Path):
    notebook = {
        "cells": [
            {"cell_type": "code", "source": [
                "import os\n", "import numpyro\n", "import numpyro.distributions as dist\n",
                'if "CI" not in os.environ:\n', '    %config InlineBackend.figure_formats = ["svg"]\n',
                "    %matplotlib inline\n"]},
            {"cell_type": "code", "source": [
                "def model(y):\n", "    mu = numpyro.sample('mu', dist.Normal(0, 1))\n", "    print(mu)\n",
                "    sd = !echo 1\n",
                "    numpyro.sample('y', dist.Normal(mu, 1), obs=y)\n"]},
        ],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }
    (tmp_path / "nb.ipynb").write_text(json.dumps(notebook))
    result = run_cli("check", "--output-format", "json", "nb.ipynb", cwd=tmp_path)
    found = sorted((d["code"], d["cell"], d["location"]["row"]) for d in json.loads(result.stdout))
    assert found == [("NPL102", 2, 3), ("NPL201", 2, 5)]


def test_python_files_pass_through_unchanged():
    root = Path(__file__).parent.parent
    sources = [*sorted((root / "bench" / "corpus").glob("*.py")), *sorted((root / "src").rglob("*.py"))]
    texts = {path: path.read_text(encoding="utf-8") for path in sources}
    changed = [path.name for path, text in texts.items() if mask_cell(text) != text]
    assert len(sources) > 50 and changed == []
