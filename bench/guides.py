"""Measured figures shown inside the hand-written documents, generated from bench/results/*.md.

Figures live in bench/RESULTS.md; the documents link to its sections. Where a document needs a table
inline, it holds a block

    <!-- bench:NAME -->
    (generated text)
    <!-- /bench -->

and ``bench/report.py`` (``make bench``, ``make bench-report``) rewrites the text between the markers
from the results files, copying the rows :data:`BLOCKS` names verbatim. Nobody types these figures, so
they cannot drift from bench/RESULTS.md; ``backend/tests/test_docs.py`` fails when a committed block
differs from what the committed results generate. Standard library only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "bench" / "results"
RESULTS_FILE = ROOT / "bench" / "RESULTS.md"
BLOCK = re.compile(r"(<!-- bench:(?P<name>[a-z0-9-]+) -->\n)(?P<body>.*?)(<!-- /bench -->)", re.S)
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True)
class Table:
    """One table of a results file: the one under the heading starting ``section`` whose first column is ``header``.

    ``rows`` are first-cell labels (bold ignored) to keep, in the table's order; every row carrying one
    of them is kept. Empty: the whole table.
    """

    section: str
    header: str
    rows: tuple[str, ...] = ()


@dataclass(frozen=True)
class Block:
    result: str  # bench/results/<result>.md, made by `make bench-<result>`
    tables: tuple[Table, ...]


BLOCKS: dict[str, Block] = {
    "load-summary": Block(
        "load",
        (
            Table(
                "Before/after under load",
                "metric",
                (
                    "gunicorn workers (measured in the process tree)",
                    "idle PSS, whole tree (MB)",
                    "peak PSS under load, whole tree (MB)",
                    "peak RSS under load, summed (MB)",
                    "requests/s (all kinds)",
                    "list calls p50 (ms)",
                    "list calls p99 (ms)",
                    "errors",
                ),
            ),
        ),
    ),
    "workers-tree": Block("monitoring", (Table("Process tree memory", "setup"),)),
    "exports-memory": Block(
        "exports",
        (
            Table(
                "100,000 invoices",
                "method",
                (
                    "NextOps XLSX (gunicorn, 1 gevent worker)",
                    "NextOps CSV (gunicorn, 1 gevent worker)",
                    "(a) chunks + normal openpyxl Workbook (old export)",
                    "(b) openpyxl write_only",
                    "(c) bare csv.writer",
                    "(d) PostgreSQL COPY (query) TO STDOUT CSV",
                ),
            ),
        ),
    ),
    "uploads-memory": Block(
        "uploads",
        (Table("Uploads (one gevent worker", "method"), Table("OT import of a", "method")),
    ),
    "sampler-cost": Block(
        "monitoring",
        (Table("Memory sampler overhead per request", "app"), Table("Cost of one memory reading", "reading")),
    ),
}


class BlockError(ValueError):
    """A block names something the results files do not have; the message says what."""


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens (no duplicate suffix)."""
    text = re.sub(r"[`*]", "", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def headings(markdown: str) -> Iterator[tuple[int, str]]:
    """``(level, text)`` of every heading outside fenced code blocks."""
    in_fence = False
    for line in markdown.splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        match = None if in_fence else HEADING.match(line)
        if match:
            yield len(match.group(1)), match.group(2)


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _label(line: str) -> str:
    return _cells(line)[0].replace("**", "").strip()


def _tables(markdown: str) -> Iterator[tuple[str, list[str]]]:
    """``(nearest heading above, table lines)`` for every table in a results file."""
    heading, table = "", []
    for line in [*markdown.splitlines(), ""]:
        if line.startswith("|"):
            table.append(line)
            continue
        if table:
            yield heading, table
            table = []
        match = HEADING.match(line)
        if match:
            heading = match.group(2)


def _excerpt(markdown: str, spec: Table, source: str) -> tuple[str, list[str]]:
    for heading, lines in _tables(markdown):
        if heading.startswith(spec.section) and len(lines) > 2 and _label(lines[0]) == spec.header:
            body = lines[2:]
            if spec.rows:
                missing = [label for label in spec.rows if label not in {_label(line) for line in body}]
                if missing:
                    raise BlockError(f"{source}, table under {heading!r}: no row {missing[0]!r}")
                body = [line for line in body if _label(line) in spec.rows]
            return heading, [*lines[:2], *body]
    raise BlockError(f"{source}: no table with first column {spec.header!r} under a heading {spec.section!r}...")


def render_block(name: str, document: Path, results_dir: Path = RESULTS_DIR, failed: Iterable[str] = ()) -> str:
    """The text between the markers of block ``name`` in ``document`` (links relative to it)."""
    if name not in BLOCKS:
        raise BlockError(f"{document.name}: unknown block bench:{name} (bench/guides.py BLOCKS)")
    block = BLOCKS[name]
    source = f"bench/results/{block.result}.md"
    path = results_dir / f"{block.result}.md"
    if not path.exists():
        return f"**No result**: {source} does not exist yet (`make bench-{block.result}`).\n"
    markdown = path.read_text()
    title = next((text for level, text in headings(markdown) if level == 2), block.result)
    command = next((line for line in markdown.splitlines() if line.startswith("Command:")), "")
    results_link = Path(os.path.relpath(RESULTS_FILE, document.parent)).as_posix()
    parts = []
    if block.result in set(failed):
        parts.append(f"> **`make bench-{block.result}` FAILED in the last run**: these rows may be stale or partial.")
    parts.append(
        f"*Generated by `make bench-report` from {source}; edit `bench/guides.py`, not these lines.* "
        + (f"{command}. " if command else "")
        + f"All of it: [bench/RESULTS.md, {title}]({results_link}#{anchor(title)})."
    )
    for spec in block.tables:
        heading, lines = _excerpt(markdown, spec, source)
        parts.append(f"*{heading}*\n\n" + "\n".join(lines) if len(block.tables) > 1 else "\n".join(lines))
    return "\n\n".join(parts) + "\n"


def update_text(text: str, document: Path, results_dir: Path = RESULTS_DIR, failed: Iterable[str] = ()) -> str:
    """``text`` with every ``bench:`` block rewritten from the results files."""
    failed = tuple(failed)

    def rewrite(match: re.Match[str]) -> str:
        body = render_block(match.group("name"), document, results_dir, failed)
        return match.group(1) + "\n" + body + "\n" + match.group(4)

    return BLOCK.sub(rewrite, text)


def documents(root: Path = ROOT) -> list[Path]:
    """The hand-written documents: README.md, the guides at the root, docs/*.md."""
    return sorted(path for path in [*root.glob("*.md"), *(root / "docs").glob("*.md")])


def update_documents(
    root: Path = ROOT, results_dir: Path = RESULTS_DIR, failed: Iterable[str] = (), write: bool = True
) -> list[Path]:
    """Rewrite the blocks of every document; return the documents whose text changed (written when ``write``)."""
    failed = tuple(failed)
    changed = []
    for path in documents(root):
        text = path.read_text()
        updated = update_text(text, path, results_dir, failed)
        if updated != text:
            changed.append(path)
            if write:
                path.write_text(updated)
    return changed


def used_blocks(root: Path = ROOT) -> list[str]:
    """Every block name the documents use, once per use."""
    return [match.group("name") for path in documents(root) for match in BLOCK.finditer(path.read_text())]
