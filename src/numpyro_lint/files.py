"""Finding files to check and reading them: `.py` sources and the code cells of `.ipynb` notebooks."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pathspec

from numpyro_lint.config import Settings
from numpyro_lint.magics import mask_cell
from numpyro_lint.source import UndecodableSource, decode_source

SUFFIXES = (".py", ".pyi", ".ipynb")
MAX_FILE_BYTES = 20 * 1024 * 1024


class UnreadableFile(Exception):
    """A file that cannot be checked; the message says why, in one line."""


@dataclass(frozen=True)
class Document:
    """The text to lint. For notebooks: code cells joined, with the line each cell starts on."""

    path: str
    text: str
    #: (code cell number, first line of the cell in `text`), for notebooks; empty for plain files. Code
    #: cells are counted, not markdown ones, as ruff and the language server number them.
    cells: tuple[tuple[int, int], ...] = field(default=())

    def cell_position(self, line: int) -> tuple[int | None, int]:
        """(1-based code cell number or None, line within the cell) of a line of `text`."""
        if not self.cells:
            return None, line
        cell, start = self.cells[0]
        for number, first_line in self.cells:
            if first_line > line:
                break
            cell, start = number, first_line
        return cell, line - start + 1


def read_document(path: Path) -> Document:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise UnreadableFile(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; not checked")
        data = path.read_bytes()
    except OSError as error:
        raise UnreadableFile(f"cannot read: {error.strerror or error}") from None
    return document_from_bytes(str(path), data)


def document_from_bytes(path: str, data: bytes) -> Document:
    if path.endswith(".ipynb"):
        return _notebook_document(path, data)
    try:
        return Document(path, decode_source(data))
    except UndecodableSource as error:
        raise UnreadableFile(str(error)) from None


def _notebook_document(path: str, data: bytes) -> Document:
    try:
        notebook = json.loads(data)
        cells = notebook["cells"]
    except (ValueError, KeyError, TypeError):
        raise UnreadableFile("not a valid Jupyter notebook (JSON with a `cells` list)") from None
    if not isinstance(cells, list):
        raise UnreadableFile("not a valid Jupyter notebook (JSON with a `cells` list)")
    parts: list[str] = []
    starts: list[tuple[int, int]] = []
    line = 1
    code_cells = [cell for cell in cells if isinstance(cell, dict) and cell.get("cell_type") == "code"]
    for number, cell in enumerate(code_cells, start=1):
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        text = mask_cell(text)
        starts.append((number, line))
        parts.append(text)
        line += text.count("\n") + 1
    return Document(path, "\n".join(parts) + "\n", tuple(starts))


def discover(paths: list[Path], settings: Settings, root: Path) -> Iterator[Path]:
    """Files to check under `paths`: explicit files as given; folders walked for Python sources and
    notebooks (and what `extend-include` adds, e.g. `*.md`), skipping `exclude` patterns and what
    `.gitignore` files ignore, never following symlinked folders (no loops)."""
    excluded = pathspec.PathSpec.from_lines("gitwildmatch", [*settings.exclude, *settings.extend_exclude])
    included = pathspec.PathSpec.from_lines("gitwildmatch", settings.extend_include)
    seen: set[Path] = set()
    for path in paths:
        if path.is_file() or not path.exists():
            if path not in seen:
                seen.add(path)
                yield path
            continue
        for found in _walk(path, excluded, included, root):
            if found not in seen:
                seen.add(found)
                yield found


def _walk(top: Path, excluded: pathspec.PathSpec, included: pathspec.PathSpec, root: Path) -> Iterator[Path]:
    top = top.absolute()
    ignores: list[tuple[Path, pathspec.PathSpec]] = _parent_gitignores(top, root)
    for directory, dirnames, filenames in os.walk(top, followlinks=False):
        current = Path(directory)
        spec = _read_gitignore(current / ".gitignore")
        if spec is not None:
            ignores.append((current, spec))
        ignores = [(base, s) for base, s in ignores if base == current or base in current.parents]
        dirnames[:] = sorted(
            name for name in dirnames
            if not _ignored(current / name, True, excluded, ignores, top)
        )
        for name in sorted(filenames):
            candidate = current / name
            wanted = name.endswith(SUFFIXES) or _included(candidate, included, top)
            if wanted and not _ignored(candidate, False, excluded, ignores, top):
                yield candidate


def _included(path: Path, included: pathspec.PathSpec, top: Path) -> bool:
    if not included.patterns:
        return False
    try:
        relative = path.relative_to(top).as_posix()
    except ValueError:
        relative = path.name
    return included.match_file(path.name) or included.match_file(relative)


def _ignored(path: Path, is_dir: bool, excluded: pathspec.PathSpec, ignores, top: Path) -> bool:
    suffix = "/" if is_dir else ""
    try:
        relative_to_top = path.relative_to(top).as_posix()
    except ValueError:
        relative_to_top = path.name
    if excluded.match_file(path.name + suffix) or excluded.match_file(relative_to_top + suffix):
        return True
    for base, spec in ignores:
        try:
            relative = path.relative_to(base).as_posix()
        except ValueError:
            continue
        if spec.match_file(relative + suffix):
            return True
    return False


def _parent_gitignores(top: Path, root: Path) -> list[tuple[Path, pathspec.PathSpec]]:
    found = []
    root = root.absolute()
    for directory in reversed(top.parents):
        if directory == root or root in directory.parents:
            spec = _read_gitignore(directory / ".gitignore")
            if spec is not None:
                found.append((directory, spec))
    return found


def _read_gitignore(path: Path) -> pathspec.PathSpec | None:
    try:
        return pathspec.PathSpec.from_lines("gitwildmatch", path.read_text(encoding="utf-8", errors="replace").splitlines())
    except OSError:
        return None
