"""Python code blocks in documents: Markdown (CommonMark fences, MyST, Quarto and R Markdown chunks) and
reStructuredText. Each block becomes Python the linter reads, and every position it reports maps back to
the document's own line and column, so that reports, `# noqa`, fixes and editors work on the document.

Which blocks make one program:
- Executable blocks (MyST ```` ```{code-cell} ````, Quarto/R Markdown ```` ```{python} ````, RST
  `.. jupyter-execute::`) run top to bottom in one kernel: together they are one program, like the
  code cells of a notebook (a key used in one cell and again in a later one is reused).
- Illustrative blocks (```` ```python ````, ```` ```py ````, MyST `{code-block} python`, RST
  `.. code-block:: python`, `.. code:: python`, `.. testcode::`, `.. doctest::`) are independent
  examples: each is its own program, so key flow, reparameterisations and site names never cross from
  one to another. A block sees the import statements of the blocks above it (tutorials import once).
- A block that starts with a `>>>` prompt is a console session: its code is what follows the `>>> ` and
  `... ` prompts (columns kept), its output lines are left out. IPython magics in any block become
  Python as in notebooks (magics.py).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Iterator

from numpyro_lint.diagnostic import Diagnostic, Edit, Fix, RelatedLocation, Span
from numpyro_lint.magics import mask_cell
from numpyro_lint.source import SourceText

if TYPE_CHECKING:
    from numpyro_lint.config import Settings
    from numpyro_lint.linter import FixesWanted

MARKDOWN_SUFFIXES = (".md", ".markdown", ".qmd", ".rmd")
RST_SUFFIXES = (".rst",)
#: LSP language ids of documents whose Python lives in code blocks.
LANGUAGE_FLAVOURS = {"markdown": "markdown", "quarto": "markdown", "rmd": "markdown",
                     "restructuredtext": "rst", "rst": "rst"}
_PYTHON_LANGUAGES = frozenset({"python", "py", "python3", "py3", "ipython", "ipython3", "pycon"})


def flavour_of(path: str | None, language: str | None = None) -> str | None:
    """"markdown" or "rst" for a document whose Python lives in code blocks; None for Python itself."""
    if language:
        return LANGUAGE_FLAVOURS.get(language.lower())
    lowered = (path or "").lower()
    if lowered.endswith(MARKDOWN_SUFFIXES):
        return "markdown"
    if lowered.endswith(RST_SUFFIXES):
        return "rst"
    return None


@dataclass(frozen=True)
class CodeBlock:
    """Lines `first_line ..` of the document hold `lines`, each after removing `offsets[i]` characters of
    indentation (`indent` is the block's own, put back before lines a fix adds)."""

    first_line: int
    lines: tuple[str, ...]
    offsets: tuple[int, ...]
    indent: str
    executable: bool


# Markdown ------------------------------------------------------------------------------------------------

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>.*?)[ \t]*$")
_MYST_OPTION = re.compile(r"^:[\w-]+:")


def _markdown_kind(info: str) -> str | None:
    """"executable", "illustrative" or None (not Python) for a fence's info string."""
    info = info.strip().lower()
    if "`" in info:
        return None
    if info.startswith("{"):
        directive, _, rest = info.partition("}")
        name = directive[1:].strip()
        words = rest.split()
        language = words[0] if words else ""
        if name == "code-cell":
            return "executable" if language in _PYTHON_LANGUAGES or not language else None
        if name in ("code-block", "code", "sourcecode"):
            return "illustrative" if language in _PYTHON_LANGUAGES else None
        # Quarto / R Markdown chunks: {python}, {python echo=false}, {python, eval=TRUE}
        first = re.split(r"[\s,]", name, maxsplit=1)[0]
        return "executable" if first in _PYTHON_LANGUAGES else None
    words = info.split()
    return "illustrative" if words and words[0] in _PYTHON_LANGUAGES else None


def markdown_blocks(lines: list[str]) -> Iterator[CodeBlock]:
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None or (opening["fence"][0] == "`" and "`" in opening["info"]):
            index += 1
            continue
        fence, indent = opening["fence"], opening["indent"]
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        end = index + 1
        while end < len(lines) and not closing.match(lines[end]):
            end += 1
        kind = _markdown_kind(opening["info"])
        if kind is not None:
            body = lines[index + 1:end]
            if opening["info"].lstrip().startswith("{"):
                body = _blank_directive_options(body)
            yield _dedented(index + 2, body, indent, kind == "executable")
        index = end + 1


def _blank_directive_options(body: list[str]) -> list[str]:
    """MyST options (`:tags: [hide-input]` lines, or a `---` YAML block) at the top are not code."""
    body = list(body)
    if body and body[0].strip() == "---":
        for number in range(1, len(body)):
            if body[number].strip() == "---":
                return [""] * (number + 1) + body[number + 1:]
        return body
    number = 0
    while number < len(body) and _MYST_OPTION.match(body[number].strip()):
        body[number] = ""
        number += 1
    return body


def _dedented(first_line: int, body: list[str], indent: str, executable: bool) -> CodeBlock:
    lines, offsets = [], []
    for line in body:
        removed = 0
        while removed < len(indent) and removed < len(line) and line[removed] in " \t":
            removed += 1
        lines.append(line[removed:])
        offsets.append(removed)
    if _is_console_session(lines):
        lines, offsets = _without_prompts(lines, offsets)
    lines = mask_cell("\n".join(lines)).split("\n")  # code cells and ipython blocks hold magics too
    return CodeBlock(first_line, tuple(lines), tuple(offsets), indent, executable)


def _is_console_session(lines: list[str]) -> bool:
    first = next((line for line in lines if line.strip()), "")
    return first.startswith(">>>")


def _without_prompts(lines: list[str], offsets: list[int]) -> tuple[list[str], list[int]]:
    """A console session (`>>> x = 1` then output), as README blocks and doctests are: the code after
    each `>>> ` / `... ` prompt, output lines blank."""
    code, shifted = [], []
    for line, offset in zip(lines, offsets):
        prompt = line[:4]
        if prompt in (">>> ", "... ") or line in (">>>", "..."):
            code.append(line[4:])
            shifted.append(offset + min(4, len(line)))
        else:
            code.append("")
            shifted.append(offset)
    return code, shifted


# reStructuredText ----------------------------------------------------------------------------------------

_RST_DIRECTIVE = re.compile(
    r"^(?P<indent>[ \t]*)\.\.[ \t]+(?P<name>code-block|code|sourcecode|testcode|doctest|jupyter-execute)::"
    r"[ \t]*(?P<language>\S*)[ \t]*$")


def rst_blocks(lines: list[str]) -> Iterator[CodeBlock]:
    index = 0
    while index < len(lines):
        directive = _RST_DIRECTIVE.match(lines[index])
        index += 1
        if directive is None:
            continue
        name, language = directive["name"], directive["language"].lower()
        if name in ("code-block", "code", "sourcecode") and language not in _PYTHON_LANGUAGES:
            continue
        own = len(directive["indent"].expandtabs())
        start = index
        while start < len(lines) and _indent_of(lines[start]) > own and lines[start].strip().startswith(":"):
            start += 1  # directive options
        end = start
        while end < len(lines) and (not lines[end].strip() or _indent_of(lines[end]) > own):
            end += 1
        while end > start and not lines[end - 1].strip():
            end -= 1
        content = [line for line in lines[start:end] if line.strip()]
        if content:
            first = content[0]
            indent = first[:len(first) - len(first.lstrip())]
            yield _dedented(start + 1, lines[start:end], indent, name == "jupyter-execute")
        index = end


def _indent_of(line: str) -> int:
    return len(line.expandtabs()) - len(line.expandtabs().lstrip())


def extract_blocks(text: str, flavour: str) -> list[CodeBlock]:
    lines = SourceText(text).lines
    return list(rst_blocks(lines) if flavour == "rst" else markdown_blocks(lines))


# Programs: what one lint sees ----------------------------------------------------------------------------

#: Where a program line comes from: (document line, columns removed, indent of its block); None for
#: lines the document does not have there (imports carried from blocks above).
Origin = tuple[int, int, str] | None


@dataclass(frozen=True)
class Program:
    text: str
    origins: tuple[Origin, ...]


def programs(blocks: list[CodeBlock]) -> list[Program]:
    """The executable blocks joined into one program; each illustrative block its own, after the import
    statements of the blocks above it."""
    found: list[Program] = []
    executable = [block for block in blocks if block.executable]
    if executable:
        lines, origins = [], []
        for block in executable:
            lines.extend(block.lines)
            origins.extend(_origins(block))
        found.append(Program("\n".join(lines) + "\n", tuple(origins)))
    carried: list[str] = []
    for index, block in enumerate(blocks):
        if not block.executable:
            lines = [*carried, *block.lines]
            origins = [None] * len(carried) + _origins(block)
            found.append(Program("\n".join(lines) + "\n", tuple(origins)))
        if index + 1 < len(blocks):  # no block below the last one needs its imports
            carried.extend(_import_statements(block.lines))
    return found


def _origins(block: CodeBlock) -> list[Origin]:
    return [(block.first_line + number, offset, block.indent) for number, offset in enumerate(block.offsets)]


def _import_statements(lines: tuple[str, ...]) -> list[str]:
    """The block's top-level import statements (each checked to parse), found without parsing the
    block: a second full parse of every block would cost a fifth of its lint."""
    found: list[str] = []
    number = 0
    while number < len(lines):
        line = lines[number]
        number += 1
        if not line.startswith(("import ", "from ")):
            continue
        statement = [line]
        while number < len(lines) and (statement[-1].endswith("\\") or
                                       "(" in line and ")" not in "".join(statement)):
            statement.append(lines[number])
            number += 1
        if _parses("\n".join(statement)):
            found.extend(statement)
    return found


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


# Linting and mapping back --------------------------------------------------------------------------------

@dataclass(frozen=True)
class DocumentLint:
    diagnostics: tuple[Diagnostic, ...]
    #: How many programs do not parse (a fix must never raise it).
    syntax_errors: int


def lint_document_blocks(text: str, path: str | None, settings: Settings, flavour: str,
                         fixes: FixesWanted = "all") -> DocumentLint:
    """Diagnostics of every Python code block of a document, at the document's own positions."""
    from numpyro_lint.linter import lint_text

    document = SourceText(text)
    found: list[Diagnostic] = []
    broken = 0
    for program in programs(extract_blocks(text, flavour)):
        result = lint_text(program.text, path, settings, fixes=fixes)
        broken += result.module.syntax_error is not None
        mapper = _Mapper(program, document)
        found.extend(mapped for mapped in map(mapper.diagnostic, result.diagnostics) if mapped is not None)
    found.sort(key=lambda d: (d.span.line, d.span.col, d.code))
    return DocumentLint(tuple(found), broken)


class _Mapper:
    def __init__(self, program: Program, document: SourceText) -> None:
        self.origins = program.origins
        self.program_lines = SourceText(program.text).lines
        self.newline = document.newline

    def origin(self, line: int) -> Origin:
        return self.origins[line - 1] if 1 <= line <= len(self.origins) else None

    def span(self, span: Span) -> Span | None:
        start, end = self.origin(span.line), self.origin(span.end_line)
        if start is None or end is None or end[0] - start[0] != span.end_line - span.line:
            return None  # outside the document's code, or across two blocks
        return Span(start[0], span.col + start[1], end[0], span.end_col + end[1])

    def edit(self, edit: Edit) -> Edit | None:
        span = self.span(edit.span)
        if span is not None:
            origin = self.origin(edit.span.line)
            return Edit(span, edit.content.replace("\n", self.newline + origin[2]))  # type: ignore[index]
        return self._import_after_carried(edit)

    def _import_after_carried(self, edit: Edit) -> Edit | None:
        """An import a fix adds after the last carried import goes before the block's first line."""
        line = edit.span.line
        following = self.origin(line + 1)
        if (edit.span.end_line != line or edit.span.col != edit.span.end_col or self.origin(line) is not None
                or following is None or edit.span.col != len(self.program_lines[line - 1])
                or not edit.content.startswith("\n")):
            return None
        document_line, offset, indent = following
        content = edit.content[1:].replace("\n", self.newline + indent) + self.newline + indent
        return Edit(Span(document_line, offset, document_line, offset), content)

    def fix(self, fix: Fix | None) -> Fix | None:
        if fix is None:
            return None
        edits = [self.edit(edit) for edit in fix.edits]
        if any(edit is None for edit in edits):
            return None
        return replace(fix, edits=tuple(edits))  # type: ignore[arg-type]

    def message(self, message: str) -> str:
        def document_line(match: re.Match[str]) -> str:
            origin = self.origin(int(match.group(2)))
            return f"{match.group(1)}{origin[0]}" if origin is not None else match.group(0)

        return re.sub(r"(\bline )(\d+)\b", document_line, message)

    def diagnostic(self, diagnostic: Diagnostic) -> Diagnostic | None:
        span = self.span(diagnostic.span)
        if span is None:
            return None
        related = tuple(RelatedLocation(mapped, self.message(r.message)) for r in diagnostic.related
                        if (mapped := self.span(r.span)) is not None)
        alternatives = tuple(fix for fix in map(self.fix, diagnostic.alternatives) if fix is not None)
        return replace(diagnostic, span=span, message=self.message(diagnostic.message), related=related,
                       fix=self.fix(diagnostic.fix), alternatives=alternatives)
