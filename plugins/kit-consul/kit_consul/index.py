"""Consul's rules for a blocking query's index, as its API documentation gives them.

A client sends the ``X-Consul-Index`` of its last answer as ``?index=`` and the agent
holds the request until that index moves. The documented client rules: if the index
goes backwards (a snapshot restore, an agent restart) reset it to 0, restarting the
loop; if it is not at least 1 (a bug in some Consul versions) use 1, since index 0
never blocks. Both are signs of trouble, and the watch slows down when it sees them.
"""

from __future__ import annotations

BACKWARDS = "index went backwards"
"""The reason given when an answer's index is lower than the one asked with."""

NOT_POSITIVE = "index is not positive"
"""The reason given when an answer's index is 0, negative or missing."""


def next_index(previous: int, returned: object) -> tuple[int, str | None]:
    """The index for the next query after asking with ``previous`` and getting ``returned``.

    Returns the index and None when the answer's index is sane, or the corrected index
    and the reason (``BACKWARDS`` or ``NOT_POSITIVE``) when it is not.
    """
    try:
        index = int(str(returned))
    except ValueError:
        return 1, NOT_POSITIVE
    if index < 1:
        return 1, NOT_POSITIVE
    if index < previous:
        return 0, BACKWARDS
    return index, None
