"""Random edits to a model file as an editor sends them: `textDocument/didChange` content changes whose
ranges count UTF-16 code units, as LSP does by default.

Driven by a `random.Random`, so that the server's fuzz test (hypothesis' `st.randoms()`, which shrinks)
and its soak script (`bench/soak_server.py`, seeded) share one generator. Plain Python: no LSP library.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

#: The only line breaks LSP knows (str.splitlines also splits on form feeds, U+2028 and others).
LINE_BREAK = re.compile(r"\r\n|\r|\n")
#: A document grown past this many characters is put back to its original text (as after `git checkout`).
MAX_CHARS = 60_000

#: What a user types or pastes: brackets and quotes left open, tabs, characters outside the BMP (two
#: UTF-16 units each), both kinds of line break and a lone CR, a form feed and U+2028 (line breaks to
#: str.splitlines, not to LSP), a 5,000-character line, half-written model code.
SNIPPETS = (
    "(", ")", "[", "]", "{", "}", ":", ",", "=", '"', "'", '"""', "\\", "#", "\t", "    ", "\n", "\r\n", "\r",
    "😀", 'label = "😀😀"\n', "\U0001d4b3 = 1", "é", "\x0c", "\u2028", "x" * 5000,
    "\nz = [" + "1, " * 1700 + "]\n", 'numpyro.sample("', "dist.Normal(0, ", "with numpyro.plate(",
    "def model(", "    print(x)\n", "    x[0] = 1\n", "# noqa: NPL", "lambda", "import numpyro\n",
)
ALPHABET = "abcxyz_019 .,:()[]{}'\"#\\\t\n😀é"
#: How often each kind of edit comes (random_change). Most leave the file unparsable; comments and whole
#: replacements (mostly the original text back, as after an undo) bring it back to where rules and fixes run.
KINDS = {"insert": 30, "type": 15, "delete": 20, "replace": 10, "paste": 8, "truncate": 4, "crlf": 4,
         "comment": 10, "whole": 8}


@dataclass(frozen=True)
class Change:
    """`text` in place of `range` ((line, character) start and end, UTF-16 units) of the document, or
    of the whole document when `range` is None."""

    range: tuple[tuple[int, int], tuple[int, int]] | None
    text: str

    def as_json(self) -> dict[str, Any]:
        """The change as a `TextDocumentContentChangeEvent`."""
        if self.range is None:
            return {"text": self.text}
        (start_line, start_character), (end_line, end_character) = self.range
        return {"range": {"start": {"line": start_line, "character": start_character},
                          "end": {"line": end_line, "character": end_character}},
                "text": self.text}


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def position(text: str, offset: int) -> tuple[int, int]:
    """The LSP position (line, UTF-16 character) of code-point `offset` in `text`."""
    head = text[:offset]
    line, line_start = 0, 0
    for line_break in LINE_BREAK.finditer(head):
        line, line_start = line + 1, line_break.end()
    return line, utf16_units(head[line_start:])


def snap(text: str, offset: int) -> int:
    """`offset`, moved off the middle of a CRLF (no LSP position points there)."""
    if 0 < offset < len(text) and text[offset - 1] == "\r" and text[offset] == "\n":
        return offset - 1
    return offset


def replace(text: str, start: int, end: int, new_text: str) -> tuple[Change, str]:
    """The change that puts `new_text` in place of code points `start:end`, and the text after it."""
    start, end = snap(text, start), snap(text, end)
    change = Change((position(text, start), position(text, end)), new_text)
    return change, text[:start] + new_text + text[end:]


def random_offset(rng: random.Random, text: str) -> int:
    return snap(text, rng.randint(0, len(text)))


def random_position(rng: random.Random, text: str) -> tuple[int, int]:
    return position(text, random_offset(rng, text))


def random_range(rng: random.Random, text: str) -> tuple[tuple[int, int], tuple[int, int]]:
    start, end = sorted((random_offset(rng, text), random_offset(rng, text)))
    return position(text, start), position(text, end)


def random_change(rng: random.Random, text: str, original: str) -> tuple[Change, str]:
    """One edit a user might make to `text` (a file that started as `original`), and the text after it."""
    if len(text) > MAX_CHARS:
        return Change(None, original), original
    kind = rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
    start = random_offset(rng, text)
    end = min(len(text), start + rng.randint(1, rng.choice((2, 20, 200, 2000))))
    if kind == "insert":
        return replace(text, start, start, rng.choice(SNIPPETS))
    if kind == "type":
        return replace(text, start, start, "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 12))))
    if kind == "delete":
        return replace(text, start, end, "")
    if kind == "replace":
        return replace(text, start, end, rng.choice(SNIPPETS))
    if kind == "paste":
        return replace(text, start, start, text[random_offset(rng, text):][:rng.randint(1, 400)])
    if kind == "truncate":
        return replace(text, start, len(text), "")
    if kind == "comment":  # a line of its own, so the code around it still parses
        line_start = max(text.rfind("\n", 0, start), text.rfind("\r", 0, start)) + 1
        comment = "# " + "".join(rng.choice(ALPHABET.replace("\n", "")) for _ in range(rng.randint(0, 30)))
        return replace(text, line_start, line_start, comment + rng.choice(("\n", "\r\n")))
    if kind == "crlf":  # the whole file's line endings switched, as an editor's "change EOL" does
        unix = text.replace("\r\n", "\n")
        whole = unix.replace("\n", "\r\n") if unix == text else unix
        return Change(None, whole), whole
    whole = rng.choice((original, original, original, "", "\r\n", original.replace("\n", "\r\n"), original + "😀"))
    return Change(None, whole), whole
