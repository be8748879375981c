"""The documents agree with the code, with the benchmark results and with each other.

- Every relative link in README.md, the guides at the root and docs/*.md reaches a file, and a heading
  when it names one; README.md stays a front door that links every other document.
- One variable table: docs/configuration.md, backend/.env.example and backend/config.py name the same
  variables; the defaults the table and .env.example show are config.py's; the table's Railway column
  is what .railway/railway.ts sets; the deploy script sets only variables config.py reads.
- Figures shown inside a document are generated between ``<!-- bench:NAME -->`` markers from
  bench/results/*.md (bench/guides.py): the committed blocks are what the committed results give, and
  the hand-written text around them types no measured figure.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from config import gunicorn_settings, load_config

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import guides  # noqa: E402  (bench/guides.py: standard library only)

DOCUMENTS = guides.documents(ROOT)
GUIDES = ("README.md", "RAILWAY_SETUP.md", "OPTIMIZATIONS_APPLIED.md", "MEMORY_OPTIMIZATION.md")
PAGES = ("configuration", "api", "exports", "uploads", "imports", "monitoring")
README_MAX_LINES = 150
LINK = re.compile(r"\[[^\]]*\]\(([^()\s]+)\)")
INLINE_CODE = re.compile(r"`[^`\n]*`")
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:")
# A number with a decimal point and a unit, as benchmarks print them (2.4x, 111.0 MB, +15.5 µs, 0.66%).
# Integers are not checked: settings and workloads (350 MB, 20 MB uploads) are written that way.
FIGURE = re.compile(r"(?<![\w.])[+-]?\d[\d,]*\.\d+ ?(?:MB/s|rows/s|MiB|MB|GB|KB|ms|µs|s|x|%)(?![\w/])")

CONFIG_SOURCE = (ROOT / "backend" / "config.py").read_text()
# How config.py reads a variable: env.get("NAME" ...) or _int(env, "NAME", ...) and its siblings.
ENV_READ = re.compile(r'\benv(?:\.get\(|,\s*)"([A-Z][A-Z0-9_]*)"')
ENV_EXAMPLE = ROOT / "backend" / ".env.example"
CONFIGURATION = ROOT / "docs" / "configuration.md"
# A PostgreSQL URL so the pool variables are read too (and then SECRET_KEY is required).
POSTGRES = {"DATABASE_URL": "postgresql://nextops@db.invalid/nextops", "SECRET_KEY": "docs-test"}


def without_code_blocks(markdown: str) -> str:
    """The text outside fenced code blocks (a ``# comment`` there is no heading, a ``[x](y)`` no link)."""
    lines, in_fence = [], False
    for line in markdown.splitlines():
        if guides.FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence:
            lines.append(line)
    return "\n".join(lines)


def links(path: Path) -> Iterator[str]:
    for line in without_code_blocks(path.read_text()).splitlines():
        yield from LINK.findall(INLINE_CODE.sub("", line))


def anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of ``path``, with its -1, -2 suffixes for repeated headings."""
    seen: dict[str, int] = {}
    result = set()
    for _, text in guides.headings(path.read_text()):
        slug = guides.anchor(text)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result


def test_the_documents_are_where_readme_says() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in DOCUMENTS}
    expected = {*GUIDES, "docs/README.md", *(f"docs/{page}.md" for page in PAGES)}
    assert expected <= names, f"missing: {sorted(expected - names)}"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_relative_links_resolve(document: Path) -> None:
    problems = []
    for target in links(document):
        if SCHEME.match(target):
            continue  # https:, mailto:
        file_part, _, fragment = target.partition("#")
        resolved = (document.parent / file_part).resolve() if file_part else document
        if not resolved.is_relative_to(ROOT) or not resolved.exists():
            problems.append(f"{target}: no such file in the repository")
        elif fragment and (resolved.suffix != ".md" or fragment not in anchors(resolved)):
            problems.append(f"{target}: no heading #{fragment} in {resolved.relative_to(ROOT)}")
    assert not problems, "\n".join(problems)


def test_readme_is_a_front_door() -> None:
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= README_MAX_LINES, "per-feature text belongs in docs/"
    assert "<!-- section:" not in text
    readme = ROOT / "README.md"
    linked = {(ROOT / target.partition("#")[0]).resolve() for target in links(readme) if not SCHEME.match(target)}
    unlinked = [path.relative_to(ROOT).as_posix() for path in DOCUMENTS if path != readme and path not in linked]
    assert not unlinked, f"README.md does not link {unlinked}"


# One variable table --------------------------------------------------------------------------------


def config_variables() -> set[str]:
    return set(ENV_READ.findall(CONFIG_SOURCE))


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def literal(cell: str) -> str | None:
    """The value of a cell that starts with a code span (`500`, `true`), else None (prose like "unset: …")."""
    match = re.match(r"`([^`]*)`", cell)
    return match.group(1) if match else None


def variable_table() -> dict[str, dict[str, str]]:
    """docs/configuration.md's table under "## Variables": one row per variable."""
    text = CONFIGURATION.read_text()
    section = text[text.index("## Variables") :]
    section = section[: section.find("\n## ", 1)] if "\n## " in section[1:] else section
    rows: dict[str, dict[str, str]] = {}
    table_lines = [line for line in section.splitlines() if line.startswith("|")]
    header = cells(table_lines[0])
    assert header == ["variable", "default", "Railway", "what it does"], header
    for line in table_lines[2:]:
        name_cell, default, railway, what = cells(line)
        match = re.fullmatch(r"`([A-Z][A-Z0-9_]*)`", name_cell)
        assert match, f"one variable per row, written `NAME`: {name_cell!r}"
        assert match.group(1) not in rows, f"{match.group(1)} appears twice"
        rows[match.group(1)] = {"default": default, "railway": railway, "what": what}
    return rows


def env_example() -> dict[str, str]:
    """``NAME=value`` lines of backend/.env.example, commented-out ones included."""
    found = re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$", ENV_EXAMPLE.read_text(), re.M)
    return dict(found)


def railway_ts() -> str:
    return (ROOT / ".railway" / "railway.ts").read_text()


def railway_ts_literals() -> dict[str, str]:
    """The variables railway.ts sets to a string (the database URL is a reference, not a string)."""
    source = railway_ts()
    block = source[source.index("env: {") : source.index("},", source.index("env: {"))]
    return dict(re.findall(r'\b([A-Z][A-Z0-9_]+): "([^"]*)"', block))


def deploy_script_variables() -> dict[str, str]:
    source = (ROOT / "deploy_optimizations.sh").read_text()
    start = source.index("RAILWAY_VARIABLES=(") + len("RAILWAY_VARIABLES=(")
    block = source[start : source.index(")", start)]
    return dict(re.findall(r"^\s*([A-Z][A-Z0-9_]*)=(\S*)$", block, re.M))


class RecordingEnv(Mapping[str, str]):
    """An environment that remembers every name looked up in it."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.read.add(name)
        return self.values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)


def settings(env: Mapping[str, str]) -> tuple[dict[str, object], object]:
    config = load_config(env)
    config.pop("SECRET_KEY")  # random per call when unset
    return config, gunicorn_settings(env)


def test_the_source_scan_sees_every_variable_config_reads() -> None:
    env = RecordingEnv(dict(POSTGRES))
    load_config(env)
    gunicorn_settings(env)
    assert env.read, "load_config/gunicorn_settings read nothing: how does config.py read the environment now?"
    assert env.read <= config_variables(), f"ENV_READ misses {sorted(env.read - config_variables())}"


def test_one_variable_table_names_exactly_what_config_reads() -> None:
    read, table, example = config_variables(), set(variable_table()), set(env_example())
    assert table == read, f"docs/configuration.md: missing {sorted(read - table)}, extra {sorted(table - read)}"
    assert example == read, f"backend/.env.example: missing {sorted(read - example)}, extra {sorted(example - read)}"


def test_documented_defaults_are_the_defaults() -> None:
    defaults = settings(POSTGRES)
    documented = {name: literal(row["default"]) for name, row in variable_table().items()}
    examples = {name: value for name, value in env_example().items() if value}
    problems = []
    for source, values in (("docs/configuration.md", documented), ("backend/.env.example", examples)):
        for name, value in values.items():
            if value is not None and name not in POSTGRES and settings({**POSTGRES, name: value}) != defaults:
                problems.append(f"{source}: {name}={value} is not the default")
    assert not problems, "\n".join(problems)


def test_railway_column_is_what_railway_ts_sets() -> None:
    table = variable_table()
    column = {name: literal(row["railway"]) for name, row in table.items() if row["railway"]}
    references = {name for name, value in column.items() if value and value.startswith("${{")}
    assert {name: value for name, value in column.items() if name not in references} == railway_ts_literals()
    for name in references:
        assert re.search(rf"\b{name}: \w+\.env\.{name}\b", railway_ts()), f"railway.ts does not reference {name}"


def test_deploy_script_sets_only_variables_that_exist() -> None:
    names = set(deploy_script_variables())
    assert names, "RAILWAY_VARIABLES not found in deploy_optimizations.sh"
    assert names <= config_variables(), f"not read by config.py: {sorted(names - config_variables())}"


# Figures --------------------------------------------------------------------------------------------


def failed_benchmarks() -> list[str]:
    return re.findall(r"`make bench-(\w+)` FAILED in this run", guides.RESULTS_FILE.read_text())


def test_generated_figures_are_what_the_committed_results_give() -> None:
    changed = guides.update_documents(ROOT, failed=failed_benchmarks(), write=False)
    assert not changed, f"run `make bench-report`: stale bench blocks in {[p.name for p in changed]}"


def test_every_bench_block_is_defined_and_shown_once() -> None:
    assert sorted(guides.used_blocks(ROOT)) == sorted(guides.BLOCKS)


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_hand_written_text_types_no_measured_figure(document: Path) -> None:
    text = guides.BLOCK.sub("", document.read_text())
    prose = INLINE_CODE.sub("", without_code_blocks(text))
    figures = FIGURE.findall(prose)
    assert not figures, f"link to bench/RESULTS.md or generate a bench block instead of typing {figures}"


def _layout_rows() -> list[tuple[list[str], list[str]]]:
    """(paths of the first column, backticked file names of the second) for each layout table row."""
    text = (ROOT / "README.md").read_text()
    table = text[text.index("## Layout") :].split("\n\n", 2)[1]
    rows = []
    for line in table.splitlines()[2:]:
        first, second = line.strip("|").split("|", 1)
        rows.append((re.findall(r"`([^`]+)`", first), re.findall(r"`([\w./]+\.(?:py|sh|ts|md))`", second)))
    return rows


def test_every_path_in_the_readme_layout_exists() -> None:
    missing = []
    for paths, files in _layout_rows():
        base = ROOT / paths[0]
        for name in paths:
            candidates = [ROOT / name] if "/" in name.rstrip("/") else [base.parent / name, ROOT / name]
            if not any(path.exists() for path in candidates):
                missing.append(name)
        if paths[0].endswith("/"):
            missing += [name for name in files if not any(base.rglob(name)) and not (ROOT / name).exists()]
    assert not missing, f"README's layout names paths that do not exist: {missing}"
