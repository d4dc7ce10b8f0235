"""Applying fixes: the edits of a file's findings, to a fixpoint, never leaving a file
that does not parse.

One pass makes every applicable fix that does not change a node a fix chosen before it
changes (a change several fixes share, such as an added import, is made once), as one
libcst transformation (`codemod`); the file is then checked again and the next pass
makes what the first had to skip or what the changed code now allows, until nothing
changes.
"""

from __future__ import annotations

import difflib
import traceback
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from asyncsafe_lint.checker import LintResult, check_paths
from asyncsafe_lint.codemod import NotRewritten, transform
from asyncsafe_lint.config import Settings
from asyncsafe_lint.diagnostics import WRAPPING, Change, Diagnostic, Fix, Location, Span
from asyncsafe_lint.downlevel import downlevel
from asyncsafe_lint.engine import check_source
from asyncsafe_lint.modules import Layout
from asyncsafe_lint.names import Imported
from asyncsafe_lint.rule import Rule
from asyncsafe_lint.rules import CALL_CHAINS
from asyncsafe_lint.source import encoding_of, lines_with_ends

#: More passes than any file needs; a bound so that fixes that undo each other still end.
MAX_PASSES = 10


@dataclass
class FixedFile:
    path: Path
    #: What the file decodes with, and the fixed text is written in.
    encoding: str
    original: str
    text: str
    #: How many findings of each rule the fixes resolved.
    fixed: Counter[str]
    #: The findings in `text`.
    diagnostics: list[Diagnostic]
    #: Why fixes were found but not applied (the result would not parse).
    error: str | None = None

    @property
    def changed(self) -> bool:
        return self.text != self.original

    def diff(self, shown_as: str) -> str:
        """A unified diff of the change, with the file shown as `shown_as`."""
        lines = difflib.unified_diff(
            _lines_with_ends(self.original), _lines_with_ends(self.text), fromfile=shown_as, tofile=shown_as
        )
        return "".join(lines)


@dataclass
class FixResult:
    #: Every file a fix applied to, or was meant to.
    files: list[FixedFile] = field(default_factory=list)
    #: The findings that remain once the fixes are in.  When they are not written, a
    #: fixed file's findings come from checking it alone: without those that need the
    #: other files (ASF110, from the project pass).
    remaining: LintResult = field(default_factory=LintResult)

    @property
    def fixed(self) -> int:
        return sum(sum(file.fixed.values()) for file in self.files)


def apply_fixes(text: str, diagnostics: Sequence[Diagnostic], unsafe: bool) -> tuple[str, Counter[str]]:
    """`text` with the applicable fixes of `diagnostics` made, skipping a fix that changes
    a node a fix chosen before it changes; and how many fixes of each rule were made.
    A fix that wraps its node (`WRAPPING`) comes after the others of that node: the
    next pass makes it, on the node as they left it."""
    fixes = sorted(
        ((d.fix, d.code) for d in diagnostics if d.fix is not None and d.fix.changes and d.fixable(unsafe)),
        key=lambda item: (_wraps(item[0]), _first_span(item[0]), item[1]),
    )
    chosen: dict[Change, None] = {}
    fixed: Counter[str] = Counter()
    for fix, code in fixes:
        new = [change for change in fix.changes if change not in chosen]
        spans = [change.span for change in chosen if change.span is not None]
        if any(change.span is not None and change.span.overlaps(span) for change in new for span in spans):
            continue
        chosen.update(dict.fromkeys(new))
        fixed[code] += 1
    if not chosen:
        return text, fixed
    return transform(text, list(chosen)), fixed


def _wraps(fix: Fix) -> bool:
    return any(change.action in WRAPPING for change in fix.changes)


def _first_span(fix: Fix) -> Span:
    return min((change.span for change in fix.changes if change.span is not None), default=_TOP)


_TOP = Span(Location(0, 0), Location(0, 0))


def fix_file(
    path: Path,
    settings: Settings,
    unsafe: bool,
    imported: Imported | None = None,
    project: Sequence[Diagnostic] = (),
) -> FixedFile:
    """Fix one file in memory, pass after pass, until no fix changes it; `imported`: what
    the names it imports from the project's other modules stand for; `project`: the
    findings the project pass made in it (see `fix_text`)."""
    source = path.read_bytes()
    encoding = encoding_of(source)
    original = source.decode(encoding)
    rules = settings.rules_for(path.absolute())
    # The module it is in the project, as `check_paths` names it: a name it calls may be
    # its own name only in a project of its own (`helpers.slow()` in `pkg/helpers.py`).
    module = Layout().module_name(path)
    return fix_text(original, str(path), encoding, settings, rules, unsafe, module, imported, project)


def fix_text(
    original: str,
    filename: str,
    encoding: str,
    settings: Settings,
    rules: Sequence[type[Rule]],
    unsafe: bool,
    module: str | None = None,
    imported: Imported | None = None,
    project: Sequence[Diagnostic] = (),
) -> FixedFile:
    """`original` fixed pass after pass, until no fix changes it.  `project`: the findings
    the project pass made in the file, the call chains through other modules that
    checking it alone does not see; the first pass makes their fixes too."""
    text, fixed = original, Counter[str]()
    diagnostics = check_source(original.encode(encoding), filename, settings, rules, module, imported, project)
    first = diagnostics
    for _ in range(MAX_PASSES):
        try:
            changed, applied = apply_fixes(text, diagnostics, unsafe)
        except NotRewritten as error:
            why = f"its fixes could not be made ({error}), so it was left unchanged"
            return FixedFile(Path(filename), encoding, original, original, Counter(), first, why)
        if changed == text:
            break
        if not _compiles(changed, filename):
            codes = ", ".join(sorted(applied))
            why = f"the fixes for {codes} would leave the file unparsable, so it was left unchanged"
            return FixedFile(Path(filename), encoding, original, original, Counter(), first, why)
        text, fixed = changed, fixed + applied
        diagnostics = check_source(text.encode(encoding), filename, settings, rules, module, imported)
    return FixedFile(Path(filename), encoding, original, text, fixed, diagnostics)


def fix_paths(paths: Sequence[Path | str], settings: Settings, unsafe: bool, write: bool) -> FixResult:
    """Fix the files under `paths` that have applicable fixes; with `write`, save them and
    check everything again for what remains."""
    before = check_paths(paths, settings)
    # A call chain's fix is worked out here, not by the check (see `FactsCollector`).
    targets = sorted(
        {d.filename for d in before.diagnostics if d.fixable(unsafe) or (unsafe and d.code == CALL_CHAINS.code)}
    )
    result = FixResult(remaining=LintResult(crashes=dict(before.crashes), files_checked=before.files_checked))
    for filename in targets:
        project = [d for d in before.project.diagnostics if d.filename == filename]
        try:
            result.files.append(
                fix_file(Path(filename), settings, unsafe, before.project.imported.get(filename), project)
            )
        except Exception:  # noqa: BLE001 - a linter bug on one file must not stop the others' fixes
            result.remaining.crashes[filename] = traceback.format_exc()
    changed = [file for file in result.files if file.changed]
    if write and changed:
        for file in changed:
            file.path.write_bytes(file.text.encode(file.encoding))
        after = check_paths(paths, settings)
        after.crashes.update(result.remaining.crashes)
        result.remaining = after
        return result
    fixed_names = {str(file.path) for file in changed}
    kept = [d for d in before.diagnostics if d.filename not in fixed_names]
    # A file checked alone knows only its own roles (and the types the project pass gave
    # its imported names): where its functions run is as before.
    fixed_diagnostics = before.project.place(d for file in changed for d in file.diagnostics)
    result.remaining.diagnostics = sorted([*kept, *fixed_diagnostics], key=lambda d: d.sort_key)
    return result


def _compiles(text: str, filename: str) -> bool:
    """True when CPython compiles `text`: more than parsing, it also rejects an `await`
    outside an async function.  A file in newer syntax than the running Python's is
    compiled as the linter reads it (see `downlevel`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SyntaxWarnings about code the fixes did not touch
        try:
            compile(text, filename, "exec", dont_inherit=True)
        except SyntaxError:
            older = downlevel(text)
            return older is not None and older.text != text and _compiles(older.text, filename)
        except (ValueError, RecursionError, MemoryError):
            return False
    return True


def _lines_with_ends(text: str) -> list[str]:
    lines = lines_with_ends(text)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines
