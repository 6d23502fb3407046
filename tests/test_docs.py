"""The documentation site builds with --strict, covers every plugin and example, and renders.

The site (mkdocs.yml, docs/) is built as CI builds it; its pages are then opened in a
real headless Chromium, served over HTTP on loopback, and screenshotted into
``build/screenshots/`` so a person can look at what a reader sees.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kitcore import errors
from tests import chromium

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["", "concepts/errors/", "tutorial/stringsvc1/", "reference/lb/", "plugins/kit-http/"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_every_plugin_and_example_has_a_page(site: Path) -> None:
    readmes = [*ROOT.glob("plugins/kit-*/README.md"), *ROOT.glob("examples/*/README.md")]
    assert len(readmes) >= 10
    for readme in readmes:
        page = site / readme.parent.parent.name / readme.parent.name / "index.html"
        assert page.exists(), f"no page for {readme.relative_to(ROOT)}"
        first_heading = re.search(r"^# (.+)$", readme.read_text(), re.M)
        assert first_heading and first_heading.group(1).strip("` ") in page.read_text()


def test_the_error_table_matches_kitcore_errors() -> None:
    rows = re.findall(
        r"^\| `(\w+)` \| `(\w+)` \| (\d+) \| (\d+) \| (yes|no) \|$",
        (ROOT / "docs" / "concepts" / "errors.md").read_text(),
        re.M,
    )
    kinds = {
        c.__name__: c
        for c in vars(errors).values()
        if isinstance(c, type) and issubclass(c, errors.KitError) and c is not errors.KitError
    }
    assert sorted(name for name, *_ in rows) == sorted(kinds)
    for name, code, status, grpc, fault in rows:
        kind = kinds[name]
        assert (kind.code, kind.http_status, kind.grpc_code, kind.caller_fault) == (
            code,
            int(status),
            int(grpc),
            fault == "yes",
        ), name


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.parametrize("page", PAGES)
def test_the_page_renders_in_chromium(served: str, page: str, tmp_path: Path) -> None:
    url = served + page
    html = chromium.dom(url, tmp_path / "dom")
    assert 'class="md-header' in html, f"{url}: Material's header did not render"
    assert re.search(r"<h1[^>]*>", html), f"{url}: no heading"
    assert "Traceback" not in html and "Error 404" not in html
    chromium.screenshot(
        url, f"docs-{page.strip('/').replace('/', '-') or 'index'}", tmp_path / "shot"
    )
