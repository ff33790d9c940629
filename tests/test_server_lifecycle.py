"""The server process: it exits on `exit`, on end of input, and on its own when the editor process dies,
leaving no child process behind; it logs to a file when asked; it never imports JAX."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from server_helpers import MODEL, SERVER_COMMAND, TIMEOUT_S

FAKE_SERVER = [sys.executable, str(Path(__file__).parent / "fixtures" / "fake_smoke_server.py")]
CAPABILITIES = {"window": {"workDoneProgress": True}}


class RawClient:
    """Just enough JSON-RPC over pipes to drive a server whose editor is about to disappear."""

    def __init__(self, command: list[str], env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self._next_id = 0

    def send(self, method: str, params: Any, request: bool = False) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
        if request:
            self._next_id += 1
            message["id"] = self._next_id
        self._write(message)

    def _write(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode()
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def read_until(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """Read messages (answering the server's requests with null) until one satisfies `predicate`;
        the server's stdout closing first is a failure."""
        while True:
            length = 0
            while (line := self.process.stdout.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            assert line, "the server closed its output"
            message = json.loads(self.process.stdout.read(length))
            if "method" in message and "id" in message:
                self._write({"jsonrpc": "2.0", "id": message["id"], "result": None})
            if predicate(message):
                return message

    def initialize(self, root: Path, process_id: int | None, options: Any = None) -> dict[str, Any]:
        """Sends initialize and initialized; returns the server's answer to initialize."""
        self.send("initialize", {"processId": process_id, "rootUri": root.as_uri(), "capabilities": CAPABILITIES,
                                 "initializationOptions": options}, request=True)
        answer = self.read_until(lambda message: message.get("id") == 1)
        self.send("initialized", {})
        return answer

    def shutdown_and_exit(self) -> int:
        """The orderly end: shutdown, its answer, exit; returns the exit status."""
        self.send("shutdown", None, request=True)
        self.read_until(lambda message: message.get("id") == self._next_id)
        self.send("exit", None)
        return self.wait()

    def wait(self) -> int:
        return self.process.wait(timeout=TIMEOUT_S)


def alive(pid: int) -> bool:
    from numpyro_lint.server.lifecycle import process_alive

    return process_alive(pid)


def test_the_server_exits_soon_after_the_editor_process_dies_and_leaves_no_child(tmp_path: Path):
    runner_log = tmp_path / "runner.log"
    editor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    server = RawClient(FAKE_SERVER, env={**os.environ, "FAKE_RUNNER_LOG": str(runner_log)})
    try:
        server.initialize(tmp_path, editor.pid, {"smoke": {"enabled": True}})
        (tmp_path / "model.py").write_text(MODEL + "# slow\n", encoding="utf-8")
        uri = (tmp_path / "model.py").as_uri()
        server.send("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "python", "version": 1, "text": MODEL + "# slow\n"}})
        server.send("textDocument/didSave", {"textDocument": {"uri": uri}})
        server.read_until(lambda m: m.get("method") == "$/progress" and m["params"]["value"]["kind"] == "report")
        child = int(runner_log.read_text(encoding="utf-8").split()[1])
        assert alive(child)

        editor.kill()
        editor.wait()
        died = time.monotonic()
        server.wait()  # stdin is still open: only the editor's death can end it
        took = time.monotonic() - died
    finally:
        editor.kill()
        server.process.kill()

    assert took < 5
    assert not alive(child)
    assert runner_log.read_text(encoding="utf-8").split()[-1] == "close"


def test_the_server_exits_at_end_of_input(tmp_path: Path):
    server = RawClient(SERVER_COMMAND)
    try:
        server.initialize(tmp_path, os.getpid())
        server.process.stdin.close()
        server.wait()
    finally:
        server.process.kill()


def test_the_server_accepts_the_stdio_flag_that_language_clients_add(tmp_path: Path):
    # The VS Code extension passes it, as vscode-languageclient does for TransportKind.stdio.
    server = RawClient([*SERVER_COMMAND, "--stdio"])
    try:
        answer = server.initialize(tmp_path, os.getpid())
        status = server.shutdown_and_exit()
    finally:
        server.process.kill()

    assert answer["result"]["serverInfo"]["name"] == "numpyro-lint"
    assert "textDocumentSync" in answer["result"]["capabilities"]
    assert status == 0


def test_shutdown_then_exit_ends_with_status_zero_and_logs_to_the_log_file(tmp_path: Path):
    log_file = tmp_path / "server.log"
    server = RawClient([*SERVER_COMMAND, "--log-file", str(log_file)])
    try:
        server.initialize(tmp_path, os.getpid())
        status = server.shutdown_and_exit()
    finally:
        server.process.kill()

    assert status == 0
    assert re.search(r"numpyro-lint 0\.1\.0 \(pid \d+\): pushed diagnostics, utf-16 positions",
                     log_file.read_text(encoding="utf-8"))


def test_exit_without_shutdown_ends_with_status_one(tmp_path: Path):
    server = RawClient(SERVER_COMMAND)
    try:
        server.initialize(tmp_path, os.getpid())
        server.send("exit", None)
        assert server.wait() == 1
    finally:
        server.process.kill()


def test_the_server_answers_initialize_before_importing_the_linter_and_never_imports_jax():
    probe = """
import sys
from numpyro_lint.server.app import create_server
create_server()
early = {'libcst', 'numpyro_lint.linter', 'numpyro_lint.rules', 'jax', 'numpyro'} & set(sys.modules)
from numpyro_lint.server.analysis import warm_up
from numpyro_lint.server import smoke
warm_up()
smoke.load_runner_class()
print(sorted(early), sorted({'jax', 'numpyro'} & set(sys.modules)))
"""
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=TIMEOUT_S)
    assert result.stdout.split("\n")[0] == "[] []", result.stderr
