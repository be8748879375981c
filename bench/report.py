"""Gather bench/results/*.md into bench/RESULTS.md with the machine, versions and commands.

``make bench`` runs every benchmark (each writes bench/results/<name>.md through
``common.write_result``) and then this script; ``make bench-report`` runs only this script, rebuilding
RESULTS.md from the results already on disk. Sections come in a fixed order; a benchmark that has
no result file is listed as missing rather than skipped silently. Then the ``<!-- bench:... -->``
blocks of the hand-written documents are regenerated from the same results (``bench/guides.py``).

``--keep-machine`` (``make bench-report``) keeps the Machine section already in RESULTS.md: the
results were produced by that machine, commit and date, not by whoever rebuilds the report.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import psutil
from common import RESULTS_DIR, ROOT
from guides import BlockError, update_documents

RESULTS_FILE = ROOT / "bench" / "RESULTS.md"
ORDER = (
    "exports",
    "background",
    "search",
    "uploads",
    "upload-sink",
    "documents",
    "intake",
    "monitoring",
    "metrics",
    "scale",
    "load",
)
PACKAGES = (
    "Flask",
    "Werkzeug",
    "SQLAlchemy",
    "Flask-SQLAlchemy",
    "gunicorn",
    "gevent",
    "psycopg2-binary",
    "psycogreen",
    "openpyxl",
    "stream-zip",
    "pypdf",
    "regex",
    "XlsxWriter",
    "psutil",
    "prometheus-client",
    "requests",
    "rq",
)
BENCH_COMMANDS = (
    ("make bench", "all of the below, then this report"),
    ("make bench-exports", "bench/exports.py -> bench/results/exports.md"),
    ("make bench-background", "bench/background_exports.py -> bench/results/background.md (RQ worker PSS)"),
    ("make bench-search", "bench/search.py -> bench/results/search.md (list filters and q= at 100k and 1M invoices)"),
    ("make bench-uploads", "bench/uploads.py -> bench/results/uploads.md"),
    ("make bench-upload-sink", "bench/upload_sink.py -> bench/results/upload-sink.md (vs a bare gunicorn sink; S3)"),
    ("make bench-documents", "bench/documents.py -> bench/results/documents.md"),
    ("make bench-intake", "bench/intake.py -> bench/results/intake.md"),
    ("make bench-monitoring", "bench/monitoring.py -> bench/results/monitoring.md"),
    ("make bench-metrics", "bench/metrics.py -> bench/results/metrics.md (/metrics cost per request; scrape size)"),
    ("make bench-scale", "bench/scale.py -> bench/results/scale.md (two instances sharing PostgreSQL, Redis, S3)"),
    ("make bench-load", "bench/load.py -> bench/results/load.md, .json (BENCH_LOAD_ARGS='--duration 15': shorter)"),
    ("make bench-report", "rebuild this file from bench/results/*.md without re-running anything"),
)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def package_versions() -> list[str]:
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    return versions


def git_revision() -> str:
    """The commit the results were produced from, marked when the working tree had local changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"{head} (with uncommitted changes)" if dirty.strip() else head


def machine_section() -> str:
    memory = psutil.virtual_memory().total / 1024**3
    lines = [
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- Commit: {git_revision()}",
        f"- Machine: {os.cpu_count()} cores ({cpu_model()}), {memory:.1f} GiB RAM, {platform.platform()}",
        f"- Python: {platform.python_version()} ({sys.executable})",
        f"- Packages: {', '.join(package_versions())}",
    ]
    return "\n".join(lines)


def commands_section() -> str:
    rows = [f"| `{command}` | {what} |" for command, what in BENCH_COMMANDS]
    return "\n".join(["| command | what it runs |", "|---|---|", *rows])


def verdict_lines() -> list[str]:
    """Every PASS/MISS line the benchmarks printed, by results file, so the targets can be read in one place."""
    lines = []
    for path in sorted(RESULTS_DIR.glob("*.md")) if RESULTS_DIR.is_dir() else []:
        for line in path.read_text().splitlines():
            if line.startswith("- ") and ("PASS" in line or "MISS" in line):
                lines.append(f"{line} *({path.stem})*")
    return lines


def result_sections(failed: list[str]) -> list[str]:
    """Each results file in the fixed order, then any other results file alphabetically."""
    present = {path.stem: path for path in sorted(RESULTS_DIR.glob("*.md"))} if RESULTS_DIR.is_dir() else {}
    names = [*ORDER, *sorted(set(present) - set(ORDER))]
    sections = []
    for name in names:
        warning = f"> **`make bench-{name}` FAILED in this run**: the section below may be stale or partial.\n\n"
        prefix = warning if name in failed else ""
        if name in present:
            sections.append(prefix + present[name].read_text().strip())
        else:
            sections.append(f"{prefix}## {name}\n\n**No result**: bench/results/{name}.md does not exist yet.")
    return sections


def kept_machine_section() -> str | None:
    """The Machine section of the current RESULTS.md, if there is one."""
    if not RESULTS_FILE.exists():
        return None
    text = RESULTS_FILE.read_text()
    start = text.find("## Machine\n\n")
    if start == -1:
        return None
    body = text[start + len("## Machine\n\n") :]
    return body.split("\n\n## ", 1)[0].strip()


def build(failed: list[str], machine: str | None = None) -> str:
    parts = [
        "# Benchmark results",
        "Generated by `bench/report.py` (`make bench` / `make bench-report`); do not edit by hand. Measured "
        "figures live only here: the documents link to these sections, and the tables between "
        "`<!-- bench:... -->` markers in them are regenerated from the same results files by the same command. "
        "Absolute times and megabytes are this machine's; each benchmark measures its baseline in the same run, "
        "so compare within a table.",
        "## Machine\n\n" + (machine or machine_section()),
        "## Commands\n\n" + commands_section(),
    ]
    verdicts = verdict_lines()
    if verdicts:
        parts.append(
            "## Targets\n\nEvery PASS/MISS line below is copied from the section it names; docs/performance.md "
            "says what was built and found for each of issue 14's targets.\n\n" + "\n".join(verdicts)
        )
    if failed:
        parts.append("**Failed benchmarks in this run:** " + ", ".join(f"`make bench-{name}`" for name in failed))
    parts += result_sections(failed)
    return "\n\n".join(parts) + "\n"


def pictures_section() -> str:
    """Draw the pictures (bench/plots.py) and link them; say so when matplotlib is missing."""
    try:
        from plots import draw

        drawn = draw()
    except ImportError as exc:
        return f"## Pictures\n\nNot drawn: {exc} (matplotlib is in backend/requirements-dev.txt)."
    if not drawn:
        return "## Pictures\n\nNone yet: no bench/results/*.json to draw from."
    links = [f"![{path.stem}]({path.name})" for path in drawn]
    return "## Pictures\n\n" + "\n\n".join(links)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--keep-machine", action="store_true", help="keep the Machine section (date, commit, versions) of RESULTS.md"
    )
    args = parser.parse_args(argv)
    failed = os.environ.get("BENCH_FAILED", "").split()
    machine = kept_machine_section() if args.keep_machine else None
    RESULTS_FILE.write_text(build(failed, machine) + "\n" + pictures_section() + "\n")
    print(f"wrote {RESULTS_FILE.relative_to(ROOT)}")
    try:
        changed = update_documents(failed=failed)
    except BlockError as exc:
        print(f"report.py: cannot regenerate a bench block: {exc}", file=sys.stderr)
        return 1
    for path in changed:
        print(f"updated the bench blocks of {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
