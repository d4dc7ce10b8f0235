"""The finding every stage of the linter passes on."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class Location:
    """A position in a file: 1-based row, 1-based column (as ruff reports them)."""

    row: int
    column: int


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding in one file."""

    filename: str
    location: Location
    end_location: Location
    code: str
    name: str
    message: str

    @property
    def sort_key(self) -> tuple[str, Location, str]:
        return (self.filename, self.location, self.code)
