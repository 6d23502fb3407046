"""The business logic: StringService, knowing nothing about transports."""

from __future__ import annotations

from kitcore import InvalidArgument


class EmptyString(InvalidArgument):
    """The tutorial's ``ErrEmpty``: the input string is empty."""

    def __init__(self) -> None:
        super().__init__("Empty string")


class StringService:
    """Operations on strings."""

    async def uppercase(self, s: str) -> str:
        """Return ``s`` in upper case; an empty string is an error."""
        if s == "":
            raise EmptyString()
        return s.upper()

    async def count(self, s: str) -> int:
        """Return the number of characters in ``s``."""
        return len(s)
