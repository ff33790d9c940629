"""Soak the language server over stdio: minutes of random edits and requests, as a busy editor sends them.

    python bench/soak_server.py [--minutes 10] [--files 20] [--seed 0] [--rate 10]

Opens `--files` models (examples/, then bench/corpus/) and for `--minutes` applies random edits at a steady
`--rate` a second across them (tests/random_edits.py, the generator of the server's fuzz test: brackets,
quotes, tabs, emoji, CRLF, 5,000-character lines, truncations, whole replacements), with hovers, quick-fix
code actions and fix-all (resolved) requested among them. The server runs with its default settings (no
debounce: an edit to an idle document is analysed at once).

Prints a table and, last, one JSON object: edits; requests; requests unanswered within 10 s; error answers;
server crashes; p50/p95/max latency of requests and of didChange -> publishDiagnostics for a document's
latest version; documents whose last version never got diagnostics; the server's errors (tracebacks and
ERROR lines on its stderr, error messages shown); the peak RSS (VmHWM) of the server and of its children.
Exit status 1 when any count of failures (FAILURES) is not zero.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # random_edits: the edits the fuzz test makes

from bench_server import SERVER, ResponseError, Server, percentile, proc_status_mb  # noqa: E402
from random_edits import random_change, random_position, random_range  # noqa: E402

ANSWER_TIMEOUT_S = 10.0
RSS_SAMPLE_S = 1.0
#: What VS Code says it supports, as far as these requests go: fix-all comes back to be resolved.
CAPABILITIES = {
    "general": {"positionEncodings": ["utf-16"]},
    "window": {"workDoneProgress": True},
    "workspace": {"workspaceEdit": {"documentChanges": True}},
    "textDocument": {
        "publishDiagnostics": {"versionSupport": True, "codeDescriptionSupport": True, "dataSupport": True},
        "hover": {"contentFormat": ["markdown", "plaintext"]},
        "codeAction": {"dataSupport": True, "resolveSupport": {"properties": ["edit"]},
                       "codeActionLiteralSupport": {"codeActionKind": {"valueSet": ["quickfix", "source"]}}},
    },
}
#: How often each request comes, and how many requests an edit brings on average.
REQUESTS = {"hover": 4, "quick fix": 4, "fix all": 2}
REQUESTS_PER_EDIT = 0.5


@dataclass
class Document:
    uri: str
    original: str
    text: str
    version: int = 1


@dataclass
class Tally:
    edits: int = 0
    requests: int = 0
    unanswered: int = 0
    error_answers: list[str] = field(default_factory=list)
    #: Seconds from sending a request to its answer, by method.
    latencies: dict[str, list[float]] = field(default_factory=dict)


class SoakServer(Server):
    """The bench client, keeping only the newest diagnostics of each document (not every publication) and
    timing didChange -> publishDiagnostics for the latest version."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        super().__init__(process)
        self.sent: dict[str, tuple[int, float]] = {}
        self.published_version: dict[str, int | None] = {}
        self.diagnostics: dict[str, list[Any]] = {}
        self.publish_latencies: list[float] = []
        self.errors_shown: list[str] = []
        self.stderr_lines: list[str] = []
        self._stderr = asyncio.create_task(self._read_stderr())

    def changed(self, document: Document, change: dict[str, Any]) -> None:
        self.notify("textDocument/didChange", {"textDocument": {"uri": document.uri, "version": document.version},
                                               "contentChanges": [change]})
        self.sent[document.uri] = (document.version, time.perf_counter())

    def on_notification(self, now: float, method: str, params: Any) -> None:
        if method == "textDocument/publishDiagnostics":
            uri, version = params["uri"], params.get("version")
            sent = self.sent.get(uri)
            if sent is not None and version == sent[0] and self.published_version.get(uri) != version:
                self.publish_latencies.append(now - sent[1])
            self.published_version[uri] = version
            self.diagnostics[uri] = params["diagnostics"]
            self.wake()
        elif method == "window/showMessage" and params.get("type") == 1:  # an error pygls caught (the log
            self.errors_shown.append(params["message"])  # messages repeat what stderr has)

    def stale(self) -> list[str]:
        """Documents whose latest version has no diagnostics yet."""
        return [uri for uri, (version, _) in self.sent.items() if self.published_version.get(uri) != version]

    async def until_published(self, timeout: float) -> list[str]:
        """Wait (at most `timeout`) for every document's latest version to get diagnostics; the stale ones."""
        async def wait() -> None:
            while self.stale():
                await self.arrived.wait()
        try:
            await asyncio.wait_for(wait(), timeout)
        except asyncio.TimeoutError:
            pass
        return self.stale()

    async def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        while line := await self.process.stderr.readline():
            self.stderr_lines.append(line.decode("utf-8", "replace").rstrip("\n"))


# Requests -------------------------------------------------------------------------------------------

async def answer(server: SoakServer, tally: Tally, method: str, params: Any) -> Any:
    """Send a request and wait up to ANSWER_TIMEOUT_S for its answer; None when there is none."""
    tally.requests += 1
    started = time.perf_counter()
    future = server.send_request(method, params)
    try:
        result = await asyncio.wait_for(asyncio.shield(future), ANSWER_TIMEOUT_S)
    except asyncio.TimeoutError:
        tally.unanswered += 1
        return None
    except ResponseError as error:
        tally.error_answers.append(f"{method}: {error}")
        result = None
    tally.latencies.setdefault(method, []).append(time.perf_counter() - started)
    return result


async def fix_all(server: SoakServer, tally: Tally, params: dict[str, Any]) -> None:
    for action in await answer(server, tally, "textDocument/codeAction", params) or []:
        if "edit" not in action and "data" in action:
            await answer(server, tally, "codeAction/resolve", action)


def random_request(rng: random.Random, server: SoakServer, tally: Tally, document: Document) -> Any:
    """A request about `document` as it is now (drawn at once, so that a seed gives the same soak)."""
    kind = rng.choices(list(REQUESTS), weights=list(REQUESTS.values()))[0]
    identifier = {"uri": document.uri}
    if kind == "hover":
        line, character = random_position(rng, document.text)
        return answer(server, tally, "textDocument/hover", {"textDocument": identifier,
                                                             "position": {"line": line, "character": character}})
    if kind == "quick fix":
        (start_line, start_character), (end_line, end_character) = random_range(rng, document.text)
        selection = {"start": {"line": start_line, "character": start_character},
                     "end": {"line": end_line, "character": end_character}}
        return answer(server, tally, "textDocument/codeAction", {
            "textDocument": identifier, "range": selection,
            "context": {"diagnostics": server.diagnostics.get(document.uri, [])}})
    start = {"line": 0, "character": 0}
    return fix_all(server, tally, {"textDocument": identifier, "range": {"start": start, "end": start},
                                   "context": {"diagnostics": [], "only": ["source.fixAll.numpyro-lint"]}})


# The soak -------------------------------------------------------------------------------------------

def model_files(count: int) -> list[Path]:
    models = sorted((HERE.parent / "examples").glob("*.py")) + sorted((HERE / "corpus").glob("[!_]*.py"))
    return [models[index % len(models)] for index in range(count)]


async def edit_steadily(server: SoakServer, documents: list[Document], rng: random.Random, tally: Tally,
                        seconds: float, rate: float) -> None:
    """Random edits at `rate` a second with requests among them, until `seconds` pass or the server exits;
    then wait for the requests still in flight."""
    requests: list[asyncio.Task[Any]] = []
    started = time.perf_counter()
    while time.perf_counter() - started < seconds and server.process.returncode is None:
        document = rng.choice(documents)
        change, document.text = random_change(rng, document.text, document.original)
        document.version += 1
        server.changed(document, change.as_json())
        tally.edits += 1
        if rng.random() < REQUESTS_PER_EDIT:
            requests.append(asyncio.create_task(random_request(rng, server, tally, document)))
        await asyncio.sleep(max(0.0, started + tally.edits / rate - time.perf_counter()))
    await asyncio.gather(*requests)  # each waits ANSWER_TIMEOUT_S at the most


def descendants(pid: int) -> list[int]:
    """The processes below `pid` (from /proc: each process' parent)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, queue = [], list(children.get(pid, []))
    while queue:
        child = queue.pop()
        found.append(child)
        queue.extend(children.get(child, []))
    return found


class PeakRss:
    """The peak RSS (VmHWM) of a process and of its children, sampled: a child that comes and goes
    between samples is missed."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.server_mb = 0.0
        self.children_mb = 0.0

    def sample(self) -> None:
        server = proc_status_mb(self.pid, "VmHWM")
        if server == server:  # not nan: the process is still there
            self.server_mb = max(self.server_mb, server)
        children = [proc_status_mb(child, "VmHWM") for child in descendants(self.pid)]
        self.children_mb = max(self.children_mb, sum(mb for mb in children if mb == mb))

    async def keep_sampling(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(RSS_SAMPLE_S)


def is_error(stderr_line: str) -> bool:
    return "Traceback" in stderr_line or ": ERROR:" in stderr_line


async def stopped(server: SoakServer) -> bool:
    """Shut the server down and wait for it to exit; False (and the process killed) when it does not."""
    try:
        await asyncio.wait_for(server.stop(), 2 * ANSWER_TIMEOUT_S)
    except (asyncio.TimeoutError, ResponseError):
        server.process.kill()
        return False
    return server.process.returncode == 0


def megabytes(value: float) -> float | None:
    return None if value != value else round(value, 1)  # nan: the process was gone


def spread(values: list[float]) -> dict[str, float | None]:
    """p50, p95 and max in milliseconds (None without values)."""
    if not values:
        return {"p50_ms": None, "p95_ms": None, "max_ms": None}
    return {"p50_ms": round(percentile(values, 0.5) * 1000, 1), "p95_ms": round(percentile(values, 0.95) * 1000, 1),
            "max_ms": round(max(values) * 1000, 1)}


async def soak(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    rng = random.Random(args.seed)
    server: SoakServer = await SoakServer.start(SERVER, stderr=asyncio.subprocess.PIPE)  # type: ignore[assignment]
    peak = PeakRss(server.process.pid)
    sampling = asyncio.create_task(peak.keep_sampling())
    await server.initialize(root, {}, CAPABILITIES)
    documents: list[Document] = []
    for index, model in enumerate(model_files(args.files)):
        text = model.read_text(encoding="utf-8")
        path = root / f"{index:02d}_{model.name}"
        path.write_text(text, encoding="utf-8")
        documents.append(Document(server.open(path, text), text, text))
        server.sent[documents[-1].uri] = (1, time.perf_counter())
    stale_after_open = await server.until_published(60)
    server.publish_latencies.clear()  # the opening is not an edit
    rss_after_open = server.rss_mb()

    tally = Tally()
    await edit_steadily(server, documents, rng, tally, args.minutes * 60, args.rate)
    stale = await server.until_published(ANSWER_TIMEOUT_S)
    crashed = server.process.returncode is not None
    rss_end = server.rss_mb()
    peak.sample()
    sampling.cancel()
    clean_exit = not crashed and await stopped(server)
    all_latencies = [seconds for values in tally.latencies.values() for seconds in values]
    return {
        "minutes": args.minutes, "files": args.files, "seed": args.seed, "rate_per_s": args.rate,
        "edits": tally.edits, "requests": tally.requests, "unanswered_requests": tally.unanswered,
        "error_answers": len(tally.error_answers), "crashes": int(crashed),
        "exit_code": server.process.returncode,
        "request_latency": spread(all_latencies),
        "request_latency_by_method": {method: spread(values) for method, values in sorted(tally.latencies.items())},
        "publish_latency_latest_version": spread(server.publish_latencies),
        "publications_timed": len(server.publish_latencies),
        "stale_documents": len(stale) + len(stale_after_open),
        "server_errors": len(server.errors_shown) + sum(is_error(line) for line in server.stderr_lines),
        "unclean_exit": int(not crashed and not clean_exit),
        "stderr_lines": len(server.stderr_lines),
        "rss_mb_after_open": megabytes(rss_after_open), "rss_mb_end": megabytes(rss_end),
        "peak_rss_mb": {"server": round(peak.server_mb, 1), "children": round(peak.children_mb, 1),
                        "total": round(peak.server_mb + peak.children_mb, 1)},
        "first_problems": (tally.error_answers + server.errors_shown + server.stderr_lines)[:10],
    }


FAILURES = ("unanswered_requests", "error_answers", "crashes", "stale_documents", "server_errors", "unclean_exit")


def print_table(summary: dict[str, Any]) -> None:
    def row(name: str, value: Any) -> None:
        print(f"{name:<44} {value}")

    for name in ("edits", "requests", *FAILURES, "stderr_lines", "publications_timed"):
        row(name.replace("_", " "), summary[name])
    for name in ("request_latency", "publish_latency_latest_version"):
        figures = summary[name]
        row(f"{name.replace('_', ' ')} p50 / p95 / max",
            f"{figures['p50_ms']} / {figures['p95_ms']} / {figures['max_ms']} ms")
    for method, figures in summary["request_latency_by_method"].items():
        row(f"  {method} p50 / p95 / max", f"{figures['p50_ms']} / {figures['p95_ms']} / {figures['max_ms']} ms")
    row("RSS after opening / at the end", f"{summary['rss_mb_after_open']} / {summary['rss_mb_end']} MB")
    peak = summary["peak_rss_mb"]
    row("peak RSS: server + children = total", f"{peak['server']} + {peak['children']} = {peak['total']} MB")
    for problem in summary["first_problems"]:
        print(f"  problem: {problem}")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rate", type=float, default=10.0, help="edits a second, across all files")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        summary = await soak(args, Path(folder))
    print_table(summary)
    print(json.dumps(summary))
    return 1 if any(summary[name] for name in FAILURES) else 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
