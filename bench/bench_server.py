"""Benchmark the language server as an editor sees it, over stdio.

    python bench/bench_server.py [--edits 50] [--starts 7] [--corpus bench/corpus]

- didChange -> publishDiagnostics for a 200-line and a 1,000-line model file: p50 and p95 over `--edits`
  edits, with `debounce-ms = 0` (the analysis and the protocol; the goal's measure) and with the default
  debounce (what a user waits after they stop typing);
- hover on a sample site and code lenses of a 1,000-line file, once its diagnostics are in: p50 against a
  request the server does not handle (the protocol's round trip), which is what insight adds;
- the server's RSS after opening 20 files and receiving their diagnostics;
- spawn -> `initialize` answer (median of `--starts` starts).

Files come from bench/corpus/ (whole top-level statements, so that they parse); without a corpus they are
generated. Prints one table with the goals.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SERVER = [sys.executable, "-m", "numpyro_lint", "server"]
#: The floor for start-up: a pygls server that does nothing (importing pygls and lsprotocol is most of it).
BARE_PYGLS = [sys.executable, "-c",
              "from pygls.lsp.server import LanguageServer; LanguageServer('bare', '0').start_io()"]
GOALS = {"p50 200": 0.040, "p50 1000": 0.150, "rss": 150.0, "initialize": 0.6, "insight": 0.010}
#: As users run it: with bytecode caches (this machine sets PYTHONDONTWRITEBYTECODE, which would time
#: compiling the server's modules on every start).
ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
CAPABILITIES = {"general": {"positionEncodings": ["utf-16"]}, "window": {"workDoneProgress": True}}


class ResponseError(Exception):
    """The server answered a request with an error."""


class Server:
    """A language server over stdio, with every notification timestamped on arrival."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.published: list[tuple[float, dict[str, Any]]] = []
        self.arrived = asyncio.Event()
        self._ids = 0
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, command: list[str] = SERVER, stderr: int = asyncio.subprocess.DEVNULL) -> Server:
        process = await asyncio.create_subprocess_exec(
            *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=stderr, env=ENV)
        return cls(process)

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def notify(self, method: str, params: Any) -> None:
        self._send({"method": method, "params": params})

    def send_request(self, method: str, params: Any) -> asyncio.Future[Any]:
        """Send a request now; the future holds its result (or ResponseError) once the answer arrives."""
        self._ids += 1
        future = self.pending[self._ids] = asyncio.get_running_loop().create_future()
        self._send({"id": self._ids, "method": method, "params": params})
        return future

    async def request(self, method: str, params: Any) -> Any:
        return await asyncio.wait_for(self.send_request(method, params), 60)

    async def _read(self) -> None:
        stdout = self.process.stdout
        while True:
            length = 0
            while (line := await stdout.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if not line:
                return
            message = json.loads(await stdout.readexactly(length))
            now = time.perf_counter()
            if "method" in message and "id" in message:  # a request from the server: accept it
                self._send({"id": message["id"], "result": None})
            elif "id" in message and message["id"] in self.pending:
                future = self.pending.pop(message["id"])
                if future.done():  # the caller gave up waiting
                    continue
                if "error" in message:
                    future.set_exception(ResponseError(message["error"]))
                else:
                    future.set_result(message.get("result"))
            elif "method" in message:
                self.on_notification(now, message["method"], message.get("params"))

    def on_notification(self, now: float, method: str, params: Any) -> None:
        if method == "textDocument/publishDiagnostics":
            self.published.append((now, params))
            self.wake()

    def wake(self) -> None:
        arrived, self.arrived = self.arrived, asyncio.Event()
        arrived.set()

    async def published_for(self, uri: str, version: int) -> float:
        """When diagnostics for this version of `uri` arrived."""
        async def wait() -> float:
            while True:
                for when, params in self.published:
                    if params["uri"] == uri and params.get("version") == version:
                        return when
                await self.arrived.wait()
        return await asyncio.wait_for(wait(), 60)

    async def initialize(self, root: Path, options: dict[str, Any],
                         capabilities: dict[str, Any] = CAPABILITIES) -> None:
        await self.request("initialize", {"processId": None, "rootUri": root.as_uri(), "capabilities": capabilities,
                                          "initializationOptions": options})
        self.notify("initialized", {})

    def open(self, path: Path, text: str) -> str:
        uri = path.as_uri()
        self.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                              "text": text}})
        return uri

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        return proc_status_mb(self.process.pid, "VmRSS")

    async def stop(self) -> None:
        await self.request("shutdown", None)
        self.notify("exit", None)
        await asyncio.wait_for(self.process.wait(), 30)
        self._reader.cancel()


def proc_status_mb(pid: int, field: str) -> float:
    """A memory figure of process `pid` from /proc/PID/status (VmRSS, VmHWM: peak RSS), in MB; nan when
    the process is gone or the figure unknown."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return float("nan")
    for line in status.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# Files ----------------------------------------------------------------------------------------------

def corpus_files(corpus: Path) -> list[str]:
    return [path.read_text(encoding="utf-8") for path in sorted(corpus.glob("[!_]*.py"))]


def model_file(sources: list[str], lines: int) -> str:
    """About `lines` lines of whole top-level statements from `sources` (joined, `__future__` imports
    kept only at the top), or a generated file when there is no corpus."""
    if not sources:
        return generated_file(lines)
    text = ""
    for index, source in enumerate(sources * 10):
        if index:
            source = "\n".join(line for line in source.splitlines() if not line.startswith("from __future__"))
        text += source + "\n\n"
        if text.count("\n") >= lines:
            break
    ends = [node.end_lineno for node in ast.parse(text).body if node.end_lineno and node.end_lineno <= lines]
    return "\n".join(text.splitlines()[: max(ends)]) + "\n"


def generated_file(lines: int) -> str:
    head = "import jax.numpy as jnp\nimport numpyro\nimport numpyro.distributions as dist\n\n"
    block = '''
def model_{n}(x, y=None):
    mu = numpyro.sample("mu_{n}", dist.Normal(0.0, 10.0))
    tau = numpyro.sample("tau_{n}", dist.HalfNormal(5.0))
    with numpyro.plate("groups_{n}", x.shape[0]):
        theta = numpyro.sample("theta_{n}", dist.Normal(mu, tau))
        sigma = numpyro.sample("sigma_{n}", dist.Exponential(1.0))
        numpyro.sample("y_{n}", dist.Normal(theta * x, sigma), obs=y)
    return theta
'''
    text, n = head, 0
    while text.count("\n") + block.count("\n") <= lines:
        text += block.format(n=n)
        n += 1
    return text


# Measurements ---------------------------------------------------------------------------------------

async def edit_latencies(text: str, edits: int, root: Path, debounce_ms: int | None) -> list[float]:
    server = await Server.start()
    options = {} if debounce_ms is None else {"debounce-ms": debounce_ms}
    await server.initialize(root, options)
    text = "# bench edit 0\n" + text
    uri = server.open(root / "model.py", text)
    await server.published_for(uri, 1)
    latencies = []
    for version in range(2, edits + 2):
        first_line = {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 14}}
        started = time.perf_counter()
        server.notify("textDocument/didChange", {
            "textDocument": {"uri": uri, "version": version},
            "contentChanges": [{"range": first_line, "text": f"# bench edit {version % 10}"}],
        })
        latencies.append(await server.published_for(uri, version) - started)
    await server.stop()
    return latencies


async def insight_latencies(text: str, requests: int, root: Path) -> dict[str, list[float]]:
    """Round trips of a hover on a sample site's name, of `textDocument/codeLens`, and of a request the
    server does not handle (the baseline), on a file whose analysis is current."""
    server = await Server.start()
    await server.initialize(root, {"debounce-ms": 0})
    uri = server.open(root / "model.py", text)
    await server.published_for(uri, 1)
    sites = [(number, line.index('sample("') + 8) for number, line in enumerate(text.splitlines())
             if 'sample("' in line]
    document = {"textDocument": {"uri": uri}}
    timings: dict[str, list[float]] = {"hover": [], "codeLens": [], "baseline": []}
    for index in range(requests):
        line, character = sites[index % len(sites)]
        for name, method, params in [
            ("baseline", "textDocument/documentColor", document),
            ("hover", "textDocument/hover", {**document, "position": {"line": line, "character": character}}),
            ("codeLens", "textDocument/codeLens", document),
        ]:
            started = time.perf_counter()
            try:
                answer = await server.request(method, params)
            except ResponseError:
                answer = None
            timings[name].append(time.perf_counter() - started)
            if name == "hover" and not answer:
                raise RuntimeError(f"no hover on the sample site at {line + 1}:{character}")
    await server.stop()
    return timings


async def rss_after_opening(sources: list[str], count: int, root: Path) -> float:
    server = await Server.start()
    await server.initialize(root, {})
    files = (sources or [generated_file(300)]) * count
    uris = [server.open(root / f"file_{index}.py", text) for index, text in enumerate(files[:count])]
    for uri in uris:
        await server.published_for(uri, 1)
    rss = server.rss_mb()
    await server.stop()
    return rss


async def initialize_seconds(root: Path, command: list[str] = SERVER) -> tuple[float, float]:
    """(wall seconds from spawn to the answer, CPU seconds the server used until then): on a busy
    machine the wall time grows with the load, the CPU time much less."""
    started = time.perf_counter()
    server = await Server.start(command)
    await server.initialize(root, {})
    took = time.perf_counter() - started
    cpu = server.cpu_seconds()
    await server.stop()
    return took, cpu


def lint_seconds(text: str, runs: int) -> float:
    """Median of lint_text alone, in this process, for comparison with the server's figures."""
    from numpyro_lint.linter import lint_text

    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        lint_text(text, "model.py")
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--edits", type=int, default=50)
    parser.add_argument("--starts", type=int, default=7)
    parser.add_argument("--corpus", type=Path, default=HERE / "corpus")
    args = parser.parse_args()

    import tempfile

    sources = corpus_files(args.corpus) if args.corpus.is_dir() else []
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        starts = [await initialize_seconds(root) for _ in range(args.starts)]
        bare = [await initialize_seconds(root, BARE_PYGLS) for _ in range(args.starts)]
        start = statistics.median(wall for wall, _ in starts)
        rows.append(("spawn -> initialize answer (median; min-max)",
                     f"{start * 1000:.0f} ms; {min(wall for wall, _ in starts) * 1000:.0f}-"
                     f"{max(wall for wall, _ in starts) * 1000:.0f} ms",
                     f"<= {GOALS['initialize'] * 1000:.0f} ms " + _verdict(start, GOALS["initialize"])))
        rows.append(("  CPU time the server used until it answered (median)",
                     f"{statistics.median(cpu for _, cpu in starts) * 1000:.0f} ms", ""))
        rows.append(("  a bare pygls server at the same time: wall, CPU (median)",
                     f"{statistics.median(w for w, _ in bare) * 1000:.0f} ms, "
                     f"{statistics.median(c for _, c in bare) * 1000:.0f} ms", ""))
        for lines in (200, 1000):
            text = model_file(sources, lines)
            real_lines = text.count("\n")
            latencies = await edit_latencies(text, args.edits, root, debounce_ms=0)
            p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
            goal = GOALS[f"p50 {lines}"]
            rows.append((f"didChange -> publish, {real_lines} lines, debounce 0 (p50 / p95)",
                         f"{p50 * 1000:.0f} / {p95 * 1000:.0f} ms",
                         f"p50 <= {goal * 1000:.0f} ms " + _verdict(p50, goal)))
            rows.append((f"  lint_text alone, {real_lines} lines (median, in process)",
                         f"{lint_seconds(text, 15) * 1000:.0f} ms", ""))
            latencies = await edit_latencies(text, max(10, args.edits // 5), root, debounce_ms=None)
            rows.append((f"  with the default debounce (150 ms), {real_lines} lines (p50 / p95)",
                         f"{percentile(latencies, 0.5) * 1000:.0f} / {percentile(latencies, 0.95) * 1000:.0f} ms",
                         ""))
        text = model_file(sources, 1000)
        timings = await insight_latencies(text, args.edits, root)
        baseline = percentile(timings["baseline"], 0.5)
        for name in ("hover", "codeLens"):
            added = percentile(timings[name], 0.5) - baseline
            rows.append((f"{name} on a sample site, {text.count(chr(10))} lines: p50, added to a bare round trip"
                         if name == "hover" else f"codeLens, {text.count(chr(10))} lines: p50, added to a bare round trip",
                         f"{percentile(timings[name], 0.5) * 1000:.1f} ms, +{added * 1000:.1f} ms",
                         f"+ <= {GOALS['insight'] * 1000:.0f} ms " + _verdict(added, GOALS["insight"])))
        rows.append(("  a request the server does not handle (p50)", f"{baseline * 1000:.1f} ms", ""))
        rss = await rss_after_opening(sources, 20, root)
        rows.append(("server RSS after opening 20 files", f"{rss:.0f} MB",
                     f"<= {GOALS['rss']:.0f} MB " + _verdict(rss, GOALS["rss"])))

    source = f"{len(sources)} corpus files in {args.corpus}" if sources else "generated files"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"numpyro-lint server, Python {sys.version.split()[0]}, {source}, {args.edits} edits, "
          f"{os.cpu_count()} CPUs, load average {load:.1f}\n")
    width = max(len(row[0]) for row in rows)
    print(f"{'measure':<{width}}  {'measured':>18}  goal")
    for name, measured, goal in rows:
        print(f"{name:<{width}}  {measured:>18}  {goal}")
    return 0


def _verdict(value: float, goal: float) -> str:
    return "(met)" if value <= goal else "(NOT met)"


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
