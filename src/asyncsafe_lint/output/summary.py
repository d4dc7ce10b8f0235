"""What is printed besides the findings, in ruff's words: the closing summary (errors,
fixes made and fixes available) and the `--statistics` table."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence

from asyncsafe_lint.diagnostics import Diagnostic
from asyncsafe_lint.rules import BY_CODE


def summary(diagnostics: Sequence[Diagnostic], fixed: int, unsafe_fixes: bool | None) -> str:
    """The lines after a list of findings: `Found 3 errors (1 fixed, 2 remaining).` and
    what `--fix` would do.  `unsafe_fixes` None means "not asked": hidden unsafe fixes
    are then pointed out."""
    remaining = len(diagnostics)
    if fixed:
        lines = [f"Found {_count(fixed + remaining, 'error')} ({fixed} fixed, {remaining} remaining)."]
    elif remaining:
        lines = [f"Found {_count(remaining, 'error')}."]
    else:
        lines = ["All checks passed!"]
    applicable, hidden = _fixables(diagnostics, unsafe_fixes is True)
    if unsafe_fixes is None and hidden:
        hint = f"{_count(hidden, 'hidden fix', 'hidden fixes')} can be enabled with the `--unsafe-fixes` option"
        lines.append(
            f"[*] {applicable} fixable with the `--fix` option ({hint})."
            if applicable
            else f"No fixes available ({hint})."
        )
    elif applicable:
        lines.append(f"[*] {applicable} fixable with the `--fix` option.")
    return "\n".join(lines)


def fix_summary(diagnostics: Sequence[Diagnostic], fixed: int, unsafe_fixes: bool, applied: bool) -> str | None:
    """The one line `--diff` (`applied` False) and `--fix-only` print, or None."""
    _, hidden = _fixables(diagnostics, unsafe_fixes)
    done = f"{'Fixed' if applied else 'Would fix'} {_count(fixed, 'error')}"
    fixes = "fix" if hidden == 1 else "fixes"
    if hidden and fixed:
        return f"{done} ({hidden} additional {fixes} available with `--unsafe-fixes`)."
    if hidden:
        nothing = "No errors fixed" if applied else "No errors would be fixed"
        return f"{nothing} ({hidden} {fixes} available with `--unsafe-fixes`)."
    return f"{done}." if fixed else None


def statistics(diagnostics: Sequence[Diagnostic], unsafe_fixes: bool, as_json: bool) -> str:
    """Findings per rule, most frequent first; `[*]` marks a rule whose findings have fixes."""
    counts = Counter(d.code for d in diagnostics)
    fixable = {d.code for d in diagnostics if d.fixable(unsafe_fixes)}
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    if as_json:
        payload = [
            {"code": code, "name": BY_CODE[code].name, "count": n, "fixable": code in fixable} for code, n in rows
        ]
        return json.dumps(payload, indent=2) + "\n"
    width = max((len(str(n)) for _, n in rows), default=1)
    return "".join(
        f"{n:>{width}}\t{code}\t{'[*]' if code in fixable else '[ ]'} {BY_CODE[code].name}\n" for code, n in rows
    )


def _fixables(diagnostics: Sequence[Diagnostic], unsafe_fixes: bool) -> tuple[int, int]:
    """How many findings have a fix that applies, and how many one that does not (an
    unsafe fix, since safe ones always apply)."""
    applicable = sum(1 for d in diagnostics if d.fixable(unsafe_fixes))
    with_fix = sum(1 for d in diagnostics if d.fix is not None)
    return applicable, with_fix - applicable


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else plural or singular + 's'}"
