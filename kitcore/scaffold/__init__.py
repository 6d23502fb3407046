"""``kit new plugin``: write a complete plugin distribution, ready to install and test.

The templates (package data under ``kitcore/scaffold/templates``) give each kind of
plugin a working in-memory backend, its hook implementation, a README, and tests that
run the matching conformance suite of :mod:`kitcore.testing`; an author replaces the
in-memory part with the real backend, and the tests say whether it still keeps the
contract. Templates are ``string.Template`` text: ``$name``, ``$package``, ...
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from string import Template

KINDS: dict[str, str] = {
    "transport": "kit_register_transports",
    "discovery": "kit_register_discovery",
    "metrics": "kit_register_metrics",
    "tracing": "kit_register_tracing",
    "breaker": "kit_register_breakers",
    "limiter": "kit_register_limiters",
    "command": "kit_register_commands",
}
"""The kinds ``kit new plugin --kind`` writes, and the hook each implements."""

_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")

# Where each template file of a kind goes in the distribution; "common" ones first.
_LAYOUT = {
    "pyproject.toml": "pyproject.toml",
    "README.md": "README.md",
    "init.py": "$package/__init__.py",
    "py.typed": "$package/py.typed",
    "plugin.py": "$package/plugin.py",
    "backend.py": "$package/backend.py",
    "test_plugin.py": "tests/test_plugin.py",
    "test_backend.py": "tests/test_backend.py",
}


def plugin_names(name: str) -> dict[str, str]:
    """The names a plugin called ``name`` goes by: backend, distribution, package, class."""
    bare = name.removeprefix("kit-")
    if not _NAME.fullmatch(bare):
        raise ValueError(
            f"plugin name {name!r} must be lower-case letters and digits, words joined by "
            "'-', starting with a letter (e.g. 'myregistry' or 'kit-my-registry')"
        )
    return {
        "name": bare,
        "dist": f"kit-{bare}",
        "package": f"kit_{bare.replace('-', '_')}",
        "Class": "".join(part.capitalize() for part in bare.split("-")),
    }


def new_plugin(name: str, kind: str, parent: Path) -> Path:
    """Write the distribution ``kit-NAME`` of ``kind`` into ``parent``; return its directory.

    Raises ValueError for an unknown kind or a bad name, FileExistsError when the
    directory exists (nothing is overwritten).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown plugin kind {kind!r}; one of: {', '.join(KINDS)}")
    names = {**plugin_names(name), "kind": kind, "hook": KINDS[kind]}
    root = parent / names["dist"]
    if root.exists():
        raise FileExistsError(f"{root} exists already")
    templates = resources.files(__name__) / "templates"
    files: dict[str, str] = {}
    for source in ("common", kind):
        for entry in (templates / source).iterdir():
            if entry.name.endswith(".tmpl"):
                files[entry.name.removesuffix(".tmpl")] = entry.read_text(encoding="utf-8")
    # The kind's usage section goes into the common README.
    names["usage"] = Template(files.pop("usage.md")).substitute(names).strip()
    for template, text in files.items():
        target = root / Template(_LAYOUT[template]).substitute(names)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(Template(text).substitute(names), encoding="utf-8")
    return root


__all__ = ["KINDS", "new_plugin", "plugin_names"]
