"""When analysis runs: debounced per document, off the event loop, and only published for the version
(and settings) it was computed for.

The scheduler knows nothing about LSP: it asks `snapshot(uri)` for what to analyse, runs
`analyse(snapshot)` on its own worker thread (so the message reader and handlers keep going while a long
file is analysed), and hands a result that is still current to `on_result`.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Callable, Generic, Hashable, TypeVar

logger = logging.getLogger(__name__)

Result = TypeVar("Result")


@dataclass
class _Document(Generic[Result]):
    timer: asyncio.TimerHandle | None = None
    running: tuple[Hashable, asyncio.Future[Any]] | None = None
    latest: tuple[Hashable, Result] | None = None


class Scheduler(Generic[Result]):
    """Per-document debounced analysis.

    `snapshot(uri)` returns (key, snapshot) for the document as it is now (key: version and settings
    generation), or None when it is closed; `analyse(snapshot)` runs on `executor`; `on_result(uri,
    result)` is called on the loop for results whose key is still current.
    """

    def __init__(self, snapshot: Callable[[str], tuple[Hashable, Any] | None],
                 analyse: Callable[[Any], Result], on_result: Callable[[str, Result], None],
                 executor: Executor) -> None:
        self._snapshot = snapshot
        self._analyse = analyse
        self._on_result = on_result
        self._executor = executor
        self._documents: dict[str, _Document[Result]] = {}

    def schedule(self, uri: str, delay_s: float) -> None:
        """Analyse `uri` after `delay_s` without a further `schedule` for it (0: as soon as possible)."""
        document = self._documents.setdefault(uri, _Document())
        if document.timer is not None:
            document.timer.cancel()
        loop = asyncio.get_running_loop()
        document.timer = loop.call_later(max(delay_s, 0.0), self._start, uri)

    async def current(self, uri: str) -> Result | None:
        """The result for the document as it is now, computed at once if need be (no debounce)."""
        current = self._snapshot(uri)
        if current is None:
            return None
        key, snapshot = current
        document = self._documents.setdefault(uri, _Document())
        if document.latest is not None and document.latest[0] == key:
            return document.latest[1]
        if document.running is None or document.running[0] != key:
            if document.timer is not None:
                document.timer.cancel()
                document.timer = None
            self._run(uri, document, key, snapshot)
        assert document.running is not None
        return await asyncio.shield(document.running[1])

    def latest(self, uri: str) -> Result | None:
        """The newest result computed for `uri`, whatever version it was for."""
        document = self._documents.get(uri)
        return document.latest[1] if document is not None and document.latest is not None else None

    def is_current(self, uri: str, key: Hashable) -> bool:
        current = self._snapshot(uri)
        return current is not None and current[0] == key

    def forget(self, uri: str) -> None:
        """The document closed: drop its timer and results (a running analysis finishes unpublished)."""
        document = self._documents.pop(uri, None)
        if document is not None and document.timer is not None:
            document.timer.cancel()

    def close(self) -> None:
        for uri in list(self._documents):
            self.forget(uri)

    def _start(self, uri: str) -> None:
        document = self._documents.get(uri)
        if document is None:
            return
        document.timer = None
        current = self._snapshot(uri)
        if current is None:
            return
        key, snapshot = current
        if document.latest is not None and document.latest[0] == key:
            self._on_result(uri, document.latest[1])
            return
        if document.running is not None and document.running[0] == key:
            return  # already on its way, and it will publish
        self._run(uri, document, key, snapshot)

    def _run(self, uri: str, document: _Document[Result], key: Hashable, snapshot: Any) -> None:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, self._analyse, snapshot)
        document.running = (key, future)
        future.add_done_callback(lambda done: self._finished(uri, document, key, done))

    def _finished(self, uri: str, document: _Document[Result], key: Hashable, future: asyncio.Future[Any]) -> None:
        if document.running is not None and document.running[1] is future:
            document.running = None
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            logger.error("analysis of %s failed", uri, exc_info=error)
            return
        if self._documents.get(uri) is not document:
            return  # closed meanwhile
        result = future.result()
        document.latest = (key, result)
        if self.is_current(uri, key):
            self._on_result(uri, result)
        else:
            logger.debug("dropped a stale analysis of %s", uri)
