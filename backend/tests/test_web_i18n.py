"""Every message the pages can show is in the Spanish catalog, translated, not fuzzy; the build compiles it."""

from __future__ import annotations

import json
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

BACKEND = Path(__file__).resolve().parents[1]
CATALOG = BACKEND / "app" / "translations" / "es" / "LC_MESSAGES" / "messages.po"


def extracted() -> set[str]:
    """The message ids in the code and templates, read with the same mapping as ``make messages``."""
    with (BACKEND / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    ids = set()
    for _filename, _line, message, _comments, _context in extract_from_dir(str(BACKEND), method_map, options_map):
        ids.add(message[0] if isinstance(message, tuple) else message)
    return ids


def test_every_page_message_is_translated_in_spanish() -> None:
    with CATALOG.open("rb") as handle:
        catalog = read_po(handle, locale="es")
    problems = []
    for msgid in sorted(extracted()):
        entry = catalog.get(msgid)
        if entry is None:
            problems.append(f"missing: {msgid!r} (run make messages, then translate)")
        elif not entry.string or (isinstance(entry.string, tuple) and not all(entry.string)):
            problems.append(f"untranslated: {msgid!r}")
        elif entry.fuzzy:
            problems.append(f"fuzzy: {msgid!r}")
    assert not problems, "\n".join(problems)


def test_extraction_finds_the_pages_messages() -> None:
    """The test above could pass by reading nothing: the extraction must see templates and code both."""
    ids = extracted()
    assert {"Skip to content", "Sign in to NextOps", "In review", "Page not found"} <= ids


def test_placeholders_survive_translation() -> None:
    with CATALOG.open("rb") as handle:
        catalog = read_po(handle, locale="es")
    for entry in catalog:
        if entry.id and "%(" in entry.id:
            names = sorted(part.split(")")[0] for part in entry.id.split("%(")[1:])
            found = sorted(part.split(")")[0] for part in entry.string.split("%(")[1:])
            assert names == found, entry.id


def test_the_catalog_is_compiled_by_make_and_the_deploy_build() -> None:
    makefile = (BACKEND.parent / "Makefile").read_text()
    assert "run: $(VENV)/.runtime translations" in makefile and "test: lint translations" in makefile
    railpack = json.loads((BACKEND / "railpack.json").read_text())
    assert "pybabel compile -d app/translations" in railpack["steps"]["build"]["commands"]
    assert "*.mo" in (BACKEND.parent / ".gitignore").read_text().split()


def test_the_compiled_catalog_is_current() -> None:
    """The pages read the .mo: a stale or missing one shows English to everyone (run ``make translations``)."""
    compiled = CATALOG.with_suffix(".mo")
    assert compiled.exists(), "backend/app/translations/es/LC_MESSAGES/messages.mo is missing: run make translations"
    assert compiled.stat().st_mtime >= CATALOG.stat().st_mtime, "messages.mo is older than its .po: make translations"
