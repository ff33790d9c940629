"""Process plumbing: serving over stdio, the worker threads, logging, and watching the editor process.

Why not pygls' own `start_io`: it reads stdin on a ThreadPoolExecutor worker, and interpreter exit joins
those workers, so a server whose editor died without closing the pipe would never exit. Here stdin is
read on a daemon thread, and the serving task is cancelled when the editor process (`processId`) is gone.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import sys
import threading
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any, Callable

from lsprotocol import types

logger = logging.getLogger("numpyro_lint.server")

PARENT_POLL_S = 1.0


class DaemonExecutor(Executor):
    """One daemon worker thread, so that work still running (or a read blocked on stdin) never keeps
    the process alive after the server is done."""

    def __init__(self, name: str) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if self._closed:
            raise RuntimeError("executor is shut down")
        future: Future[Any] = Future()
        self._queue.put((future, fn, args, kwargs))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._closed = True
        if cancel_futures:
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[0].cancel()
        self._queue.put(None)
        if wait and self._thread is not threading.current_thread():
            self._thread.join()

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            future, fn, args, kwargs = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args, **kwargs)
            except BaseException as error:  # handed to whoever awaits the future
                future.set_exception(error)
            else:
                future.set_result(result)


def serve_stdio(protocol: Any, error_handler: Callable[..., Any],
                on_loop: Callable[[asyncio.AbstractEventLoop, Callable[[], None]], None]) -> int:
    """Serve LSP on stdin/stdout until `exit`, end of input, or the stop function handed to `on_loop`
    is called. Returns the exit code."""
    from pygls.io_ import StdinAsyncReader, StdoutWriter, run_async

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print() must never corrupt the protocol stream
    reader = StdinAsyncReader(stdin, DaemonExecutor("numpyro-lint-stdin"))
    protocol.set_writer(StdoutWriter(stdout))
    stopped = threading.Event()

    async def main() -> int:
        serving = asyncio.create_task(run_async(
            stop_event=stopped, reader=reader, protocol=protocol,
            logger=logging.getLogger("pygls.io_"), error_handler=error_handler,
        ))
        on_loop(asyncio.get_running_loop(), serving.cancel)
        try:
            await serving
        except asyncio.CancelledError:
            return 1
        return 0

    try:
        return asyncio.run(main())
    except SystemExit as exit_:  # the `exit` notification
        return exit_.code if isinstance(exit_.code, int) else 0
    except (BrokenPipeError, KeyboardInterrupt):
        return 1


# The editor process ---------------------------------------------------------------------------------

def process_alive(pid: int) -> bool:
    """Whether process `pid` is running (a zombie counts as gone)."""
    if sys.platform == "win32":
        return _windows_process_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _windows_process_alive(pid: int) -> bool:
    import ctypes

    synchronize, wait_timeout = 0x00100000, 0x00000102
    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(synchronize, False, pid)
    if not handle:
        return False
    try:
        return kernel32.WaitForSingleObject(handle, 0) == wait_timeout
    finally:
        kernel32.CloseHandle(handle)


async def watch_process(pid: int, on_gone: Callable[[], None], interval_s: float = PARENT_POLL_S) -> None:
    """Call `on_gone` once process `pid` has ended (polled: LSP gives no other signal)."""
    while process_alive(pid):
        await asyncio.sleep(interval_s)
    logger.warning("the editor process %d is gone; exiting", pid)
    on_gone()


# Logging --------------------------------------------------------------------------------------------

_LEVELS = (
    (logging.ERROR, types.MessageType.Error),
    (logging.WARNING, types.MessageType.Warning),
    (logging.INFO, types.MessageType.Info),
)


class LogMessageHandler(logging.Handler):
    """Log records as `window/logMessage`, always sent from the event loop's thread (the protocol's
    writer is not thread-safe)."""

    def __init__(self, send: Callable[[types.LogMessageParams], None]) -> None:
        super().__init__(logging.INFO)
        self._send = send
        self.loop: asyncio.AbstractEventLoop | None = None

    def emit(self, record: logging.LogRecord) -> None:
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        kind = next((kind for level, kind in _LEVELS if record.levelno >= level), types.MessageType.Log)
        try:
            params = types.LogMessageParams(type=kind, message=self.format(record))
            loop.call_soon_threadsafe(self._send, params)
        except RuntimeError:  # the loop closed meanwhile
            pass


def configure_logging(log_file: Path | None, lsp_handler: logging.Handler) -> None:
    """Our log to the editor (info and up) and to stderr (warnings); with `log_file`, everything of
    ours and pygls' warnings to the file as well."""
    ours = logging.getLogger("numpyro_lint")
    ours.setLevel(logging.DEBUG)
    ours.propagate = False
    lsp_handler.setFormatter(logging.Formatter("%(message)s"))
    ours.addHandler(lsp_handler)
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(logging.WARNING)
    stderr.setFormatter(logging.Formatter("numpyro-lint: %(levelname)s: %(message)s"))
    ours.addHandler(stderr)
    logging.getLogger("pygls").setLevel(logging.WARNING)
    if log_file is not None:
        try:
            file_handler = logging.FileHandler(log_file, encoding="utf-8")
        except OSError as error:  # a bad path costs the log file, not the server
            ours.warning("cannot write the log file %s: %s", log_file, error)
            return
        file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        ours.addHandler(file_handler)
        logging.getLogger("pygls").addHandler(file_handler)
