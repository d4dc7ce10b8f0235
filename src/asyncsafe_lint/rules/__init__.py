"""Every rule, one per module named after its code (a rule with a fix of its own is a
package: the rule in its `__init__`, the fix in `fix.py`); the registry the engine, the
CLI and the docs read.  A new rule only needs its module here."""

import importlib
import pkgutil

from asyncsafe_lint.rule import BlockingCallRule, Rule


def _discover() -> tuple[type[Rule], ...]:
    found: list[type[Rule]] = []
    for module_info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        found.extend(
            value
            for value in vars(module).values()
            if isinstance(value, type)
            and issubclass(value, Rule)
            and value not in (Rule, BlockingCallRule)
            and value.__module__ == module.__name__
        )
    return tuple(sorted(found, key=lambda rule: rule.code))


ALL_RULES: tuple[type[Rule], ...] = _discover()

BY_CODE: dict[str, type[Rule]] = {rule.code: rule for rule in ALL_RULES}

# The rules whose findings the core makes itself, known to it by what they are for: a
# file it cannot read, one that does not parse, one in syntax too new for the running
# Python to read, and a call chain the project pass follows.
UNREADABLE = BY_CODE["ASF002"]
UNPARSABLE = BY_CODE["ASF001"]
TOO_NEW = BY_CODE["ASF003"]
CALL_CHAINS = BY_CODE["ASF110"]
