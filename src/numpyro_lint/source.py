"""Source text: decoding, line tables, and conversion between column conventions.

`ast` reports columns as UTF-8 byte offsets, LibCST and our `Span` as code points, and LSP as UTF-16
code units by default. All conversions live here.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from functools import cached_property

_CODING_RE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


class UndecodableSource(ValueError):
    """The bytes are not text in the file's declared (or default UTF-8) encoding."""


def decode_source(data: bytes) -> str:
    """Decode Python source bytes as Python does (BOM, coding cookie, else UTF-8); never guess."""
    if b"\x00" in data:
        raise UndecodableSource("file contains NUL bytes (binary file?)")
    encoding = "utf-8"
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    else:
        for line in data.splitlines()[:2]:
            match = _CODING_RE.match(line)
            if match:
                encoding = match.group(1).decode("ascii")
                break
    try:
        return data.decode(encoding)
    except LookupError:
        raise UndecodableSource(f"unknown encoding {encoding!r} in coding declaration") from None
    except UnicodeDecodeError as error:
        raise UndecodableSource(
            f"not valid {encoding}: byte 0x{data[error.start]:02x} at offset {error.start}"
        ) from None


@dataclass(frozen=True)
class SourceText:
    """A file's text with the line table every position conversion needs."""

    text: str

    @cached_property
    def lines(self) -> list[str]:
        # Only \n, \r\n and \r end lines for Python (str.splitlines also splits on \x0c, \x1c...).
        return re.split(r"\r\n|\r|\n", self.text)

    def line(self, lineno: int) -> str:
        """The text of 1-based line `lineno`, without its line ending ('' past the end)."""
        if 1 <= lineno <= len(self.lines):
            return self.lines[lineno - 1]
        return ""

    def col_from_utf8(self, lineno: int, byte_col: int) -> int:
        line = self.line(lineno)
        if line.isascii():
            return byte_col
        return len(line.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))

    def utf16_col(self, lineno: int, col: int) -> int:
        line = self.line(lineno)
        if line.isascii():
            return col
        prefix = line[:col]
        return col + sum(1 for ch in prefix if ord(ch) > 0xFFFF)

    def col_from_utf16(self, lineno: int, utf16_col: int) -> int:
        line = self.line(lineno)
        if line.isascii():
            return utf16_col
        units = 0
        for index, ch in enumerate(line):
            if units >= utf16_col:
                return index
            units += 2 if ord(ch) > 0xFFFF else 1
        return len(line)

    def utf8_col(self, lineno: int, col: int) -> int:
        line = self.line(lineno)
        if line.isascii():
            return col
        return len(line[:col].encode("utf-8"))

    @cached_property
    def _line_offsets(self) -> list[int]:
        offsets = [0]
        for match in re.finditer(r"\r\n|\r|\n", self.text):
            offsets.append(match.end())
        return offsets

    def offset(self, lineno: int, col: int) -> int:
        """Index into `text` of 1-based line, code-point column (clamped to the text)."""
        offsets = self._line_offsets
        if lineno < 1:
            return 0
        if lineno > len(offsets):
            return len(self.text)
        return min(offsets[lineno - 1] + min(col, len(self.line(lineno))), len(self.text))

    def position(self, offset: int) -> tuple[int, int]:
        """(1-based line, code-point column) of an index into `text`."""
        import bisect

        index = bisect.bisect_right(self._line_offsets, offset) - 1
        return index + 1, offset - self._line_offsets[index]

    @cached_property
    def newline(self) -> str:
        match = re.search(r"\r\n|\r|\n", self.text)
        return match.group(0) if match else "\n"
