"""MkDocs hooks: one page per plugin and per example, made from its README.

The READMEs are the one place each plugin and example is described; the site shows them
as they are, with links between READMEs turned into links between pages, so the site
cannot drift from them and a new plugin appears without touching mkdocs.yml.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = {"Plugins": ("plugins", "kit-*"), "Examples": ("examples", "*")}
_LINK = re.compile(r"\[([^\]]*)\]\((?!https?:|mailto:|#)([^)#\s]+)(#[^)\s]*)?\)")


def readmes(folder: str, pattern: str) -> list[Path]:
    """The READMEs of ``folder``'s children matching ``pattern``, sorted."""
    return sorted(p for p in (ROOT / folder).glob(f"{pattern}/README.md"))


def page_of(readme: Path) -> str:
    """The site page made from ``readme``: ``plugins/kit-http.md``, ``examples/addsvc.md``."""
    return f"{readme.parent.parent.name}/{readme.parent.name}.md"


def on_config(config: Any) -> Any:
    for entry in config["nav"]:
        for title, (folder, pattern) in SECTIONS.items():
            if isinstance(entry, dict) and title in entry:
                entry[title] = [{r.parent.name: page_of(r)} for r in readmes(folder, pattern)]
    return config


def on_files(files: Files, config: Any) -> Files:
    for folder, pattern in SECTIONS.values():
        for readme in readmes(folder, pattern):
            text = rewrite_links(readme.read_text(), readme)
            files.append(File.generated(config, page_of(readme), content=text))
    return files


def rewrite_links(text: str, readme: Path) -> str:
    """Point links to other READMEs at their pages (the repository's README is Home); a
    link to any other file of the repository becomes its path in code, as the site does
    not serve source files."""

    def page(match: re.Match[str]) -> str:
        label, path, anchor = match.group(1), match.group(2), match.group(3) or ""
        target = (readme.parent / path).resolve()
        if target == ROOT / "README.md":
            return f"[{label}](../index.md{anchor})"
        if target.name == "README.md" and target.parent.parent.parent == ROOT and target.exists():
            return f"[{label}](../{page_of(target)}{anchor})"
        return f"{label} (`{target.relative_to(ROOT)}`)" if target.is_relative_to(ROOT) else label

    return _LINK.sub(page, text)
