"""The runner child process: `python -m numpyro_lint.runner.child`. The one place JAX is imported.

It takes the protocol's file descriptors for itself (the user's `print` goes to stderr, `input()` reads
/dev/null), imports JAX and NumPyro once, turns on the persistent compilation cache, caps its address
space, and then serves run requests until stdin closes. A watchdog thread exits when the parent is
gone or resident memory passes smoke.memory-mb; faulthandler writes Python stacks to stderr on a
crash or on SIGUSR1 (the parent's "where are you stuck?" before it kills a run that timed out).

Environment (set by `runner.process`): NUMPYRO_LINT_CACHE_DIR, NUMPYRO_LINT_MEMORY_MB, and JAX's own
XLA_PYTHON_CLIENT_PREALLOCATE / JAX_PLATFORMS.
"""

from __future__ import annotations

import faulthandler
import os
import resource
import signal
import sys
import threading
import time
import traceback

from numpyro_lint.runner.protocol import EXIT_MEMORY, decode, encode

_real_exit = os._exit


class ProtocolWriter:
    """Writes messages to the parent from any thread, one whole line at a time."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.lock = threading.Lock()

    def send(self, message: dict) -> None:
        data = encode(message)
        with self.lock:
            view = memoryview(data)
            while view:
                written = os.write(self.fd, view)
                view = view[written:]


def _take_protocol_fds() -> tuple[int, int]:
    """Private copies of stdin/stdout for the protocol; fd 1 becomes stderr, fd 0 /dev/null."""
    proto_in, proto_out = os.dup(0), os.dup(1)
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    return proto_in, proto_out


def resident_mb() -> float:
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _virtual_mb() -> float:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def _cap_address_space(memory_mb: int, devices: list[str]) -> None:
    """Refuse allocations beyond smoke.memory-mb on top of what the imports reserved.

    The imported runtime already maps several hundred MiB of address space it never touches (thread
    stacks, allocator arenas), so the cap is counted from there; the watchdog caps resident memory
    at smoke.memory-mb itself. Not with an accelerator: CUDA reserves address space far beyond what it
    uses and loads its libraries (cuBLAS, cuDNN) lazily, which such a cap would make fail.
    """
    if memory_mb <= 0 or not all("cpu" in device.lower() for device in devices):
        return
    limit = int((_virtual_mb() + memory_mb) * 2**20)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ValueError, OSError):
        pass


def _watchdog(writer: ProtocolWriter, parent: int, memory_mb: int) -> None:
    while True:
        time.sleep(0.1)
        if os.getppid() != parent:
            _real_exit(0)
        if memory_mb > 0:
            rss = resident_mb()
            if rss > memory_mb:
                writer.send({"event": "memory", "rss_mb": round(rss, 1)})
                faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
                sys.stderr.flush()
                _real_exit(EXIT_MEMORY)


def _report_exit_calls(writer: ProtocolWriter, path_of_current_run) -> None:
    """`os._exit` from the user's code: tell the parent where it was called before exiting."""

    def reporting_exit(status: int) -> None:
        path = path_of_current_run()
        line = None
        for frame in reversed(traceback.extract_stack()):
            if path and frame.filename == path:
                line = frame.lineno
                break
        try:
            writer.send({"event": "exit-called", "status": status, "line": line})
        finally:
            _real_exit(status)

    os._exit = reporting_exit


def main() -> None:
    proto_in, proto_out = _take_protocol_fds()
    writer = ProtocolWriter(proto_out)
    faulthandler.enable(file=sys.stderr, all_threads=True)
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)
    os.environ.pop("CI", None)  # NumPyro changes behaviour under CI; the user's runs are not CI runs
    memory_mb = int(os.environ.get("NUMPYRO_LINT_MEMORY_MB", "0") or 0)
    try:
        from numpyro_lint.runner import pipeline
    except ImportError as error:
        reason = (f"{error} (the smoke runner needs jax and numpyro in {sys.executable}; install "
                  f"numpyro-lint[smoke] there or set smoke.python)")
        writer.send({"event": "fatal", "message": reason})
        _real_exit(1)
    try:
        ready = pipeline.configure(os.environ.get("NUMPYRO_LINT_CACHE_DIR") or None)
    except Exception as error:  # JAX_PLATFORMS names a platform this machine or jaxlib lacks
        platform = os.environ.get("JAX_PLATFORMS", "")
        reason = (f"JAX could not start platform {platform!r} (smoke.platform): "
                  f"{type(error).__name__}: {error}".rstrip(": "))
        writer.send({"event": "fatal", "message": reason})
        _real_exit(1)
    ready.update(event="ready", pid=os.getpid())
    _cap_address_space(memory_mb, ready["devices"])
    threading.Thread(target=_watchdog, args=(writer, os.getppid(), memory_mb), daemon=True).start()
    runner = pipeline.Pipeline(writer.send)
    _report_exit_calls(writer, lambda: runner.current_path)
    writer.send(ready)
    with os.fdopen(proto_in, "rb") as requests:
        for line in requests:
            message = decode(line)
            if message is None:
                continue
            if message.get("op") == "exit":
                break
            if message.get("op") == "run":
                runner.run(message)
                writer.send({"event": "done", "id": message.get("id"), "rss_mb": round(resident_mb(), 1)})
    sys.stdout.flush()
    sys.stderr.flush()
    _real_exit(0)


if __name__ == "__main__":
    main()
