"""The repository carries its own specification: no tracked file may point a reader at a document outside
the repository, and every pointer into `docs/` must land on a file, a numbered section and an anchor that
exist. Cited sections look like `docs/contract.md §5.3` (or `section 5`); links inside Markdown files are
checked relative to the file that holds them."""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Directories that are never part of the repository's text (tools, caches, local data).
_UNTRACKED_DIRS = {
    ".git",
    ".venv",
    "node_modules",
    ".data",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
}

# Documents that lived beside the project while it was written, never inside it. The names are split so
# that this file does not match its own patterns (a plain grep for them must find nothing).
OUTSIDE_REFERENCES: dict[str, re.Pattern[str]] = {
    "the original contract": re.compile("CONT" r"RACT(\.md|\s*§|\s+section)"),
    "the original architecture": re.compile("ARCHI" r"TECTURE\.md"),
    "the original style notes": re.compile("ST" r"YLE\.md"),
    "the folder beside the project": re.compile(r"(?<![\w.-])" "sha" r"red/"),
    "the seed's write-up": re.compile("seed" r" document|seed-" "behaviour", re.IGNORECASE),
    "the outside Backpack notes": re.compile("protocol" r" note", re.IGNORECASE),
    "the outside settings notes": re.compile("notes/common"),
    "the Backpack page outside docs/": re.compile(r"(?<!docs/)(?<![\w-])" "backpack-" r"protocol\.md"),
}

# `docs/<path>` as text anywhere (not `/docs` the Swagger route, not a host name such as docs.example.org),
# optionally followed by a cited section, a range, or a list of sections.
_DOCS_PATH = re.compile(r"(?<![\w/.:-])docs/([\w./-]*[\w-])")
_SECTION_AFTER = re.compile(r"\s*(?:§|section\s+)(\d+(?:\.\d+)*)(?:\s*-\s*§?(\d+(?:\.\d+)*))?")
_MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.MULTILINE)
_NUMBERED_HEADING = re.compile(r"^#{2,6}\s+(\d+(?:\.\d+)*)\.?\s", re.MULTILINE)


def _tracked_files() -> list[Path]:
    """The files git tracks, or (outside a git checkout, e.g. an exported tree) every file but tool dirs."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return sorted(
            path
            for path in ROOT.rglob("*")
            if path.is_file() and not _UNTRACKED_DIRS & set(path.relative_to(ROOT).parts)
        )
    # this file names the outside documents to look for (the formatter joins the split names back together)
    this_file = Path(__file__).resolve()
    return [
        ROOT / name
        for name in listed.decode().split("\0")
        if name and (ROOT / name).is_file() and (ROOT / name).resolve() != this_file
    ]


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None  # binary files hold no references


@cache
def _sections(doc: Path) -> frozenset[str]:
    return frozenset(_NUMBERED_HEADING.findall(doc.read_text(encoding="utf-8")))


@cache
def _anchors(doc: Path) -> frozenset[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"```.*?```", "", doc.read_text(encoding="utf-8"), flags=re.DOTALL)
    return frozenset(re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in _HEADING.findall(text))


# Inside docs/ the Backpack page is a sibling, linked by its bare name (and checked as a link).
_SIBLING_NAMES = {"the Backpack page outside docs/"}


def outside_references(text: str, *, in_docs: bool = False) -> list[str]:
    found = []
    for what, pattern in OUTSIDE_REFERENCES.items():
        if in_docs and what in _SIBLING_NAMES:
            continue
        found += [f"{what}: {match.group(0)!r}" for match in pattern.finditer(text)]
    return found


def broken_docs_paths(text: str, root: Path = ROOT) -> list[str]:
    """Every `docs/...` path in `text` that names a missing file, or cites a section its file lacks."""
    broken = []
    for match in _DOCS_PATH.finditer(text):
        relative = match.group(1).rstrip(".")
        target = root / "docs" / relative
        if not target.exists():
            broken.append(f"docs/{relative} does not exist")
            continue
        cited = _SECTION_AFTER.match(text, match.end())
        if cited and target.suffix == ".md":
            for number in filter(None, cited.groups()):
                if number.rstrip(".") not in _sections(target):
                    broken.append(f"docs/{relative} has no section {number}")
    return broken


def broken_markdown_links(path: Path, text: str) -> list[str]:
    """Relative links of a Markdown file that lead nowhere (missing file or missing heading anchor)."""
    broken = []
    for target in _MARKDOWN_LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        name, _, anchor = target.partition("#")
        linked = (path.parent / name).resolve() if name else path
        if not linked.exists():
            broken.append(f"link to {target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(f"link to {target}: no such heading")
    return broken


def test_no_tracked_file_refers_to_a_document_outside_the_repository() -> None:
    problems = []
    for path in _tracked_files():
        text = _text(path)
        if text is None:
            continue
        in_docs = path.parent == ROOT / "docs"
        problems += [f"{path.relative_to(ROOT)}: {problem}" for problem in outside_references(text, in_docs=in_docs)]
    assert not problems, "references to documents outside the repository:\n" + "\n".join(problems)


def test_every_docs_reference_names_an_existing_file_and_section() -> None:
    problems = []
    for path in _tracked_files():
        text = _text(path)
        if text is None:
            continue
        problems += [f"{path.relative_to(ROOT)}: {problem}" for problem in broken_docs_paths(text)]
        if path.suffix == ".md":
            problems += [f"{path.relative_to(ROOT)}: {problem}" for problem in broken_markdown_links(path, text)]
    assert not problems, "broken references into docs/:\n" + "\n".join(problems)


def test_the_readme_links_the_documentation() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for doc in ("contract.md", "architecture.md", "backpack-protocol.md", "glossary.md", "decisions/"):
        assert f"](docs/{doc}" in readme, f"README.md does not link docs/{doc}"


# ---- the checks themselves catch what they are for ------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "see CONTRACT.md §3",
        "(CONTRACT §4)",
        "CONTRACT.md section 1",
        "the arrows of ARCHITECTURE.md",
        "`shared/reference/x.md`",
        "the seed document's quote",
        "(reference/seed-behaviour.md §6)",
        "(protocol note §1.4)",
        "names as in notes/common.md",
        "`backpack-protocol.md`",
    ],
)
def test_outside_references_are_found(text: str) -> None:
    assert outside_references(text)


@pytest.mark.parametrize(
    "text",
    [
        "see docs/contract.md §3",
        "the seed's BTC quote",
        "docs/backpack-protocol.md §3",
        "/docs (Swagger UI)",
        "https://docs.backpack.exchange",
        "the contract's scaled integers",
        "a shared mechanism",
    ],
)
def test_references_inside_the_repository_pass(text: str) -> None:
    assert not outside_references(text)
    assert not broken_docs_paths(text)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        # split literals, so that this file itself holds no broken reference
        ("see docs/nowhere.md", "docs/nowhere.md does not exist"),
        ("(docs/contract.md §99)", "docs/contract.md has no section 99"),
        ("docs/contract.md §1-42", "docs/contract.md has no section 42"),
        ("docs/architecture.md section 3.99", "docs/architecture.md has no section 3.99"),
    ],
)
def test_broken_docs_references_are_found(text: str, problem: str) -> None:
    assert broken_docs_paths(text) == [problem]


def test_broken_markdown_links_are_found() -> None:
    readme = ROOT / "README.md"
    assert broken_markdown_links(readme, "[x](docs/missing.md)") == ["link to docs/missing.md: no such file"]
    assert broken_markdown_links(readme, "[x](docs/contract.md#no-such-heading)") == [
        "link to docs/contract.md#no-such-heading: no such heading"
    ]
    assert not broken_markdown_links(readme, "[x](docs/contract.md#1-units) [y](https://example.com/z)")
