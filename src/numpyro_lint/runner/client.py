"""`SmokeRunner`: what the server and the CLI call to smoke-run a file. Never imports JAX.

    runner = SmokeRunner(settings.smoke, on_progress=lambda uri, message: ...)
    diagnostics = await runner.run(path, text, settings)   # cancellable: cancelling kills the work
    report = await runner.run_report(path, text, settings) # the same, with what each model's run measured
    runner.close()                                          # no child process left behind

One warm child process (see `runner.child`) serves the runs one at a time; it is recycled after
smoke.recycle-after runs or when its memory grows past three quarters of smoke.memory-mb, and replaced
after a crash, a timeout or a cancellation. Results are cached per model (see `targets` for the key).
A model that times out, crashes the child or exits it is reported as NPL905 on the innermost line of
the file in the child's last Python stack, and the file's other models still run in a fresh child.
"""

from __future__ import annotations

import asyncio
import atexit
import itertools
import threading
import weakref
from dataclasses import dataclass, field
from typing import Callable, Sequence

from numpyro_lint.config import Settings, SmokeSettings
from numpyro_lint.diagnostic import Diagnostic
from numpyro_lint.linter import is_suppressed, lint_text
from numpyro_lint.runner.cache import ResultCache
from numpyro_lint.runner.placement import place
from numpyro_lint.runner.process import ChildProcess, ProcessSettings, crash_signal, user_frames
from numpyro_lint.runner.protocol import EXIT_MEMORY, Finding, ModelFacts, run_request
from numpyro_lint.runner.targets import Target, run_settings, targets

#: Importing JAX and NumPyro in a fresh process takes a second or two; a slow disk, much more.
STARTUP_TIMEOUT_S = 120.0
#: How long a timed-out child gets to write its Python stacks before it is killed.
STACK_DUMP_WAIT_S = 1.0

Progress = Callable[[str, str], None]
DiagnosticsCallback = Callable[[str, list[Diagnostic]], None]

_RUNNERS: weakref.WeakSet[SmokeRunner] = weakref.WeakSet()


class RunnerUnavailable(RuntimeError):
    """The runner process cannot start (no such interpreter, no JAX/NumPyro in it); the message says why."""


@dataclass
class _Outcome:
    """Findings and facts of one run request, per model result key, and which models it finished."""

    findings: dict[str, list[Finding]] = field(default_factory=dict)
    finished: set[str] = field(default_factory=set)
    facts: dict[str, ModelFacts] = field(default_factory=dict)


@dataclass(frozen=True)
class SmokeReport:
    """A run's diagnostics, and what it measured per model (by qualname) where the model ran."""

    diagnostics: list[Diagnostic]
    facts: dict[str, ModelFacts]


class SmokeRunner:
    def __init__(self, settings: SmokeSettings, on_progress: Progress | None = None, *,
                 on_diagnostics: DiagnosticsCallback | None = None) -> None:
        """`on_progress(path, message)`: "compiling", "warmup 100/300", "sampling 50/300"...
        `on_diagnostics(path, diagnostics)`: the diagnostics known so far, after each stage of a run
        (prior predictive findings come seconds before NUTS's)."""
        self.settings = settings
        self.on_progress = on_progress
        self.on_diagnostics = on_diagnostics
        self._child: ChildProcess | None = None
        self._child_lock = threading.Lock()
        self._locks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._caches: dict[str, ResultCache] = {}
        self._ids = itertools.count(1)
        _RUNNERS.add(self)

    # Lifecycle.

    def warm_up(self, settings: SmokeSettings | None = None) -> None:
        """Start the child now (it imports JAX in the background), so that the first run is not slower."""
        self._process(ProcessSettings.from_smoke(settings or self.settings))

    async def ready(self, settings: SmokeSettings | None = None) -> dict:
        """Start the child if needed and wait until it has imported JAX; its ready message (versions,
        devices). Raises RunnerUnavailable."""
        async with self._lock():
            child = await self._ready_child(ProcessSettings.from_smoke(settings or self.settings))
        return dict(child.info)

    def close(self) -> None:
        """Stop the child process (and anything it started). The runner starts a new one if run again."""
        with self._child_lock:
            child, self._child = self._child, None
        if child is not None:
            child.close()

    @property
    def child_pid(self) -> int | None:
        child = self._child
        return child.pid if child is not None and child.alive() else None

    def _process(self, wanted: ProcessSettings) -> ChildProcess:
        with self._child_lock:
            child = self._child
            if child is not None and child.alive() and child.settings == wanted:
                return child
            self._child = None
        if child is not None:
            child.kill()
        try:
            new = ChildProcess(wanted)
        except OSError as error:
            raise RunnerUnavailable(f"cannot start the smoke runner with {wanted.python}: {error}") from None
        with self._child_lock:
            self._child = new
        return new

    def _discard(self, child: ChildProcess, restart: bool) -> None:
        with self._child_lock:
            if self._child is child:
                self._child = None
        child.kill()
        if restart:
            try:
                self._process(child.settings)
            except RunnerUnavailable:
                pass

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    # Runs.

    async def run(self, path: str, text: str, settings: Settings, *,
                  models: Sequence[str] | None = None) -> list[Diagnostic]:
        """Smoke diagnostics (NPL9xx, and NPL501 with the measured effect of its fix) for one file.

        Raises RunnerUnavailable when the runner cannot start; ValueError when `models` names no model.
        """
        return (await self.run_report(path, text, settings, models=models)).diagnostics

    async def run_report(self, path: str, text: str, settings: Settings, *,
                         models: Sequence[str] | None = None) -> SmokeReport:
        """`run`, with what each model's run measured (shapes, quantiles, the smoke posterior)."""
        # Off the event loop: a big file takes a while to lint, and the server answers requests meanwhile.
        lint = await asyncio.get_running_loop().run_in_executor(None, lint_text, text, path, settings)
        module = lint.module
        if module.syntax_error is not None:
            return SmokeReport([], {})
        process = ProcessSettings.from_smoke(settings.smoke)
        chosen = targets(module, text, settings, lint.diagnostics, repr(process), list(models or []) or None)
        if models and not chosen:
            raise ValueError(f"no model named {', '.join(models)} in {path}")
        cache = self._cache(settings.smoke, process)
        cached = {t.result_key: found for t in chosen if (found := cache.get(t.result_key)) is not None}
        known = {key: list(found.findings) for key, found in cached.items()}
        facts = {key: found.facts for key, found in cached.items() if found.facts is not None}
        missing = [t for t in chosen if t.result_key not in known]

        def diagnostics() -> list[Diagnostic]:
            found = [f for t in chosen for f in known.get(t.result_key, ())]
            return _diagnostics(found, module, lint.diagnostics, settings, path)

        if missing:
            def publish() -> None:
                if self.on_diagnostics is not None:
                    self.on_diagnostics(path, diagnostics())

            async with self._lock():
                outcome = await self._run_targets(path, text, settings, missing, process, known, publish)
            facts.update(outcome.facts)
            for target in missing:
                if target.result_key in outcome.finished:
                    cache.put(target.result_key, outcome.findings.get(target.result_key, []),
                              outcome.facts.get(target.result_key))
        by_model = {t.request.qualname: facts[t.result_key] for t in chosen if t.result_key in facts}
        return SmokeReport(diagnostics(), by_model)

    def _cache(self, smoke: SmokeSettings, process: ProcessSettings) -> ResultCache:
        folder = process.cache_dir if smoke.disk_cache else None
        key = folder or ""
        if key not in self._caches:
            self._caches[key] = ResultCache(folder)
        return self._caches[key]

    async def _run_targets(self, path: str, text: str, settings: Settings, targets_: list[Target],
                           process: ProcessSettings, known: dict[str, list[Finding]], publish) -> _Outcome:
        outcome = _Outcome()
        pending = list(targets_)
        while pending:
            child = await self._ready_child(process)
            session = _RequestSession(self, child, path, text, settings, pending, known, outcome, publish)
            pending = await session.run()
            child.runs += 1
            if child.alive() and self._worn_out(child, settings.smoke):
                self._discard(child, restart=True)
        return outcome

    def _worn_out(self, child: ChildProcess, smoke: SmokeSettings) -> bool:
        recycle = smoke.recycle_after and child.runs >= smoke.recycle_after
        return bool(recycle or child.rss_mb > 0.75 * smoke.memory_mb > 0)

    async def _ready_child(self, process: ProcessSettings) -> ChildProcess:
        child = self._process(process)
        if child.info:
            return child
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        child.set_sink(lambda message: loop.call_soon_threadsafe(queue.put_nowait, message))
        try:
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), STARTUP_TIMEOUT_S)
                except asyncio.TimeoutError:
                    self._discard(child, restart=False)
                    raise RunnerUnavailable(f"the smoke runner ({process.python}) did not start within "
                                            f"{STARTUP_TIMEOUT_S:.0f} s") from None
                event = message.get("event")
                if event == "ready":
                    child.info = message
                    return child
                if event in ("fatal", "eof"):
                    self._discard(child, restart=False)
                    reason = message.get("message") or _last_lines(child.stderr_tail())
                    raise RunnerUnavailable(f"the smoke runner ({process.python}) could not start: {reason}")
        except asyncio.CancelledError:
            self._discard(child, restart=False)
            raise
        finally:
            child.set_sink(None)


class _RequestSession:
    """One request to one child: relay events, enforce each model's time limit, report crashes."""

    def __init__(self, runner: SmokeRunner, child: ChildProcess, path: str, text: str, settings: Settings,
                 pending: list[Target], known: dict[str, list[Finding]], outcome: _Outcome, publish) -> None:
        self.runner, self.child, self.path = runner, child, path
        self.text, self.settings, self.pending = text, settings, pending
        self.known, self.outcome, self.publish = known, outcome, publish
        self.by_name = {t.request.qualname: t for t in pending}
        self.current: Target | None = None
        self.stage = "starting"
        self.exit_call: dict | None = None
        self.memory: dict | None = None

    async def run(self) -> list[Target]:
        """Relay until the request is done; returns the targets still to run (after a crash)."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        self.child.set_sink(lambda message: loop.call_soon_threadsafe(queue.put_nowait, message))
        request_id = next(self.runner._ids)
        self.child.send(run_request(request_id, self.path, self.text, [t.request for t in self.pending],
                                    run_settings(self.settings)))
        timeout = self.settings.smoke.timeout_s
        deadline = loop.time() + timeout
        try:
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), max(deadline - loop.time(), 0.0))
                except asyncio.TimeoutError:
                    return await self._timed_out()
                event = message.get("event")
                if message.get("id", request_id) != request_id:
                    continue  # from an earlier request
                if event == "model":
                    self._start(self.by_name.get(message.get("model")))
                    deadline = loop.time() + timeout
                elif event == "progress":
                    self._progress(message)
                elif event == "findings":
                    self._findings(message)
                    deadline = loop.time() + timeout  # the limit is per stage: each stage is one run
                elif event == "facts":
                    self._facts(message)
                elif event == "exit-called":
                    self.exit_call = message
                elif event == "memory":
                    self.memory = message
                elif event == "done":
                    self.child.rss_mb = float(message.get("rss_mb") or 0.0)
                    self._finish(self.current)
                    self.outcome.finished.update(t.result_key for t in self.pending)
                    return []
                elif event == "eof":
                    return self._crashed(message.get("returncode"))
        except asyncio.CancelledError:
            self.runner._discard(self.child, restart=True)  # kill the work, keep a warm runner ready
            raise
        finally:
            self.child.set_sink(None)

    def _start(self, target: Target | None) -> None:
        self._finish(self.current)
        self.current = target
        self.stage = "starting"

    def _finish(self, target: Target | None) -> None:
        if target is not None:
            self.outcome.finished.add(target.result_key)

    def _progress(self, message: dict) -> None:
        self.stage = message.get("message", "")
        if self.runner.on_progress is not None:
            prefix = f"{message.get('model')}: " if len(self.by_name) > 1 else ""
            self.runner.on_progress(self.path, prefix + self.stage)

    def _findings(self, message: dict) -> None:
        findings = [Finding.from_json(item) for item in message.get("findings", ())]
        owners = [self.current] if self.current is not None else []
        if message.get("model") is None and message.get("stage") == "load":
            owners = list(self.pending)  # the file itself failed: it concerns every model
        for target in owners:
            self._add(target, findings)
        self.publish()

    def _facts(self, message: dict) -> None:
        target = self.by_name.get(message.get("model"))
        try:
            facts = ModelFacts.from_json(message.get("facts") or {})
        except (TypeError, ValueError):
            return  # facts are for display: a malformed message costs the hover its numbers
        if target is not None:
            self.outcome.facts[target.result_key] = facts

    def _add(self, target: Target, findings: list[Finding]) -> None:
        self.outcome.findings.setdefault(target.result_key, []).extend(findings)
        self.known.setdefault(target.result_key, []).extend(findings)

    def _rest(self) -> list[Target]:
        """The targets after the current one (the current one is done, one way or another)."""
        target = self.current or self.pending[0]
        self._finish(target)
        return self.pending[self.pending.index(target) + 1:]

    async def _timed_out(self) -> list[Target]:
        loop = asyncio.get_running_loop()
        before = self.child.stderr_tail().count("most recent call first")
        self.child.request_stack_dump()
        await loop.run_in_executor(None, self.child.wait_for_stderr, "most recent call first", before,
                                   STACK_DUMP_WAIT_S)
        self.runner._discard(self.child, restart=True)
        target = self.current or self.pending[0]
        seconds = self.settings.smoke.timeout_s
        message = (f"the smoke run of `{target.request.qualname}` did not finish within {seconds:g} s "
                   f"(smoke.timeout-s) and was stopped at: {self.stage}; does the model loop forever, or is it "
                   f"too large for a smoke run?")
        self._crash_finding(target, message, None)
        return self._rest()

    def _crashed(self, returncode: int | None) -> list[Target]:
        target = self.current or self.pending[0]
        name = target.request.qualname
        signal_name = crash_signal(returncode)
        line = None
        if self.exit_call is not None:
            line = self.exit_call.get("line")
            message = (f"the model ended the smoke runner's process with os._exit({self.exit_call.get('status')})"
                       f" while running `{name}`; a model must not exit the interpreter")
        elif self.memory is not None or returncode == EXIT_MEMORY:
            rss = (self.memory or {}).get("rss_mb")
            message = (f"the smoke run of `{name}` used more than smoke.memory-mb = "
                       f"{self.settings.smoke.memory_mb} MB" + (f" ({rss:.0f} MB resident)" if rss else "")
                       + f" and was stopped at: {self.stage}")
        elif signal_name is not None:
            message = (f"the smoke runner's process crashed ({signal_name}) while running `{name}` "
                       f"(at: {self.stage}): a crash in native code the model called")
            if signal_name == "SIGKILL":
                message += ", or the system ran out of memory"
        else:
            message = (f"the smoke runner's process exited with status {returncode} while running `{name}` "
                       f"(at: {self.stage}): the model exited the interpreter")
        self.runner._discard(self.child, restart=True)
        self._crash_finding(target, message, line)
        return self._rest()

    def _crash_finding(self, target: Target, message: str, line: int | None) -> None:
        if line is None:
            frames = user_frames(self.child.stderr_tail(), self.path)
            line = frames[0] if frames else None
        lines = self.text.splitlines()
        line_text = lines[line - 1].strip() if line and line <= len(lines) else None
        self._add(target, [Finding("NPL905", message, model=target.request.qualname, line=line,
                                   line_text=line_text, stage="nuts")])
        self.publish()


def _diagnostics(findings: list[Finding], module, static: tuple[Diagnostic, ...], settings: Settings,
                 path: str) -> list[Diagnostic]:
    placed = [place(finding, module, static) for finding in findings]
    unique: dict[tuple, Diagnostic] = {}
    for diagnostic in placed:
        if settings.is_enabled(diagnostic.code, path) and not is_suppressed(diagnostic, module):
            unique.setdefault((diagnostic.code, diagnostic.span, diagnostic.message), diagnostic)
    return sorted(unique.values(), key=lambda d: (d.span.line, d.span.col, d.code))


def _last_lines(text: str, count: int = 3) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-count:]) or "no message"


@atexit.register
def _close_all() -> None:
    for runner in list(_RUNNERS):
        runner.close()
