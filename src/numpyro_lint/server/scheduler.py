"""When analysis runs: at once for an edit to an idle document, one analysis per document at a time,
off the event loop, and only published for the version (and settings) it was computed for.

An edit to a document that is not being analysed starts an analysis at once (after the user's optional
`debounce-ms`). An edit that arrives while one runs makes that analysis stale: it is told to stop (its
result could never be published), and the edits are coalesced into one follow-up run of the latest text,
started when the running one ends; while edits keep arriving faster than one per `settle_s` (a paste, a
held key, a fast typist) the follow-up waits for that pause, so a burst costs a few analyses, not one per
keystroke, and its last version is published one analysis after the pause.

The scheduler knows nothing about LSP: it asks `snapshot(uri)` for what to analyse, runs
`analyse(snapshot, cancelled)` on its own worker thread (so the message reader and handlers keep going
while a long file is analysed; `cancelled()` turns true when the result is no longer wanted, and the
analysis may then raise), and hands a result that is still current to `on_result`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Callable, Generic, Hashable, TypeVar

logger = logging.getLogger(__name__)

Result = TypeVar("Result")
#: Edits closer together than this are one burst: a follow-up analysis waits until they pause.
SETTLE_S = 0.03


@dataclass
class _Run:
    key: Hashable
    future: asyncio.Future[Any]
    cancel: threading.Event


@dataclass
class _Document(Generic[Result]):
    #: The user's extra delay (`debounce-ms`), or a follow-up waiting for a burst of edits to pause.
    timer: asyncio.TimerHandle | None = None
    running: _Run | None = None
    #: An edit arrived while `running` ran: analyse the latest text when it ends.
    follow_up: bool = False
    last_edit: float = float("-inf")
    latest: tuple[Hashable, Result] | None = None


class Scheduler(Generic[Result]):
    """Per-document analysis, at most one running per document, the latest version winning.

    `snapshot(uri)` returns (key, snapshot) for the document as it is now (key: version and settings
    generation), or None when it is closed; `analyse(snapshot, cancelled)` runs on `executor`;
    `on_result(uri, result)` is called on the loop for results whose key is still current.
    """

    def __init__(self, snapshot: Callable[[str], tuple[Hashable, Any] | None],
                 analyse: Callable[[Any, Callable[[], bool]], Result], on_result: Callable[[str, Result], None],
                 executor: Executor, settle_s: float = SETTLE_S) -> None:
        self._snapshot = snapshot
        self._analyse = analyse
        self._on_result = on_result
        self._executor = executor
        self._settle_s = settle_s
        self._documents: dict[str, _Document[Result]] = {}

    def schedule(self, uri: str, delay_s: float = 0.0) -> None:
        """The document changed: analyse it now if it is idle, else once the running analysis ends and
        the edits pause; `delay_s` > 0 first waits that long without a further `schedule` (debounce)."""
        document = self._documents.setdefault(uri, _Document())
        document.last_edit = time.monotonic()
        if delay_s > 0:
            self._cancel_timer(document)
            document.timer = asyncio.get_running_loop().call_later(delay_s, self._start, uri)
        elif document.running is not None:
            document.follow_up = True
            if not self.is_current(uri, document.running.key):
                document.running.cancel.set()
        elif document.follow_up and document.timer is not None:
            pass  # a burst: the waiting follow-up looks at `last_edit` again when its timer fires
        else:
            self._cancel_timer(document)
            self._start(uri)

    async def current(self, uri: str) -> Result | None:
        """The result for the document as it is now, computed at once if need be (no waiting for a
        debounce or a pause in the edits; behind the analysis running for it, if any)."""
        while True:
            current = self._snapshot(uri)
            if current is None:
                return None
            key, snapshot = current
            document = self._documents.setdefault(uri, _Document())
            if document.latest is not None and document.latest[0] == key:
                return document.latest[1]
            if document.running is None:
                self._run(uri, document, key, snapshot)
            elif document.running.key != key:
                document.follow_up = True
                document.running.cancel.set()
            assert document.running is not None
            run = document.running
            if run.key != key:
                await asyncio.wait([run.future])  # an older version's analysis: the follow-up comes next
                continue
            try:
                return await asyncio.shield(run.future)
            except Exception:
                if not run.cancel.is_set():
                    raise
                # Cancelled: the text changed meanwhile (or it closed); go round for the new text.

    def latest(self, uri: str) -> Result | None:
        """The newest result computed for `uri`, whatever version it was for."""
        document = self._documents.get(uri)
        return document.latest[1] if document is not None and document.latest is not None else None

    def is_current(self, uri: str, key: Hashable) -> bool:
        current = self._snapshot(uri)
        return current is not None and current[0] == key

    def forget(self, uri: str) -> None:
        """The document closed: drop its timer and results, stop its analysis."""
        document = self._documents.pop(uri, None)
        if document is not None:
            self._cancel_timer(document)
            if document.running is not None:
                document.running.cancel.set()

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
        if document.running is not None:
            if document.running.key != key:
                document.follow_up = True  # coalesced: the latest text is analysed when this one ends
                document.running.cancel.set()
            return
        document.follow_up = False
        if document.latest is not None and document.latest[0] == key:
            self._on_result(uri, document.latest[1])
            return
        self._run(uri, document, key, snapshot)

    def _run(self, uri: str, document: _Document[Result], key: Hashable, snapshot: Any) -> None:
        self._cancel_timer(document)
        loop = asyncio.get_running_loop()
        cancel = threading.Event()
        future = loop.run_in_executor(self._executor, self._analyse, snapshot, cancel.is_set)
        run = document.running = _Run(key, future, cancel)
        document.follow_up = False
        future.add_done_callback(lambda done: self._finished(uri, document, run))

    def _finished(self, uri: str, document: _Document[Result], run: _Run) -> None:
        future, key = run.future, run.key
        if document.running is run:
            document.running = None
        if self._documents.get(uri) is not document:
            return  # closed meanwhile
        if not future.cancelled():
            error = future.exception()
            if error is not None and run.cancel.is_set():
                logger.debug("cancelled a stale analysis of %s", uri)
            elif error is not None:
                logger.error("analysis of %s failed", uri, exc_info=error)
            else:
                result = future.result()
                document.latest = (key, result)
                if self.is_current(uri, key):
                    self._on_result(uri, result)
                else:
                    logger.debug("dropped a stale analysis of %s", uri)
        if document.follow_up and document.timer is None:
            self._follow_up(uri, document)

    def _follow_up(self, uri: str, document: _Document[Result]) -> None:
        """Analyse the latest text, once the edits have paused for `settle_s`."""
        quiet = time.monotonic() - document.last_edit
        if quiet >= self._settle_s:
            self._start(uri)
        else:
            document.timer = asyncio.get_running_loop().call_later(self._settle_s - quiet, self._follow_up_due, uri)

    @staticmethod
    def _cancel_timer(document: _Document[Result]) -> None:
        if document.timer is not None:
            document.timer.cancel()
            document.timer = None

    def _follow_up_due(self, uri: str) -> None:
        document = self._documents.get(uri)
        if document is not None:
            document.timer = None
            self._follow_up(uri, document)
