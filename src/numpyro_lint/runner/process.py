"""The runner child process seen from the server/CLI side: spawn, JSON lines over pipes, kill. No JAX.

Two reader threads drain the child's stdout (protocol) and stderr (the user's prints, faulthandler
stacks; the last part is kept for crash reports). Messages go to a sink the current request installs
(`asyncio` code passes one that hands them to its loop); until one is installed they wait in a buffer.
The child runs in its own session (process group), so a kill also takes whatever the user's code
started.
"""

from __future__ import annotations

import collections
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from numpyro_lint.config import SmokeSettings
from numpyro_lint.runner.protocol import decode, encode

STDERR_KEPT = 64 * 1024
_FRAME_RE = re.compile(r'^\s*File "(?P<file>.+)", line (?P<line>\d+)')
_STACK_HEADER_RE = re.compile(r"^.*\(most recent call (first|last)\):[ \t]*$", re.MULTILINE)

Sink = Callable[[dict], None]


@dataclass(frozen=True)
class ProcessSettings:
    """The settings a child is started with; a change needs a new child."""

    python: str
    platform: str
    memory_mb: int
    cache_dir: str

    @classmethod
    def from_smoke(cls, smoke: SmokeSettings) -> ProcessSettings:
        return cls(smoke.python or sys.executable, smoke.platform, smoke.memory_mb, cache_root(smoke))


def cache_root(smoke: SmokeSettings) -> str:
    """smoke.cache-dir, else the per-user cache folder (XDG_CACHE_HOME or ~/.cache)/numpyro-lint."""
    if smoke.cache_dir:
        return str(Path(smoke.cache_dir).expanduser())
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    elif os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return str(base / "numpyro-lint")


def _import_path(settings: ProcessSettings) -> str | None:
    """A folder that makes this numpyro_lint importable by another interpreter, and nothing else: not
    our site-packages, whose JAX would shadow the project's own."""
    if os.path.realpath(settings.python) == os.path.realpath(sys.executable):
        return None
    package = Path(__file__).resolve().parents[1]
    folder = Path(settings.cache_dir) / "runner-path"
    link = folder / "numpyro_lint"
    try:
        if not (link.is_symlink() and link.resolve() == package):
            folder.mkdir(parents=True, exist_ok=True)
            temporary = folder / f".numpyro_lint-{os.getpid()}-{threading.get_ident()}"
            temporary.unlink(missing_ok=True)
            temporary.symlink_to(package, target_is_directory=True)
            os.replace(temporary, link)
    except OSError:
        return str(package.parent)  # no symlinks here: the folder that holds the package
    return str(folder)


def child_environment(settings: ProcessSettings) -> dict[str, str]:
    env = dict(os.environ)
    import_path = _import_path(settings)
    if import_path is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (import_path, env.get("PYTHONPATH")) if p)
    # A background linter must not take most of the GPU's memory (JAX preallocates 75% by default).
    env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
    if settings.platform and settings.platform != "auto":
        env["JAX_PLATFORMS"] = settings.platform
    else:
        env.pop("JAX_PLATFORMS", None)
    env["MALLOC_ARENA_MAX"] = "2"  # fewer reserved arenas: the address-space cap then counts real use
    env["NUMPYRO_LINT_CACHE_DIR"] = settings.cache_dir
    env["NUMPYRO_LINT_MEMORY_MB"] = str(settings.memory_mb)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONFAULTHANDLER"] = "1"
    for variable in ("PYTEST_XDIST_WORKER", "PYTHONSTARTUP"):
        env.pop(variable, None)
    return env


class ChildProcess:
    def __init__(self, settings: ProcessSettings) -> None:
        self.settings = settings
        self.runs = 0
        self.rss_mb = 0.0
        self.info: dict = {}
        self._lock = threading.Lock()
        self._buffer: collections.deque[dict] = collections.deque()
        self._sink: Sink | None = None
        self._stderr = bytearray()
        self._stderr_changed = threading.Condition()
        Path(settings.cache_dir).mkdir(parents=True, exist_ok=True)
        self.popen = subprocess.Popen(
            [settings.python, "-u", "-m", "numpyro_lint.runner.child"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=child_environment(settings), cwd=settings.cache_dir, start_new_session=True,
        )
        self._threads = [
            threading.Thread(target=self._read_protocol, name="smoke-runner-stdout", daemon=True),
            threading.Thread(target=self._read_stderr, name="smoke-runner-stderr", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def set_sink(self, sink: Sink | None) -> None:
        """Deliver messages to `sink` from now on (first those that arrived without one)."""
        with self._lock:
            self._sink = sink
            pending = list(self._buffer) if sink is not None else []
            if sink is not None:
                self._buffer.clear()
        for message in pending:
            sink(message)

    def _deliver(self, message: dict) -> None:
        with self._lock:
            sink = self._sink
            if sink is None:
                self._buffer.append(message)
                return
        try:
            sink(message)
        except RuntimeError:
            pass  # the request's event loop has closed: nobody waits for this message

    def _read_protocol(self) -> None:
        stream = self.popen.stdout
        assert stream is not None
        for line in stream:
            message = decode(line)
            if message is not None:
                self._deliver(message)
        self.popen.wait()
        self._threads[1].join(timeout=2)  # the crash report on stderr comes with the end
        self._deliver({"event": "eof", "returncode": self.popen.returncode})

    def _read_stderr(self) -> None:
        stream = self.popen.stderr
        assert stream is not None
        while chunk := stream.read1(65536):
            with self._stderr_changed:
                self._stderr += chunk
                del self._stderr[:-STDERR_KEPT]
                self._stderr_changed.notify_all()

    def stderr_tail(self) -> str:
        with self._stderr_changed:
            return self._stderr.decode("utf-8", "replace")

    def wait_for_stderr(self, marker: str, seen: int, timeout: float) -> bool:
        """Wait until stderr holds more than `seen` copies of `marker` and has been quiet for a moment
        (a stack dump is written in pieces); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._stderr_changed:
            while self._stderr.decode("utf-8", "replace").count(marker) <= seen:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._stderr_changed.wait(remaining):
                    return False
            while self._stderr_changed.wait(min(0.1, max(deadline - time.monotonic(), 0.0))):
                pass
        return True

    def send(self, message: dict) -> None:
        stream = self.popen.stdin
        assert stream is not None
        try:
            stream.write(encode(message))
            stream.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass  # the child is gone: the reader reports it

    def request_stack_dump(self) -> None:
        """Ask the child (faulthandler on SIGUSR1) to write every thread's Python stack to stderr."""
        if hasattr(signal, "SIGUSR1") and self.alive():
            try:
                os.kill(self.pid, signal.SIGUSR1)
            except OSError:
                pass

    def kill(self) -> None:
        """Kill the child and everything it started; wait for it. Safe to call more than once."""
        if self.popen.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except OSError:
                try:
                    self.popen.kill()
                except OSError:
                    pass
        else:
            try:  # the child is gone; its process group may not be
                os.killpg(self.pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.popen.stdin,):
            try:
                if stream:
                    stream.close()
            except OSError:
                pass
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=2)

    def close(self) -> None:
        """Ask the child to exit, then make sure it did."""
        if self.alive():
            self.send({"op": "exit"})
            try:
                self.popen.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        self.kill()


def user_frames(stderr: str, path: str) -> list[int]:
    """Lines of `path` in the last stack on stderr that has any (faulthandler dump or traceback),
    innermost first."""
    parts = _STACK_HEADER_RE.split(stderr)
    # parts = [before, order, block, order, block, ...]
    for index in range(len(parts) - 2, 0, -2):
        order, block = parts[index], parts[index + 1]
        lines = [int(m.group("line")) for text in block.splitlines()
                 if (m := _FRAME_RE.match(text)) and m.group("file") == path]
        if lines:
            return lines if order == "first" else lines[::-1]
    return []


def crash_signal(returncode: int | None) -> str | None:
    if returncode is None or returncode >= 0:
        return None
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"
