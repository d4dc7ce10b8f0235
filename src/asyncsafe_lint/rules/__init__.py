"""Every rule, one per module; the registry the engine, the CLI and the docs read."""

from asyncsafe_lint.rule import Rule
from asyncsafe_lint.rules.asf001_syntax_error import SyntaxErrorRule
from asyncsafe_lint.rules.asf002_io_error import IOErrorRule
from asyncsafe_lint.rules.asf101_blocking_sleep import BlockingSleep

#: Rules that report files which cannot be checked; no selection turns them off.
ALWAYS_ON: tuple[type[Rule], ...] = (SyntaxErrorRule, IOErrorRule)

ALL_RULES: tuple[type[Rule], ...] = tuple(
    sorted(
        (
            *ALWAYS_ON,
            BlockingSleep,
        ),
        key=lambda rule: rule.code,
    )
)

BY_CODE: dict[str, type[Rule]] = {rule.code: rule for rule in ALL_RULES}
