"""Fails at import, as a plugin with a missing dependency would."""

from __future__ import annotations

import kit_example_missing_dependency  # noqa: F401
