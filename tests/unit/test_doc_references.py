"""The project explains itself: every `*.md` named in code or docs is in the repository.

A maintainer who clones Jejak must find every page a comment, a docstring or a doc points
at. A name is looked up beside the file that names it, then from the repository root, then
under docs/ (how the docs link to each other).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MD_NAME = re.compile(r"(?<![\w/.-])((?:\.\./|[\w-]+/)*[\w.-]+\.md)\b")
# Text files that may name a page; translations and generated files are left out.
SUFFIXES = {".py", ".md", ".html", ".js", ".css", ".yml", ".yaml", ".toml", ".cfg", ".ini",
            ".txt", ".service", ".conf", ".example", ".sh"}
NAMES = {"Makefile", "Dockerfile", "run"}


def _project_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()
    return [ROOT / name for name in listed
            if (Path(name).suffix in SUFFIXES or Path(name).name in NAMES)
            and (ROOT / name).is_file()]


def _resolves(name: str, source: Path) -> bool:
    return any((base / name).is_file() for base in (source.parent, ROOT, ROOT / "docs"))


def test_every_markdown_page_named_in_code_or_docs_exists_in_the_repository() -> None:
    dead = [
        f"{path.relative_to(ROOT)}:{number}: {name}"
        for path in _project_files()
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace")
                                      .splitlines(), start=1)
        for name in MD_NAME.findall(line)
        if not _resolves(name, path)
    ]
    assert not dead, "pages named but not in the repository:\n" + "\n".join(dead)


def test_a_page_outside_the_repository_is_reported() -> None:
    # The check itself must be able to fail: a name that exists nowhere in the tree (built
    # here so that this file does not name it).
    outside = "DESIGN" + ".md"
    assert MD_NAME.findall(f"see {outside} §1") == [outside]
    assert not _resolves(outside, ROOT / "shared" / "models.py")
    assert _resolves("architecture.md", ROOT / "docs" / "security.md")
