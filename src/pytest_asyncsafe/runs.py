"""A load run as the session records it: the test, which run of its target, the result,
and the budget held against it; what the summary, the JSON file and the baselines show."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from asyncsafe_lint.untrusted import printable
from pytest_asyncsafe.budget import Budget, Row
from pytest_asyncsafe.verdicts import Verdict, of_rows

if TYPE_CHECKING:
    from pytest_asyncsafe.load import LoadResult


@dataclass
class LoadRun:
    """One load run of a test, as the summary, the JSON file and the baselines see it."""

    test: str
    #: Which run of `target` in the test this is (0 for the first): with the test and the
    #: target, what a baseline knows the run by.
    index: int
    result: LoadResult
    #: The test's budget (its `latency_budget` markers), if any.
    budget: Budget | None = None
    #: Whether the budget was held against the run (under --asyncsafe, on a valid run).
    enforced: bool = False
    rows: list[Row] = field(default_factory=list)

    @property
    def target(self) -> str:
        return self.result.target

    @property
    def shape(self) -> str:
        return self.result.shape.describe()

    @property
    def key(self) -> str:
        return run_key(self.test, self.target, self.index)

    @property
    def numbered(self) -> str:
        """The target, and `#2` for its second run in the test."""
        return self.target + (f" #{self.index + 1}" if self.index else "")

    @property
    def label(self) -> str:
        """`test GET /items` (`#2`...), as reports print it."""
        return printable(f"{self.test} {self.numbered}")

    @property
    def verdict(self) -> Verdict:
        if self.result.invalid is not None:
            return Verdict.INVALID
        if not self.enforced:
            return Verdict.NOT_HELD
        return of_rows([row.passed for row in self.rows])


def run_key(test: str, target: str, index: int) -> str:
    return f"{test} {target} #{index}"
