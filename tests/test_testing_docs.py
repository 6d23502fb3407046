"""What the docs say of ``kitcore.testing`` is what it does.

The suites are importable from ``kitcore.testing`` itself, every suite the README names
is there, and the example in ``kitcore.testing.sd``'s docstring runs as written.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import kitcore.testing
import kitcore.testing.sd

ROOT = Path(__file__).resolve().parent.parent


def test_every_exported_name_imports_from_the_package() -> None:
    for name in kitcore.testing.__all__:
        assert getattr(kitcore.testing, name).__doc__, name
    from kitcore.testing import check_instancer, check_registrar

    assert check_instancer is kitcore.testing.sd.check_instancer
    assert check_registrar is kitcore.testing.sd.check_registrar


def test_the_suites_the_readme_names_are_exported() -> None:
    named = set(re.findall(r"`(check_\w+)`", (ROOT / "README.md").read_text()))
    assert named, "the README names no suite"
    assert named <= set(kitcore.testing.__all__), named - set(kitcore.testing.__all__)


def _literal_block(doc: str) -> str:
    after = doc.split("::\n", 1)[1]
    lines = []
    for line in after.splitlines()[1:]:
        if line and not line.startswith("    "):
            break
        lines.append(line)
    return textwrap.dedent("\n".join(lines))


async def test_the_sd_docstring_example_runs() -> None:
    assert kitcore.testing.sd.__doc__
    namespace: dict[str, Any] = {}
    exec(_literal_block(kitcore.testing.sd.__doc__), namespace)
    await namespace["test_instancer"]()
    await namespace["test_registrar"]()
