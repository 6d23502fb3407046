"""The documentation site builds with --strict, covers every plugin and example, and renders.

The site (mkdocs.yml, docs/) is built as CI builds it; its pages are then opened in a
real headless Chromium, served over HTTP on loopback, and screenshotted into
``build/docs-screenshots/`` so a person can look at what a reader sees.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import struct
import subprocess
import sys
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from kitcore import errors
from kitcore.testing.services import binary

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "build" / "docs-screenshots"
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


def _chromium(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--window-size=1280,900",
            *args,
        ],
        capture_output=True,
        timeout=120,
    )


def _png_pixels(png: bytes) -> tuple[int, int, bytes]:
    """Width, height and the inflated image data of a PNG."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", png[16:24])
    data, pos = b"", 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        if kind == b"IDAT":
            data += png[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return width, height, zlib.decompress(data)


@pytest.mark.parametrize("page", PAGES)
def test_the_page_renders_in_chromium(served: str, page: str, tmp_path: Path) -> None:
    chromium = binary("chromium", "/usr/bin/chromium")
    url = served + page
    dom = _chromium(chromium, tmp_path / "dom", "--dump-dom", url)
    html = dom.stdout.decode("utf-8", "replace")
    assert 'class="md-header' in html, f"{url}: Material's header did not render"
    assert re.search(r"<h1[^>]*>", html), f"{url}: no heading"
    assert "Traceback" not in html and "Error 404" not in html

    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / f"{page.strip('/').replace('/', '-') or 'index'}.png"
    shot.unlink(missing_ok=True)
    _chromium(chromium, tmp_path / "shot", f"--screenshot={shot}", url)
    width, height, pixels = _png_pixels(shot.read_bytes())
    assert (width, height) == (1280, 900)
    # A blank or failed render is one or two colours; a page of text has many shades.
    assert len(set(pixels)) > 32, f"{shot} looks blank"
    print(f"screenshot of {url}: {shot}")
