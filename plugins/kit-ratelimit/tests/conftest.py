"""Every test leaves no thread behind (pyrate-limiter's own Limiter would leave a leaker)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def no_leaked_threads(kit_no_leaked_threads: None) -> None:
    """The threads running after a test are those that ran before it (kitcore's fixture)."""
