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


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """Where a node is, as `ast` places it: parentheses around it are not in it."""

    start: Location
    end: Location

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end


class Action(StrEnum):
    """What a change does to its node."""

    #: Add the import statement `code` (`import asyncio`) after the docstring and the
    #: imports the module opens with; made once however many fixes ask for it.
    ADD_IMPORT = "add-import"
    #: The expression becomes `code` (`None` becomes `10`).
    REPLACE_EXPRESSION = "replace-expression"
    #: `time.sleep(1)` -> `await asyncio.sleep(1)`: the call calls `code` instead, with
    #: the same arguments, and is awaited.
    AWAIT_INSTEAD = "await-instead"
    #: `requests.get(url)` -> `await run_in_threadpool(requests.get, url)`: the call runs
    #: in a worker thread through the runner `code`; with `detail`, a `functools.partial`
    #: binds its arguments first, for a runner that passes no keyword arguments on
    #: (`await anyio.to_thread.run_sync(functools.partial(requests.get, url, timeout=5))`).
    HAND_OFF = "hand-off"
    #: Pass `code` (`timeout=10`) last to the call, in its layout: on a line of its own
    #: when its arguments are one per line.
    ADD_ARGUMENT = "add-argument"
    #: Remove the call's keyword argument `detail`, with its comma; a comment on its line stays.
    REMOVE_ARGUMENT = "remove-argument"
    #: The call's keyword argument `detail` becomes `code` (`lifespan=lifespan`).
    REPLACE_ARGUMENT = "replace-argument"
    #: Remove the statement, alone on its lines; the comment after it stays, on a line of its own.
    REMOVE_STATEMENT = "remove-statement"
    #: Remove the decorator (its span is the expression after `@`); its comment stays.
    REMOVE_DECORATOR = "remove-decorator"
    #: Insert the statements `code` above the module-level statement and the blank and
    #: comment lines that lead to it, two blank lines below what is above them and, unless
    #: those lines begin with blank lines, two above them.
    INSERT_BEFORE = "insert-before"
    #: The `async def` becomes a `def`.
    MAKE_SYNC = "make-sync"


#: The actions that put a node inside another (an `await`, a thread hand-off) or change
#: what may be written in it: made after the other fixes of the node, in a later pass.
WRAPPING = frozenset({Action.AWAIT_INSTEAD, Action.HAND_OFF, Action.MAKE_SYNC})


@dataclass(frozen=True, slots=True)
class Change:
    """One change to one node."""

    action: Action
    #: The node; None for an import.
    span: Span | None
    code: str = ""
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Fix:
    """The changes that resolve one finding, made all together or not at all."""

    message: str
    changes: tuple[Change, ...]
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
