"""`numpyro-lint server`: the language server over stdio (pygls). See `app.py` for how it is laid out.

Start-up matters (editors wait for the `initialize` answer): this package imports the linter, LibCST and
the rule docs only after answering, and never imports JAX or NumPyro.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import asyncio


def run_server(log_file: Path | None = None) -> int:
    """Serve on stdin/stdout until the editor says `exit`, closes the pipe, or its process ends."""
    from numpyro_lint.server.app import create_server
    from numpyro_lint.server.lifecycle import LogMessageHandler, configure_logging, serve_stdio

    server = create_server()
    log_handler = LogMessageHandler(server.window_log_message)
    configure_logging(log_file, log_handler)

    def on_loop(loop: asyncio.AbstractEventLoop, stop: Callable[[], None]) -> None:
        server.loop = log_handler.loop = loop
        server.stop = stop

    try:
        return serve_stdio(server.protocol, server.report_server_error, on_loop)
    finally:
        server.close()
