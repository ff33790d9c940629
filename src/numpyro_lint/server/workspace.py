"""The editor's documents, kept by pygls, with lines as LSP counts them.

pygls splits a document into lines with `str.splitlines`, which also breaks at a form feed (whitespace in
Python source), U+2028 and six other characters; LSP and editors break lines only at \\n, \\r\\n and \\r.
With pygls' lines every incremental edit below such a character landed on the wrong line, and the server
analysed (and hovered) text the editor never had until the next full sync.
"""

from __future__ import annotations

import re

from pygls.workspace import TextDocument, Workspace

#: A line with its line break, or the last line when it has none.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


class LspTextDocument(TextDocument):
    @property
    def lines(self) -> tuple[str, ...]:
        return tuple(_LINE.findall(self.source))


class LspWorkspace(Workspace):
    """A pygls workspace whose text documents (notebook cells included) are `LspTextDocument`s."""

    def _create_text_document(self, doc_uri: str, source: str | None = None, version: int | None = None,
                              language_id: str | None = None) -> TextDocument:
        return LspTextDocument(doc_uri, source=source, version=version, language_id=language_id,
                               sync_kind=self._sync_kind, position_codec=self.position_codec)
