"""The finding every stage of the linter passes on."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum


@dataclass(frozen=True, slots=True, order=True)
class Location:
    """A position in a file: 1-based row, 1-based column (as ruff reports them)."""

    row: int
    column: int


class Applicability(StrEnum):
    """Whether a fix keeps the code's meaning (`safe`) or may change it (`unsafe`), as in ruff."""

    SAFE = "safe"
    UNSAFE = "unsafe"


@dataclass(frozen=True, slots=True, order=True)
class Edit:
    """Replace the text from `location` up to `end_location` (exclusive) with `content`;
    an insertion when the two are equal."""

    location: Location
    end_location: Location
    content: str


@dataclass(frozen=True, slots=True)
class Fix:
    """The edits that resolve one finding, applied all together or not at all."""

    message: str
    #: Sorted by position, none overlapping another.
    edits: tuple[Edit, ...]
    applicability: Applicability

    def applies(self, unsafe: bool) -> bool:
        """True when the fix is applied: safe fixes always, unsafe ones when asked for."""
        return unsafe or self.applicability is Applicability.SAFE


@dataclass(frozen=True, slots=True)
class Place:
    """Where a finding's code runs, as its message says it: the async function it is in
    (its qualified name in the module) and that function's role (`in async route GET
    /items`).  A file on its own shows only the roles it registers itself; the project
    pass tells the rest (see `Diagnostic.placed`)."""

    function: str
    where: str
    #: The message is `before + where + after`.
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding in one file."""

    filename: str
    location: Location
    end_location: Location
    code: str
    name: str
    message: str
    fix: Fix | None = None
    #: Not part of what the finding is: its message already says it.
    place: Place | None = field(default=None, compare=False)

    def placed(self, where: str) -> Diagnostic:
        """The same finding in a function whose role is `where`."""
        if self.place is None or self.place.where == where:
            return self
        place = replace(self.place, where=where)
        return replace(self, message=place.before + where + place.after, place=place)

    def fixable(self, unsafe: bool) -> bool:
        """True when the finding has a fix that applies (see `Fix.applies`)."""
        return self.fix is not None and self.fix.applies(unsafe)

    @property
    def sort_key(self) -> tuple[str, Location, str]:
        return (self.filename, self.location, self.code)
