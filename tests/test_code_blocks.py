"""Python code blocks in Markdown, MyST, Quarto and reStructuredText documents: found, linted as NumPyro
code, reported and fixed at the document's own lines and columns, over the CLI and over LSP."""

from __future__ import annotations

import asyncio
import json
import re
import textwrap
from pathlib import Path

from conftest import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from lsprotocol import types
from server_helpers import TIMEOUT_S, apply_workspace_edit, open_document, recorded_capabilities, session

from numpyro_lint.code_blocks import extract_blocks, flavour_of, lint_document_blocks, programs
from numpyro_lint.config import Settings
from numpyro_lint.source import SourceText

GUIDE = Path(__file__).parent / "fixtures" / "documents" / "numpyro_guide.md"
MARKER = re.compile(r"# expect: (NPL\d+)")


def expected_findings(text: str) -> list[tuple[str, int]]:
    return [(match.group(1), number) for number, line in enumerate(text.splitlines(), start=1)
            if (match := MARKER.search(line))]


def test_the_guide_gets_the_marked_findings_at_document_lines_over_the_cli(tmp_path: Path):
    text = GUIDE.read_text(encoding="utf-8")
    (tmp_path / "guide.md").write_text(text, encoding="utf-8")
    result = run_cli("check", "--isolated", "--output-format", "json", "guide.md", cwd=tmp_path)
    found = json.loads(result.stdout)
    assert sorted((d["code"], d["location"]["row"]) for d in found) == sorted(expected_findings(text))
    lines = text.splitlines()
    located = {d["code"] + str(d["location"]["row"]): lines[d["location"]["row"] - 1][d["location"]["column"] - 1:]
               for d in found}
    assert located["NPL30143"].startswith("key, (3,))")  # in a list item: the block is indented 3
    assert located["NPL20131"].startswith("y)")  # after a non-BMP character on the line
    assert located["NPL000105"].startswith(":")


def test_independent_examples_do_not_share_keys_but_executable_cells_do():
    text = textwrap.dedent("""\
        ```python
        key = random.PRNGKey(0)
        a = random.normal(key)
        ```

        ```python
        b = random.normal(key)
        ```

        ```{python}
        k = random.PRNGKey(0)
        c = random.normal(k)
        ```

        ```{python}
        d = random.normal(k)
        ```
    """)
    found = [(d.code, d.span.line) for d in lint_document_blocks(text, None, Settings(), "markdown").diagnostics]
    assert found == [("NPL301", 16)]


def test_an_example_sees_the_imports_of_the_blocks_above_it():
    blocks = extract_blocks("```python\nimport numpyro.distributions as D\n```\n\n```py\nx = D.Normal(0, 1)\n```\n",
                            "markdown")
    assert [program.text for program in programs(blocks)] == [
        "import numpyro.distributions as D\n", "import numpyro.distributions as D\nx = D.Normal(0, 1)\n"]


def test_myst_quarto_and_rst_blocks_are_found_and_other_languages_are_not():
    markdown = textwrap.dedent("""\
        ```{code-cell} ipython3
        ---
        tags: [hide-input]
        ---
        x = 1
        ```
        ```{python echo=false}
        y = 2
        ```
        ```{.python}
        z = 3
        ```
        ```r
        w <- 4
        ```
    """)
    blocks = extract_blocks(markdown, "markdown")
    assert [(b.first_line, b.lines, b.executable) for b in blocks] == [
        (2, ("", "", "", "x = 1"), True), (8, ("y = 2",), True)]
    rst = textwrap.dedent("""\
        Text.

        .. code-block:: python
           :caption: a model

           def model():
               pass

        .. code-block:: bash

           ls

        .. jupyter-execute::

            x = 1
        Back to text.
    """)
    blocks = extract_blocks(rst, "rst")
    assert [(b.first_line, b.lines, b.indent, b.executable) for b in blocks] == [
        (5, ("", "def model():", "    pass"), "   ", False), (14, ("", "x = 1"), "    ", True)]


def test_documents_are_told_apart_by_suffix_or_language_id():
    assert flavour_of("docs/guide.md") == flavour_of("post.qmd") == "markdown"
    assert flavour_of("docs/index.rst") == "rst"
    assert flavour_of("model.py") is None and flavour_of(None, "python") is None
    assert flavour_of(None, "markdown") == "markdown" and flavour_of("x.md", "restructuredtext") == "rst"


def test_fix_edits_the_document_and_keeps_the_indentation_of_an_rst_block(tmp_path: Path):
    document = textwrap.dedent("""\
        A model
        =======

        .. code-block:: python

           import numpyro
           import numpyro.distributions as dist

           def model(J, sigma, y=None):
               mu = numpyro.sample("mu", dist.Normal(0, 5))
               tau = numpyro.sample("tau", dist.HalfCauchy(5))
               with numpyro.plate("J", J):
                   theta = numpyro.sample("theta", dist.Normal(mu, tau))
                   numpyro.sample("obs", dist.Normal(theta, sigma), obs=y)

        The end.
    """)
    path = tmp_path / "model.rst"
    path.write_text(document, encoding="utf-8")
    result = run_cli("fix", "--isolated", "model.rst", cwd=tmp_path)
    fixed = path.read_text(encoding="utf-8")
    assert result.returncode == 0, result.stdout.decode()
    assert "   from numpyro.infer.reparam import LocScaleReparam\n" in fixed
    assert '       with numpyro.plate("J", J), numpyro.handlers.reparam(config={"theta": LocScaleReparam(0)}):' in fixed
    assert fixed.startswith("A model\n=======\n") and fixed.endswith("\nThe end.\n")
    assert run_cli("check", "--isolated", "model.rst", cwd=tmp_path).returncode == 0


def test_fix_on_a_markdown_guide_puts_an_added_import_inside_the_block(tmp_path: Path):
    path = tmp_path / "guide.md"
    path.write_text(GUIDE.read_text(encoding="utf-8"), encoding="utf-8")
    run_cli("fix", "--isolated", "guide.md", cwd=tmp_path)
    fixed = path.read_text(encoding="utf-8").splitlines()
    start = fixed.index("## Hierarchies 🧪")
    assert fixed[start + 2:start + 4] == ["```python", "from numpyro.infer.reparam import LocScaleReparam"]


def test_documents_in_folders_are_checked_only_when_extend_include_names_them(tmp_path: Path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "guide.md").write_text(GUIDE.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text("[tool.numpyro-lint]\n")
    assert run_cli("check", ".", cwd=tmp_path).returncode == 0
    assert run_cli("check", "docs/guide.md", cwd=tmp_path).returncode == 1  # named: always checked
    (tmp_path / "pyproject.toml").write_text('[tool.numpyro-lint]\nextend-include = ["*.md"]\n')
    result = run_cli("check", ".", cwd=tmp_path)
    assert result.returncode == 1 and "docs/guide.md:19:" in result.stdout.decode()


async def test_the_guide_gets_the_marked_findings_over_lsp_in_utf16(tmp_path: Path):
    text = GUIDE.read_text(encoding="utf-8")
    capabilities = recorded_capabilities("visual_studio_code_v1.65.2")
    async with session(capabilities, tmp_path, init_options={"debounce-ms": 0}) as client:
        uri = open_document(client, tmp_path / "guide.md", text, language_id="markdown")
        diagnostics = await client.wait_for_diagnostics(uri, version=1)
        found = sorted((str(d.code), d.range.start.line + 1) for d in diagnostics)
        assert found == sorted(expected_findings(text))
        [obs] = [d for d in diagnostics if d.code == "NPL201"]
        line = text.splitlines()[obs.range.start.line]
        assert obs.range.start.character == len(line[:line.index("obs=y") + 4].encode("utf-16-le")) // 2

        [centered] = [d for d in diagnostics if d.code == "NPL501"]
        result = await asyncio.wait_for(client.text_document_code_action_async(types.CodeActionParams(
            types.TextDocumentIdentifier(uri), centered.range, types.CodeActionContext([centered]))), TIMEOUT_S)
        action = next(a for a in result if isinstance(a, types.CodeAction) and "NPL501" in a.title)
        if action.edit is None:
            action = await asyncio.wait_for(client.code_action_resolve_async(action), TIMEOUT_S)
        fixed = apply_workspace_edit(text, uri, action.edit, "utf-16")
    expected = tmp_path / "cli.md"
    expected.write_text(text, encoding="utf-8")
    run_cli("fix", "--isolated", "--select", "NPL501", "cli.md", cwd=tmp_path)
    assert fixed == expected.read_text(encoding="utf-8")


def test_a_broken_import_line_in_a_broken_block_does_not_silence_the_blocks_below():
    text = ("```python\nimport numpyro\nfrom x import y z\ndef (\n```\n\n"
            "```python\nkey = random.PRNGKey(0)\na = random.normal(key)\nb = random.normal(key)\n```\n")
    found = [(d.code, d.span.line) for d in lint_document_blocks(text, None, Settings(), "markdown").diagnostics]
    assert found == [("NPL000", 3), ("NPL301", 10)]


_LINES = st.sampled_from([
    "```python", "```", "```{code-cell} ipython3", "````", "~~~py", "   ```py", ".. code-block:: python",
    "   :caption: x", "", "x = 1", "   key = random.PRNGKey(0)", "a = random.normal(key)",
    "def model(y):", "    numpyro.sample('y', dist.Normal(0, 1e6), obs=y)", "import numpyro", "def (",
    "    print(x)  # noqa", "\t\tz 😀 = 2", "from jax import random", ":tags: [x]", "---",
])


@settings(max_examples=150, deadline=None)
@given(st.lists(_LINES, max_size=25), st.sampled_from(["\n", "\r\n"]), st.sampled_from(["markdown", "rst"]))
def test_any_document_is_linted_without_error_and_every_position_is_in_it(lines, newline, flavour):
    text = newline.join(lines)
    source = SourceText(text)
    for diagnostic in lint_document_blocks(text, None, Settings(), flavour).diagnostics:
        fixes = [diagnostic.fix, *diagnostic.alternatives] if diagnostic.fix else list(diagnostic.alternatives)
        for span in [diagnostic.span, *(edit.span for fix in fixes for edit in fix.edits)]:
            assert 1 <= span.line <= span.end_line <= len(source.lines)
            assert 0 <= span.col <= len(source.line(span.line))
            assert 0 <= span.end_col <= len(source.line(span.end_line))


def test_a_console_session_is_linted_after_its_prompts_and_its_output_is_left_out():
    text = textwrap.dedent("""\
        ```python
        >>> key = random.PRNGKey(0)
        >>> a = random.normal(key)
        >>> a
        Array(-0.2, dtype=float32)
        >>> b = random.normal(
        ...     key)
        ```

        .. doctest::

            >>> b = random.normal(key)
            1.0
    """)
    found = [(d.code, d.span.line, d.span.col)
             for d in lint_document_blocks(text, None, Settings(), "markdown").diagnostics]
    assert found == [("NPL301", 7, 8)]
    rst = text.split("```\n\n")[1]
    assert lint_document_blocks(rst, None, Settings(), "rst").diagnostics == ()
    [block] = extract_blocks(rst, "rst")
    assert block.lines == ("", "b = random.normal(key)", "")


def test_the_server_lints_markdown_in_its_blocks_and_never_smoke_runs_it():
    from numpyro_lint.server.snapshot import document_snapshot, notebook_snapshot

    assert not document_snapshot("file:///g.md", 1, "x", "/g.md", "markdown").is_python
    assert not document_snapshot("untitled:1", 1, "x", None, "restructuredtext").is_python
    assert document_snapshot("file:///m.py", 1, "x", "/m.py", "python").is_python
    assert notebook_snapshot("file:///n.ipynb", 1, "/n.ipynb", [("c1", 1, "x = 1")]).is_python


def test_a_magic_in_one_code_cell_does_not_stop_the_others_from_being_linted():
    text = textwrap.dedent("""\
        ```{code-cell} ipython3
        %matplotlib inline
        !pip install numpyro
        key = random.PRNGKey(0)
        ```

        ```{code-cell} ipython3
        a = random.normal(key)
        b = random.normal(key)
        ```
    """)
    found = [(d.code, d.span.line) for d in lint_document_blocks(text, None, Settings(), "markdown").diagnostics]
    assert found == [("NPL301", 9)]
