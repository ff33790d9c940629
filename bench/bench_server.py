"""Benchmark the language server as an editor sees it, over stdio.

    python bench/bench_server.py [--edits 50] [--starts 7] [--corpus bench/corpus] [--real FOLDER]
                                 [--baseline REV]

Each latency is measured with the default settings and, side by side, with `debounce-ms = 0`, and with
`--baseline REV` also for the server as git revision REV had it (default settings; the ratio column is
this server's default over REV's default):
- didChange -> publishDiagnostics (p50 / p95 over `--edits` edits, each sent when the previous one's
  diagnostics arrived) for a 200-line and a 1,000-line file from the corpus; with `--real FOLDER`, the
  1,000-line file is four files of FOLDER concatenated (e.g. NumPyro's own examples: third-party code,
  read at bench time, never committed); and a dense 1,200-line file with 140 findings (generated);
- a burst of 50 keystrokes 20 ms apart: how many analyses it cost (published + dropped as stale, from
  the server's log) and how long after the last keystroke its diagnostics arrived;
- a quick-fix code action for a fixable diagnostic of the dense file, asked for after each edit's
  diagnostics arrived (the fix is computed then), and fix-all resolved once;
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
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SERVER = [sys.executable, "-m", "numpyro_lint", "server"]
#: The floor for start-up: a pygls server that does nothing (importing pygls and lsprotocol is most of it).
BARE_PYGLS = [sys.executable, "-c",
              "from pygls.lsp.server import LanguageServer; LanguageServer('bare', '0').start_io()"]
GOALS = {"p50 200": 0.030, "p50 1000": 0.100, "p95 1000": 0.200, "p50 dense": 0.150, "code action": 0.100, "rss": 150.0,
         "initialize": 0.6,
         "insight": 0.010}
#: As users run it: with bytecode caches (this machine sets PYTHONDONTWRITEBYTECODE, which would time
#: compiling the server's modules on every start).
ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
CAPABILITIES = {"general": {"positionEncodings": ["utf-16"]}, "window": {"workDoneProgress": True},
                "textDocument": {"codeAction": {"dataSupport": True, "resolveSupport": {"properties": ["edit"]},
                                                "codeActionLiteralSupport": {"codeActionKind": {"valueSet": [
                                                    "quickfix", "source.fixAll"]}}}}}
#: Four of NumPyro's examples, about 1,100 lines together, for `--real`.
REAL_FILES = ("baseball.py", "annotation.py", "capture_recapture.py", "ucbadmit.py")


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


def real_file(folder: Path) -> str:
    """REAL_FILES of `folder` (NumPyro's examples folder) concatenated, `__future__` imports at the top."""
    return join_sources([(folder / name).read_text(encoding="utf-8") for name in REAL_FILES])


def join_sources(sources: list[str]) -> str:
    future = sorted({line for source in sources for line in source.splitlines() if line.startswith("from __future__")})
    bodies = ["\n".join(line for line in source.splitlines() if not line.startswith("from __future__"))
              for source in sources]
    return "\n".join(future) + "\n" + "\n\n".join(bodies) + "\n"


DENSE_HEAD = ("import jax\nimport jax.numpy as jnp\nimport numpyro\nimport numpyro.distributions as dist\n"
              "from numpyro.infer import MCMC, NUTS\n\n")
DENSE_BLOCK = '''

def model_{n}(x, groups, y=None):
    mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
    tau = numpyro.sample("tau", dist.HalfNormal(2.0))
    for k in range(groups):
        numpyro.sample(f"offset_{{k}}", dist.Normal(0.0, 1.0))
    with numpyro.plate("units", x.shape[0]):
        theta = numpyro.sample("theta", dist.Normal(mu, {scale}))
    if mu > 0:
        theta = theta + 1.0{extra}
    sigma = numpyro.sample("sigma", dist.Exponential(1.0))
    with numpyro.plate("data", x.shape[0]):
        numpyro.sample("y", dist.Normal(theta * x, sigma), obs=y)


def run_{n}(key, x, groups, y):
    key, subkey = jax.random.split(key)
    mcmc = MCMC(NUTS(model_{n}), num_warmup=500, num_samples=500)
    mcmc.run(subkey, x, groups, y)
    return mcmc.get_samples()
'''


def dense_file(lines: int) -> str:
    """About `lines` lines of models with many findings: NPL203 and NPL104 in each, NPL105 in every third,
    a fixable NPL501 in every fourth (at 1,200 lines: 143 findings, 14 of them fixable)."""
    text, n = DENSE_HEAD, 0
    while True:
        block = DENSE_BLOCK.format(n=n, scale="tau" if n % 4 == 0 else "1.0",
                                   extra="\n    level = float(mu)" if n % 3 == 0 else "")
        if text.count("\n") + block.count("\n") > lines:
            return text
        text += block
        n += 1


# Measurements ---------------------------------------------------------------------------------------

def first_line_edit(uri: str, version: int) -> dict[str, Any]:
    first_line = {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 14}}
    return {"textDocument": {"uri": uri, "version": version},
            "contentChanges": [{"range": first_line, "text": f"# bench edit {version % 10}"}]}


async def opened(command: list[str], root: Path, options: dict[str, Any], text: str,
                 log_file: Path | None = None) -> tuple[Server, str]:
    """A server with `text` open (its first line a comment the edits rewrite), diagnostics received."""
    server = await Server.start([*command, "--log-file", str(log_file)] if log_file else command)
    await server.initialize(root, options)
    uri = server.open(root / "model.py", "# bench edit 0\n" + text)
    await server.published_for(uri, 1)
    return server, uri


async def edit_latencies(command: list[str], text: str, edits: int, root: Path,
                         options: dict[str, Any]) -> list[float]:
    server, uri = await opened(command, root, options, text)
    latencies = []
    for version in range(2, edits + 2):
        started = time.perf_counter()
        server.notify("textDocument/didChange", first_line_edit(uri, version))
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


async def burst(command: list[str], text: str, root: Path, options: dict[str, Any],
                keystrokes: int = 50, gap_s: float = 0.02) -> tuple[int, int, float]:
    """(analyses started, of which stopped early as stale, seconds from the last keystroke to its
    diagnostics) for `keystrokes` edits `gap_s` apart. Analyses: the publications for the burst's versions
    plus the stale results the server logged as dropped or cancelled."""
    log_file = root / f"burst-{time.monotonic_ns()}.log"
    server, uri = await opened(command, root, options, text, log_file)
    before = len(server.published)
    for version in range(2, keystrokes + 2):
        server.notify("textDocument/didChange", first_line_edit(uri, version))
        last = time.perf_counter()
        await asyncio.sleep(gap_s)
    arrived = await server.published_for(uri, keystrokes + 1)
    await server.stop()
    published = sum(1 for _, params in server.published[before:] if params["uri"] == uri)
    log = log_file.read_text(encoding="utf-8")
    dropped, cancelled = log.count("dropped a stale analysis"), log.count("cancelled a stale analysis")
    return published + dropped + cancelled, cancelled, arrived - last


async def code_action_latencies(command: list[str], text: str, edits: int, root: Path,
                                options: dict[str, Any], code: str = "NPL501") -> tuple[list[float], float]:
    """(seconds to answer a quick-fix request for the first `code` diagnostic after each edit's
    diagnostics arrived, seconds to resolve fix-all once)."""
    server, uri = await opened(command, root, options, text)
    latencies = []
    for version in range(2, edits + 2):
        server.notify("textDocument/didChange", first_line_edit(uri, version))
        await server.published_for(uri, version)
        params = next(p for _, p in reversed(server.published) if p["uri"] == uri and p.get("version") == version)
        diagnostic = next(d for d in params["diagnostics"] if d.get("code") == code)
        started = time.perf_counter()
        actions = await server.request("textDocument/codeAction", {
            "textDocument": {"uri": uri}, "range": diagnostic["range"],
            "context": {"diagnostics": [diagnostic], "only": ["quickfix"]}})
        latencies.append(time.perf_counter() - started)
        assert any(a.get("kind") == "quickfix" and "Disable" not in a["title"] for a in actions), actions
    [fix_all] = await server.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
        "context": {"diagnostics": [], "only": ["source.fixAll"]}})
    started = time.perf_counter()
    if "edit" not in fix_all:
        fix_all = await server.request("codeAction/resolve", fix_all)
    resolved = time.perf_counter() - started
    assert fix_all.get("edit"), fix_all
    await server.stop()
    return latencies, resolved


async def rss_after_opening(command: list[str], sources: list[str], count: int, root: Path) -> float:
    server = await Server.start(command)
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
    """Median of lint_text without fixes (what the server runs per edit), in this process."""
    from numpyro_lint.linter import lint_text

    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        lint_text(text, "model.py", fixes="none")
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def baseline_server(revision: str, into: Path) -> list[str]:
    """The server as git revision `revision` had it, extracted into `into`."""
    archive = subprocess.run(["git", "archive", revision, "src"], cwd=HERE.parent, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    launcher = (f"import sys; sys.path.insert(0, {str(into / 'src')!r}); from numpyro_lint.cli import main; "
                "sys.exit(main())")
    return [sys.executable, "-c", launcher, "server"]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def p50_p95(values: list[float]) -> str:
    return f"{ms(percentile(values, 0.5))} / {ms(percentile(values, 0.95))} ms"


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--edits", type=int, default=50)
    parser.add_argument("--starts", type=int, default=7)
    parser.add_argument("--corpus", type=Path, default=HERE / "corpus")
    parser.add_argument("--real", type=Path, help=f"a folder with {', '.join(REAL_FILES)} (NumPyro's examples)")
    parser.add_argument("--baseline", help="also measure the server of this git revision")
    args = parser.parse_args()

    import tempfile

    from numpyro_lint.linter import lint_text

    sources = corpus_files(args.corpus) if args.corpus.is_dir() else []
    table = Table()
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryDirectory() as tree:
        root = Path(folder)
        variants = {"default": (SERVER, {}), "debounce 0": (SERVER, {"debounce-ms": 0})}
        if args.baseline:
            variants[f"{args.baseline} default"] = (baseline_server(args.baseline, Path(tree)), {})
            table.ratio_of = f"{args.baseline} default"
        table.variants = list(variants)

        starts = [await initialize_seconds(root) for _ in range(args.starts)]
        bare = [await initialize_seconds(root, BARE_PYGLS) for _ in range(args.starts)]
        start = statistics.median(wall for wall, _ in starts)
        table.add("spawn -> initialize answer (median)", {"default": start}, lambda v: f"{ms(v)} ms",
                  f"<= {ms(GOALS['initialize'])} ms " + _verdict(start, GOALS["initialize"]))
        table.add("  CPU time the server used until it answered (median)",
                  {"default": statistics.median(cpu for _, cpu in starts)}, lambda v: f"{ms(v)} ms")
        table.add("  a bare pygls server: wall (median)", {"default": statistics.median(w for w, _ in bare)},
                  lambda v: f"{ms(v)} ms")

        real_text = real_file(args.real) if args.real else model_file(sources, 1000)
        files = [("200 lines", model_file(sources, 200), GOALS["p50 200"]),
                 ("real" if args.real else "corpus", real_text, GOALS["p50 1000"]),
                 ("dense", dense_file(1200), GOALS["p50 dense"])]
        for label, text, goal in files:
            lines = text.count("\n") + 1
            latencies = {name: await edit_latencies(command, text, args.edits, root, options)
                         for name, (command, options) in variants.items()}
            p50 = percentile(latencies["default"], 0.5)
            table.add(f"didChange -> publish, {label}, {lines} lines (p50 / p95)", latencies, p50_p95,
                      f"p50 <= {ms(goal)} ms " + _verdict(p50, goal), key=lambda v: percentile(v, 0.5))
            if label == "real":
                p95 = percentile(latencies["default"], 0.95)
                table.add("  p95 of the same", {"default": p95}, lambda v: f"{ms(v)} ms",
                          f"p95 <= {ms(GOALS['p95 1000'])} ms " + _verdict(p95, GOALS["p95 1000"]))
            found = lint_text(text, "model.py").diagnostics
            table.add(f"  lint_text without fixes, in process (median); {len(found)} findings, "
                      f"{sum(d.fix is not None for d in found)} fixable", {"default": lint_seconds(text, 15)},
                      lambda v: f"{ms(v)} ms")
            bursts = {name: await burst(command, text, root, options) for name, (command, options) in variants.items()}
            table.add("  50 keystrokes 20 ms apart: analyses (stopped early); last keystroke -> publish", bursts,
                      lambda b: f"{b[0]} ({b[1]}); {ms(b[2])} ms", key=lambda b: b[2])
        dense = dense_file(1200)
        actions = {name: await code_action_latencies(command, dense, max(10, args.edits // 2), root, options)
                   for name, (command, options) in variants.items()}
        p50 = percentile(actions["default"][0], 0.5)
        table.add("quick fix (NPL501) code action, dense file (p50 / p95)", actions, lambda a: p50_p95(a[0]),
                  f"p50 <= {ms(GOALS['code action'])} ms " + _verdict(p50, GOALS["code action"]),
                  key=lambda a: percentile(a[0], 0.5))
        table.add("  fix-all resolved once, dense file", actions, lambda a: f"{ms(a[1])} ms", key=lambda a: a[1])
        rss = {name: await rss_after_opening(command, sources, 20, root) for name, (command, _) in variants.items()
               if name != "debounce 0"}
        table.add("server RSS after opening 20 files", rss, lambda r: f"{r:.0f} MB",
                  f"<= {GOALS['rss']:.0f} MB " + _verdict(rss["default"], GOALS["rss"]), key=lambda r: r)
        text = model_file(sources, 1000)
        timings = await insight_latencies(text, args.edits, root)
        baseline = percentile(timings["baseline"], 0.5)
        for name in ("hover", "codeLens"):
            added = percentile(timings[name], 0.5) - baseline
            table.add(f"{name} on a sample site, {text.count(chr(10))} lines: p50 (added to a bare round trip)",
                      {"default": (percentile(timings[name], 0.5), added)},
                      lambda v: f"{v[0] * 1000:.1f} ms (+{v[1] * 1000:.1f} ms)",
                      f"+ <= {ms(GOALS['insight'])} ms " + _verdict(added, GOALS["insight"]), key=lambda v: v[0])
        table.add("  a request the server does not handle (p50)", {"default": baseline},
                  lambda v: f"{v * 1000:.1f} ms")

    source = f"{len(sources)} corpus files in {args.corpus}" if sources else "generated files"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"numpyro-lint server, Python {sys.version.split()[0]}, {source}, {args.edits} edits, "
          f"{os.cpu_count()} CPUs, load average {load:.1f}\n")
    table.print()
    return 0


class Table:
    """Rows of measures, one column per server variant, the ratio of this server's default to the
    baseline's, and the goal."""

    def __init__(self) -> None:
        self.variants: list[str] = []
        self.ratio_of: str | None = None
        self.rows: list[list[str]] = []

    def add(self, name: str, values: dict[str, Any], show: Any, goal: str = "", key: Any = None) -> None:
        cells = [show(values[v]) if v in values else "" for v in self.variants]
        ratio = []
        if self.ratio_of:
            both = key is not None and "default" in values and self.ratio_of in values and key(values[self.ratio_of])
            ratio = [f"{key(values['default']) / key(values[self.ratio_of]):.2f}x" if both else ""]
        self.rows.append([name, *cells, *ratio, goal])

    def print(self) -> None:
        header = ["measure", *self.variants, *([f"default / {self.ratio_of}"] if self.ratio_of else []), "goal"]
        widths = [max(len(row[i]) for row in [header, *self.rows]) for i in range(len(header))]
        for row in [header, *self.rows]:
            print("  ".join(f"{cell:<{width}}" for cell, width in zip(row, widths)).rstrip())


def _verdict(value: float, goal: float) -> str:
    return "(met)" if value <= goal else "(NOT met)"


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
