"""What one analysis looks at: a document's text at one version, or a notebook's code cells joined.

A plain file is one `Part`; a notebook has one `Part` per code cell, so that a diagnostic on line 12 of
the joined text can be published to the cell it came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from numpyro_lint.source import SourceText


@dataclass(frozen=True)
class Part:
    """Lines `first_line .. first_line + line_count - 1` of the analysed text live in document `uri`."""

    uri: str
    version: int | None
    first_line: int
    line_count: int

    @property
    def last_line(self) -> int:
        return self.first_line + self.line_count - 1


@dataclass(frozen=True)
class Snapshot:
    uri: str
    version: int
    text: str
    #: The file's path on disk (for pyproject.toml and per-file-ignores); None for unsaved buffers.
    path: str | None
    parts: tuple[Part, ...]
    #: The editor's language id (`markdown`, `restructuredtext`...: linted in their code blocks).
    language: str | None = None

    @cached_property
    def source(self) -> SourceText:
        return SourceText(self.text)

    @property
    def is_notebook(self) -> bool:
        return len(self.parts) != 1 or self.parts[0].uri != self.uri

    @property
    def is_python(self) -> bool:
        """Python source or notebook cells, not a document whose Python lives in code blocks."""
        from numpyro_lint.code_blocks import flavour_of

        return self.is_notebook or flavour_of(self.path, self.language) is None

    def part_at(self, line: int) -> Part | None:
        """The part holding 1-based `line` of the analysed text (the last part for a line past the end)."""
        for part in self.parts:
            if part.first_line <= line <= part.last_line:
                return part
        if self.parts and line > self.parts[-1].last_line:
            return self.parts[-1]
        return None

    def cell_position(self, line: int) -> tuple[int | None, int]:
        """(1-based code cell number or None, line within the cell) of a line of the analysed text."""
        part = self.part_at(line)
        if not self.is_notebook or part is None:
            return None, line
        return self.parts.index(part) + 1, line - part.first_line + 1

    def part_for(self, uri: str) -> Part | None:
        return next((part for part in self.parts if part.uri == uri), None)


def document_snapshot(uri: str, version: int, text: str, path: str | None, language: str | None = None) -> Snapshot:
    line_count = len(SourceText(text).lines)
    return Snapshot(uri, version, text, path, (Part(uri, version, 1, line_count),), language)


def notebook_snapshot(uri: str, version: int, path: str | None,
                      cells: list[tuple[str, int | None, str]]) -> Snapshot:
    """Join code cells given as (cell uri, cell version, cell text); IPython magics become Python in
    place, as `check` does for `.ipynb` files, so lines and columns stay where the editor has them."""
    from numpyro_lint.magics import mask_cell  # one definition of what a magic is

    parts: list[Part] = []
    texts: list[str] = []
    line = 1
    for cell_uri, cell_version, cell_text in cells:
        lines = SourceText(cell_text).lines
        texts.append(mask_cell("\n".join(lines)))
        parts.append(Part(cell_uri, cell_version, line, len(lines)))
        line += len(lines)
    return Snapshot(uri, version, "\n".join(texts), path, tuple(parts))
