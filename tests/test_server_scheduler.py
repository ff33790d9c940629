"""Scheduled analysis: an edit to an idle document is analysed at once, edits during an analysis coalesce
into one follow-up of the latest version, stale results are never published, the optional debounce
coalesces a burst, a request for the current result waits for neither, closed documents publish nothing."""

from __future__ import annotations

import asyncio
import threading

import pytest

from numpyro_lint.server.lifecycle import DaemonExecutor
from numpyro_lint.server.scheduler import Scheduler


class Documents:
    """Versions of open documents, an analysis that records what it saw, and what got published."""

    def __init__(self) -> None:
        self.versions: dict[str, int] = {}
        self.analysed: list[tuple[str, int]] = []
        self.cancelled: list[tuple[str, int]] = []
        self.published: list[tuple[str, int]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.changed = asyncio.Event()

    def snapshot(self, uri: str):
        version = self.versions.get(uri)
        return None if version is None else (version, (uri, version))

    def analyse(self, job, cancelled):
        self.entered.set()
        self.gate.wait(10)
        if cancelled():
            self.cancelled.append(job)
            raise RuntimeError("cancelled")
        self.analysed.append(job)
        return job

    def on_result(self, uri: str, result) -> None:
        self.published.append(result)
        self.changed.set()

    async def until(self, predicate) -> None:
        async def wait():
            while not predicate():
                self.changed.clear()
                await self.changed.wait()
        await asyncio.wait_for(wait(), 10)


def scheduler(documents: Documents, settle_s: float = 0.0) -> Scheduler:
    return Scheduler(documents.snapshot, documents.analyse, documents.on_result, DaemonExecutor("test-analysis"),
                     settle_s=settle_s)


async def test_an_edit_to_an_idle_document_is_analysed_at_once():
    documents = Documents()
    analysis = scheduler(documents, settle_s=60)  # a pause no test would wait for
    documents.versions["a"] = 1
    analysis.schedule("a")
    await documents.until(lambda: documents.published)
    documents.versions["a"] = 2
    analysis.schedule("a")
    await documents.until(lambda: len(documents.published) == 2)
    assert documents.published == [("a", 1), ("a", 2)]


async def test_edits_during_an_analysis_coalesce_into_one_run_of_the_latest_version():
    documents = Documents()
    analysis = scheduler(documents)
    documents.versions["a"] = 1
    documents.gate.clear()  # analysis of version 1 blocks
    analysis.schedule("a")
    assert await asyncio.to_thread(documents.entered.wait, 10)
    for version in range(2, 8):
        documents.versions["a"] = version
        analysis.schedule("a")
    documents.gate.set()
    await documents.until(lambda: ("a", 7) in documents.published)
    assert documents.cancelled == [("a", 1)]  # stale: told to stop
    assert documents.analysed == [("a", 7)]
    assert documents.published == [("a", 7)]


async def test_current_does_not_wait_for_a_burst_to_pause():
    documents = Documents()
    analysis = scheduler(documents, settle_s=60)
    documents.versions["a"] = 1
    documents.gate.clear()
    analysis.schedule("a")
    assert await asyncio.to_thread(documents.entered.wait, 10)
    documents.versions["a"] = 2
    analysis.schedule("a")  # the follow-up would wait a minute for the edits to pause
    documents.versions["a"] = 3
    analysis.schedule("a")
    documents.gate.set()
    assert await asyncio.wait_for(analysis.current("a"), 10) == ("a", 3)
    await documents.until(lambda: ("a", 3) in documents.published)
    assert documents.analysed == [("a", 3)]


async def test_a_burst_of_changes_is_analysed_once_for_the_last_version():
    documents = Documents()
    analysis = scheduler(documents)
    documents.versions["a"] = 1
    for version in range(1, 6):
        documents.versions["a"] = version
        analysis.schedule("a", 0.05)
    await documents.until(lambda: documents.published)
    assert documents.analysed == [("a", 5)]
    assert documents.published == [("a", 5)]


async def test_a_result_for_an_old_version_is_not_published():
    documents = Documents()
    analysis = scheduler(documents)
    documents.versions["a"] = 1
    documents.gate.clear()  # analysis of version 1 blocks
    analysis.schedule("a", 0)
    assert await asyncio.to_thread(documents.entered.wait, 10)
    documents.versions["a"] = 2
    analysis.schedule("a", 0)
    documents.gate.set()
    await documents.until(lambda: ("a", 2) in documents.published)
    assert ("a", 1) not in documents.published


async def test_current_skips_the_debounce_and_reuses_results():
    documents = Documents()
    analysis = scheduler(documents)
    documents.versions["a"] = 7
    analysis.schedule("a", 60)  # a long debounce that `current` must not wait for
    first, second = await asyncio.gather(analysis.current("a"), analysis.current("a"))
    assert first == second == ("a", 7)
    assert await analysis.current("a") == ("a", 7)
    assert documents.analysed == [("a", 7)]


async def test_closed_documents_are_not_analysed_or_published():
    documents = Documents()
    analysis = scheduler(documents)
    documents.versions["a"] = 1
    analysis.schedule("a", 0.05)
    analysis.forget("a")
    del documents.versions["a"]
    assert await analysis.current("a") is None
    documents.versions["b"] = 1
    analysis.schedule("b", 0.05)
    await documents.until(lambda: documents.published)
    assert documents.published == [("b", 1)]


async def test_a_request_for_a_version_that_went_stale_gets_the_newer_result():
    documents = Documents()
    analysis = scheduler(documents)
    documents.versions["a"] = 1
    documents.gate.clear()
    request = asyncio.ensure_future(analysis.current("a"))
    assert await asyncio.to_thread(documents.entered.wait, 10)
    documents.versions["a"] = 2
    analysis.schedule("a")
    documents.gate.set()
    assert await asyncio.wait_for(request, 10) == ("a", 2)
    assert documents.cancelled == [("a", 1)]


def test_linting_stops_soon_after_it_is_told_to():
    from numpyro_lint.ir import AnalysisCancelled
    from numpyro_lint.linter import lint_text

    text = "import numpyro\n" + "".join(f"def f{n}(x):\n    return x + {n}\n" for n in range(200))
    checks = []

    def cancelled() -> bool:
        checks.append(None)
        return len(checks) > 3  # told to stop while the first functions are read

    with pytest.raises(AnalysisCancelled):
        lint_text(text, cancelled=cancelled)
    assert len(checks) == 4
    assert lint_text(text, cancelled=lambda: False).diagnostics == ()
