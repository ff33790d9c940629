"""Smoke runs from the editor: at most one per document, started on save or on request, reported as
work-done progress and as the runner's state (idle, compiling, sampling), and their findings kept for
the version of the text they ran on. Only files inside a workspace folder are run: opening a file must
never be enough to execute it.

The runner (`numpyro_lint.runner.client.SmokeRunner`) does the work in child processes; this process
never imports JAX or NumPyro. When the runner package is missing, smoke runs are unavailable and the log
says so once.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Literal, Protocol

from numpyro_lint.config import Settings, SmokeSettings
from numpyro_lint.diagnostic import Diagnostic
from numpyro_lint.server.snapshot import Snapshot

logger = logging.getLogger(__name__)

RunnerState = Literal["idle", "compiling", "sampling"]


def load_runner_class() -> Any | None:
    """The SmokeRunner class, or None when the runner is not installed."""
    try:
        from numpyro_lint.runner.client import SmokeRunner
    except ImportError as error:
        logger.warning("smoke runs are unavailable: cannot import numpyro_lint.runner.client (%s)", error)
        return None
    return SmokeRunner


class Progress(Protocol):
    """How a run shows progress: `begin` returns a handle (None when the client shows no progress);
    `on_cancel` is called on the loop when the user cancels it; `token`: the client's own progress
    token for the request, if it sent one."""

    async def begin(self, title: str, message: str, on_cancel: Callable[[], None], token: Any = None) -> Any: ...

    def report(self, handle: Any, message: str) -> None: ...

    def end(self, handle: Any, message: str) -> None: ...


@dataclass(frozen=True)
class SmokeResult:
    snapshot: Snapshot
    diagnostics: tuple[Diagnostic, ...]
    #: What the run measured per model (qualname -> runner.protocol.ModelFacts), once it has finished;
    #: empty while only a stage's findings are in, or for a runner that does not report it.
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Running:
    snapshot: Snapshot
    settings: Settings
    progress: Any
    task: asyncio.Task[Any]


def inside_workspace(path: str | None, folders: Iterable[str]) -> bool:
    """Whether the file at `path` (symlinks resolved) lies in one of `folders` or below it."""
    if path is None:
        return False
    resolved = Path(path).resolve()
    return any(resolved.is_relative_to(Path(folder).resolve()) for folder in folders)


def phase_of(message: str) -> RunnerState | None:
    """The runner state a progress message speaks of ("warmup 20/300" is sampling), if any."""
    lower = message.lower()
    if "warmup" in lower or "sampl" in lower:
        return "sampling"
    if "compil" in lower:
        return "compiling"
    return None


class SmokeRuns:
    """Runs per document URI. `on_result(uri)` is called on the loop when findings are in (partial ones
    too, when the runner reports them stage by stage); `on_failure(message)` when a run could not be
    done (no JAX in the runner's interpreter, ...); `on_state(state, findings)` when the runner's state
    changes, with the number of findings when a run has just finished. `workspace()` names the folders
    whose files may be run."""

    def __init__(self, load_runner: Callable[[], Any | None], progress: Progress,
                 on_result: Callable[[str], None], on_failure: Callable[[str], None], *,
                 workspace: Callable[[], Iterable[str]],
                 on_state: Callable[[RunnerState, int | None], None]) -> None:
        self._load_runner = load_runner
        self._progress = progress
        self._on_result = on_result
        self._on_failure = on_failure
        self._workspace = workspace
        self._on_state = on_state
        self._runner_class: Any | None = None
        self._runner_loaded = False
        self._runner: Any | None = None
        self._runner_settings: SmokeSettings | None = None
        self._tasks: dict[str, asyncio.Task[tuple[Diagnostic, ...] | None]] = {}
        #: What each task runs: (document version, text, settings), to adopt a run of the same inputs.
        self._inputs: dict[asyncio.Task[Any], tuple[int, str, Settings]] = {}
        #: The run started on opening a document, until a save adopts it.
        self._open_run: asyncio.Task[Any] | None = None
        self._results: dict[str, SmokeResult] = {}
        #: Runs in flight by the name the runner knows them by (the path, else the URI).
        self._running: dict[str, _Running] = {}
        self._failures_shown: set[str] = set()
        self._outside_logged: set[str] = set()
        #: The state of each run in flight, the one that changed last at the end.
        self._states: dict[asyncio.Task[Any], RunnerState] = {}
        self._shown_state: RunnerState = "idle"
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def available(self) -> bool:
        if not self._runner_loaded:
            self._runner_loaded = True
            self._runner_class = self._load_runner()
        return self._runner_class is not None

    def start(self, snapshot: Snapshot, settings: Settings, progress_token: Any = None, *,
              on_open: bool = False) -> asyncio.Task[tuple[Diagnostic, ...] | None] | None:
        """Run the document as `snapshot` has it, cancelling its previous run; None when unavailable.
        The task's result is the findings, or None when the run failed (the log says why).

        A run started when a document opens (`on_open`) gets the model compiled before the first save:
        a save of the same version adopts it instead of starting over, and opening another document
        cancels it unless a save adopted it (only the document opened last is run unasked)."""
        if not self.available or not self.may_run(snapshot):
            return None
        self._loop = asyncio.get_running_loop()
        inputs = (snapshot.version, snapshot.text, settings)
        current = self._tasks.get(snapshot.uri)
        if current is not None and not current.done() and self._inputs.get(current) == inputs:
            if self._open_run is current:
                self._open_run = None
            return current
        if on_open and self._open_run is not None:
            self._open_run.cancel()
        self.cancel(snapshot.uri)
        task = asyncio.create_task(self._run(snapshot, settings, progress_token), name=f"smoke {snapshot.uri}")
        self._tasks[snapshot.uri] = task
        self._inputs[task] = inputs
        if on_open:
            self._open_run = task
        task.add_done_callback(lambda done: self._forget_task(snapshot.uri, done))
        return task

    def may_run(self, snapshot: Snapshot) -> bool:
        """Whether the document is a Python file inside the workspace (the log says once when it is not);
        the code blocks of Markdown and reStructuredText documents are linted, never run."""
        if not snapshot.is_python:
            return False
        if inside_workspace(snapshot.path, self._workspace()):
            return True
        if snapshot.uri not in self._outside_logged:
            self._outside_logged.add(snapshot.uri)
            logger.info("no smoke runs for %s: only files inside the workspace are run", snapshot.uri)
        return False

    def _forget_task(self, uri: str, task: asyncio.Task[Any]) -> None:
        self._inputs.pop(task, None)
        if self._open_run is task:
            self._open_run = None
        if self._tasks.get(uri) is task:
            del self._tasks[uri]

    def result(self, uri: str, version: int) -> SmokeResult | None:
        """The findings of the last run on this version of the document, if any."""
        found = self._results.get(uri)
        return found if found is not None and found.snapshot.version == version else None

    def running(self, uri: str) -> bool:
        """Whether a run of the document is in flight."""
        task = self._tasks.get(uri)
        return task is not None and not task.done()

    def clear(self, uri: str) -> bool:
        """The text changed: forget the findings (a run in flight finishes, but is not shown)."""
        return self._results.pop(uri, None) is not None

    def cancel(self, uri: str) -> None:
        task = self._tasks.pop(uri, None)
        if task is not None:
            task.cancel()

    async def aclose(self, timeout_s: float = 5.0) -> None:
        """Cancel every run, let the runner see the cancellations, then close it."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout_s)
        self.close()

    def close(self) -> None:
        """Cancel every run and stop the runner's child processes."""
        for uri in list(self._tasks):
            self.cancel(uri)
        self._results.clear()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            try:
                runner.close()
            except Exception:
                logger.exception("closing the smoke runner failed")

    async def _run(self, snapshot: Snapshot, settings: Settings, token: Any) -> tuple[Diagnostic, ...] | None:
        where = snapshot.path or snapshot.uri
        task = asyncio.current_task()
        assert task is not None
        handle = await self._progress.begin("numpyro-lint smoke run", _short(where), task.cancel, token)
        self._running[where] = _Running(snapshot, settings, handle, task)
        self._set_state(task, "compiling")  # starting the runner and tracing the model, as the client sees it
        message = "cancelled"
        findings = None
        try:
            runner = self._runner_for(settings.smoke)
            if hasattr(runner, "run_report"):
                report = await runner.run_report(where, snapshot.text, settings)
                found, facts = report.diagnostics, report.facts
            else:
                found, facts = await runner.run(where, snapshot.text, settings), {}
            diagnostics = self._keep(snapshot.uri, self._running[where], found, facts)
            findings = len(diagnostics)
            message = f"{findings} finding{'s' if findings != 1 else ''}"
            logger.info("smoke run of %s: %s", where, message)
            return diagnostics
        except asyncio.CancelledError:
            logger.info("smoke run of %s cancelled", where)
            raise
        except Exception as error:
            message = f"failed: {error}"
            logger.exception("smoke run of %s failed", where)
            failure = f"numpyro-lint: the smoke run of {_short(where)} failed: {error}"
            if failure not in self._failures_shown:  # not again on every save
                self._failures_shown.add(failure)
                self._on_failure(failure)
            return None
        finally:
            if self._running.get(where) is not None and self._running[where].snapshot is snapshot:
                del self._running[where]
            self._progress.end(handle, message)
            self._end_state(task, findings)

    def _keep(self, uri: str, running: _Running, found: list[Diagnostic],
              facts: dict[str, Any] | None = None) -> tuple[Diagnostic, ...]:
        snapshot, settings = running.snapshot, running.settings
        diagnostics = tuple(d for d in found if settings.is_enabled(d.code, snapshot.path))
        self._results[uri] = SmokeResult(snapshot, diagnostics, dict(facts or {}))
        self._on_result(uri)
        return diagnostics

    def _runner_for(self, smoke: SmokeSettings) -> Any:
        if self._runner is not None and self._runner_settings == smoke:
            return self._runner
        if self._runner is not None:
            self._runner.close()
        callbacks: dict[str, Any] = {"on_progress": self._on_loop(self._report)}
        if "on_diagnostics" in inspect.signature(self._runner_class).parameters:
            callbacks["on_diagnostics"] = self._on_loop(self._partial)
        self._runner = self._runner_class(smoke, **callbacks)
        self._runner_settings = smoke
        return self._runner

    def _on_loop(self, callback: Callable[[str, Any], None]) -> Callable[[str, Any], None]:
        """`callback` for the runner to call from any thread; it runs on the event loop."""
        def call(document: str, value: Any) -> None:
            loop = self._loop
            try:
                on_loop = asyncio.get_running_loop() is loop
            except RuntimeError:
                on_loop = False
            if on_loop:
                callback(document, value)
            elif loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(callback, document, value)
        return call

    def _report(self, document: str, message: str) -> None:
        running = self._running.get(document)
        if running is not None:
            self._progress.report(running.progress, message)
            phase = phase_of(message)
            if phase is not None:
                self._set_state(running.task, phase)

    def _set_state(self, task: asyncio.Task[Any], state: RunnerState) -> None:
        self._states.pop(task, None)
        self._states[task] = state
        if state != self._shown_state:
            self._shown_state = state
            self._on_state(state, None)

    def _end_state(self, task: asyncio.Task[Any], findings: int | None) -> None:
        """A run ended: the state of the other runs still in flight, else idle; with its findings."""
        self._states.pop(task, None)
        self._shown_state = next(reversed(self._states.values()), "idle")
        self._on_state(self._shown_state, findings)

    def _partial(self, document: str, diagnostics: list[Diagnostic]) -> None:
        """Findings of the stages done so far (the prior predictive check comes before NUTS)."""
        running = self._running.get(document)
        if running is not None:
            self._keep(running.snapshot.uri, running, diagnostics)


def merge_findings(static: tuple[Diagnostic, ...], smoke: tuple[Diagnostic, ...]) -> list[Diagnostic]:
    """Static and smoke diagnostics in position order; a smoke diagnostic with the code and span of a
    static one replaces it (the runner's NPL501 is the static one with the measured effect added)."""
    replaced = {(d.code, d.span) for d in smoke}
    kept = [d for d in static if (d.code, d.span) not in replaced]
    return sorted([*kept, *smoke], key=lambda d: (d.span.line, d.span.col, d.code))


def _short(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]
