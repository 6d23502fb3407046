"""Headless Chromium for tests that look at pages as a reader would: DOM and screenshots."""

from __future__ import annotations

import struct
import subprocess
import zlib
from pathlib import Path

from kitcore.testing.services import binary

SHOTS = Path(__file__).resolve().parent.parent / "build" / "screenshots"
"""Where screenshots are kept after the run, for a person to look at."""

_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
    "--virtual-time-budget=10000",
)


def dom(url: str, profile: Path) -> str:
    """The page's DOM once loaded and its scripts ran (skips or fails without Chromium)."""
    return _run(profile, "--dump-dom", url).stdout.decode("utf-8", "replace")


def screenshot(url: str, name: str, profile: Path) -> Path:
    """A 1280x900 screenshot of ``url`` kept as ``SHOTS/name.png``, checked not blank."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / f"{name}.png"
    shot.unlink(missing_ok=True)
    _run(profile, f"--screenshot={shot}", url)
    width, height, pixels = png_pixels(shot.read_bytes())
    assert (width, height) == (1280, 900)
    # A blank or failed render is one or two colours; a page of text has many shades.
    assert len(set(pixels)) > 32, f"{shot} looks blank"
    print(f"screenshot of {url}: {shot}")
    return shot


def _run(profile: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    chromium = binary("chromium", "/usr/bin/chromium")
    command = [chromium, *_FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, timeout=120, check=False)


def png_pixels(png: bytes) -> tuple[int, int, bytes]:
    """Width, height and the inflated image data of a PNG."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", png[16:24])
    data, pos = b"", 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        if png[pos + 4 : pos + 8] == b"IDAT":
            data += png[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return width, height, zlib.decompress(data)
