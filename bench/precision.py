"""Precision of `numpyro-lint check` on real NumPyro code, from hand-triaged verdicts.

    python bench/precision.py [--corpus PATH] [--report PATH] [--strict]

The corpus is a checkout of pyro-ppl/numpyro (third-party code: obtained at bench time, never committed):
its `examples/*.py` and the code cells of `notebooks/source/*.ipynb`. `check` runs twice, on the default
set and with the pedantic tier selected; a finding of the second run that the first did not report is
in the pedantic tier.

Verdicts live in `bench/triage/NPL<family>.tsv` (one file per rule family, so that people triaging
different families never edit the same file), tab-separated with a header:

    file    line    code    verdict    reason

`file` is relative to the corpus; `line` is the line for `.py` files and `cell:line` for notebooks (as
`check` reports them: code cells counted, markdown cells not); `verdict` is one of
- `true`: worth a user's time;
- `pedantic-true`: true but usually harmless: right in the pedantic tier, a false alarm in the default set;
- `false`: a false alarm.
A verdict applies to every finding with its (file, line, code), so it survives re-runs.

Prints the lines in the corpus, the findings per tier with their verdicts, the false alarms per 2,000
lines in the default set, and every finding without a verdict; writes every finding with its tier, verdict
and message to the report (default `bench/.precision/report.tsv`, not committed: messages quote the
corpus) and the figures to `bench/triage/summary.md`. `--strict` exits 1 when a finding has no verdict
or the default set has more than one false alarm per 2,000 lines.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
TRIAGE = HERE / "triage"
DEFAULT_CORPUS = Path("/work/corpus/numpyro")
DEFAULT_REPORT = HERE / ".precision" / "report.tsv"
VERDICTS = ("true", "pedantic-true", "false")
COLUMNS = ("file", "line", "code", "verdict", "reason")
#: The precision bar of the default set.
LINES_PER_BUDGET, FALSE_ALARMS_ALLOWED = 2000, 1.0

sys.path.insert(0, str(HERE.parent / "src"))
from numpyro_lint.files import UnreadableFile, read_document  # noqa: E402


@dataclass(frozen=True)
class Finding:
    file: str
    line: str
    code: str
    message: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.file, self.line, self.code)


@dataclass(frozen=True)
class Verdict:
    verdict: str
    reason: str
    source: str


def corpus_files(corpus: Path) -> list[Path]:
    files = sorted((corpus / "examples").glob("*.py")) + sorted((corpus / "notebooks" / "source").glob("*.ipynb"))
    if not files:
        raise SystemExit(f"precision: no examples/*.py or notebooks/source/*.ipynb under {corpus}")
    return files


def count_lines(files: list[Path]) -> int:
    """Lines of Python: whole `.py` files, the code cells of notebooks."""
    total = 0
    for path in files:
        try:
            total += len(read_document(path).text.splitlines())
        except UnreadableFile as error:
            print(f"precision: skipping {path}: {error}", file=sys.stderr)
    return total


def run_check(files: list[Path], corpus: Path, pedantic: bool) -> list[Finding]:
    command = [sys.executable, "-m", "numpyro_lint", "check", "--isolated", "--exit-zero", "--output-format", "json"]
    if pedantic:
        command += ["--extend-select", "pedantic"]
    result = subprocess.run([*command, *map(str, files)], capture_output=True, text=True,
                            cwd=HERE.parent, env=_env())
    if result.returncode != 0:
        raise SystemExit(f"precision: check failed ({result.returncode}): {result.stderr.strip()}")
    findings = []
    for item in json.loads(result.stdout):
        location = item["location"]
        line = f"{item['cell']}:{location['row']}" if item.get("cell") is not None else str(location["row"])
        relative = Path(item["filename"]).resolve().relative_to(corpus.resolve()).as_posix()
        findings.append(Finding(relative, line, item["code"], item["message"]))
    return findings


def _env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE.parent / "src"), env.get("PYTHONPATH")]))
    return env


def load_verdicts(folder: Path) -> dict[tuple[str, str, str], Verdict]:
    """Every verdict file's rows by (file, line, code); a bad row or a conflict stops the run."""
    verdicts: dict[tuple[str, str, str], Verdict] = {}
    for path in sorted(folder.glob("NPL*.tsv")):
        family = path.stem
        with path.open(encoding="utf-8", newline="") as handle:
            rows = csv.DictReader(handle, delimiter="\t")
            if tuple(rows.fieldnames or ()) != COLUMNS:
                raise SystemExit(f"precision: {path.name}: the header must be {' '.join(COLUMNS)}")
            for number, row in enumerate(rows, start=2):
                where = f"{path.name}:{number}"
                if row["verdict"] not in VERDICTS:
                    raise SystemExit(f"precision: {where}: verdict {row['verdict']!r} is not one of {VERDICTS}")
                if not row["code"].startswith(family):
                    raise SystemExit(f"precision: {where}: {row['code']} belongs in {row['code'][:4]}.tsv")
                key = (row["file"], row["line"], row["code"])
                verdict = Verdict(row["verdict"], row["reason"] or "", where)
                if key in verdicts and verdicts[key].verdict != verdict.verdict:
                    raise SystemExit(f"precision: {where} contradicts {verdicts[key].source} on {key}")
                verdicts[key] = verdict
    return verdicts


def write_report(path: Path, rows: list[tuple[Finding, str, Verdict | None]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(("file", "line", "code", "tier", "verdict", "reason", "message"))
        for finding, tier, verdict in rows:
            writer.writerow((finding.file, finding.line, finding.code, tier,
                             verdict.verdict if verdict else "", verdict.reason if verdict else "", finding.message))


def summarize(lines: int, files: int, rows: list[tuple[Finding, str, Verdict | None]]) -> tuple[list[str], float]:
    by_tier = {tier: [(f, v) for f, t, v in rows if t == tier] for tier in ("default", "pedantic")}
    default = by_tier["default"]
    false_alarms = sum(1 for _, v in default if v is not None and v.verdict in ("false", "pedantic-true"))
    rate = false_alarms * LINES_PER_BUDGET / lines if lines else 0.0
    out = [f"corpus: {files} files, {lines} lines of Python"]
    for tier, found in by_tier.items():
        counts = Counter(v.verdict if v else "untriaged" for _, v in found)
        detail = ", ".join(f"{counts[k]} {k}" for k in (*VERDICTS, "untriaged") if counts[k])
        label = "default set" if tier == "default" else "pedantic tier (only with `pedantic` selected)"
        out.append(f"{label}: {len(found)} findings ({detail or 'none'})")
    out.append(f"default set: {false_alarms} false alarms (false or pedantic-true) = "
               f"{rate:.2f} per {LINES_PER_BUDGET:,} lines (bar: {FALSE_ALARMS_ALLOWED:g})")
    codes = Counter(f.code for f, _ in default)
    wrong = Counter(f.code for f, v in default if v is not None and v.verdict != "true")
    out.append("default set by rule: " + ", ".join(
        f"{code} {count}" + (f" ({wrong[code]} not true)" if wrong[code] else "") for code, count in sorted(codes.items())))
    pedantic_codes = Counter(f.code for f, _ in by_tier["pedantic"])
    out.append("pedantic tier by rule: " + (", ".join(f"{c} {n}" for c, n in sorted(pedantic_codes.items())) or "none"))
    return out, rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS,
                        help=f"a pyro-ppl/numpyro checkout (default {DEFAULT_CORPUS})")
    parser.add_argument("--report", type=Path, default=DEFAULT_REPORT, help="where to write every finding")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 on untriaged findings or when the default set misses the bar")
    args = parser.parse_args(argv)
    files = corpus_files(args.corpus)
    lines = count_lines(files)
    default = run_check(files, args.corpus, pedantic=False)
    everything = run_check(files, args.corpus, pedantic=True)
    default_keys = Counter(f.key for f in default)
    verdicts = load_verdicts(TRIAGE)
    rows = []
    for finding in everything:
        tier = "default" if default_keys[finding.key] > 0 else "pedantic"
        default_keys[finding.key] -= tier == "default"
        rows.append((finding, tier, verdicts.get(finding.key)))
    write_report(args.report, rows)
    summary, rate = summarize(lines, len(files), rows)
    print("\n".join(summary))
    (TRIAGE / "summary.md").write_text(
        "# Precision on NumPyro's examples and notebooks (written by bench/precision.py)\n\n"
        + "\n".join(f"- {line}" for line in summary) + "\n", encoding="utf-8")
    untriaged = [(f, t) for f, t, v in rows if v is None]
    if untriaged:
        print(f"\n{len(untriaged)} findings without a verdict (add them to bench/triage/NPLx.tsv):")
        for finding, tier in untriaged:
            print(f"{finding.file}\t{finding.line}\t{finding.code}\t[{tier}] {finding.message[:160]}")
    found = {f.key for f, _, _ in rows}
    stale = sorted(key for key in verdicts if key not in found)
    if stale:
        print(f"\n{len(stale)} verdicts match no finding any more (fixed, or the corpus changed):")
        for key in stale:
            print("\t".join(key) + f"\t{verdicts[key].verdict}\t({verdicts[key].source})")
    print(f"\nreport: {args.report}")
    return 1 if args.strict and (untriaged or rate > FALSE_ALARMS_ALLOWED) else 0


if __name__ == "__main__":
    sys.exit(main())
