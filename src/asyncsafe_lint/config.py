"""Settings: `[tool.asyncsafe]` in the nearest `pyproject.toml`, then the command line."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path, PurePath
from typing import Any

from asyncsafe_lint.rule import Rule
from asyncsafe_lint.rules import ALL_RULES

#: Directories never walked into, whatever `exclude` says.
DEFAULT_EXCLUDE = (
    ".bzr",
    ".direnv",
    ".eggs",
    ".git",
    ".hg",
    ".mypy_cache",
    ".nox",
    ".pants.d",
    ".pytest_cache",
    ".ruff_cache",
    ".svn",
    ".tox",
    ".venv",
    "venv",
    "__pypackages__",
    "__pycache__",
    "_build",
    "buck-out",
    "build",
    "dist",
    "node_modules",
    "site-packages",
    ".asyncsafe_cache",
)

#: The keys of `[tool.asyncsafe]`, with what each means: the site's reference lists them from here.
KEYS = {
    "select": 'rule codes or prefixes to enable (default: every rule, `["ASF"]`)',
    "ignore": "rule codes or prefixes to disable",
    "extend-select": "rule codes or prefixes to enable on top of `select`",
    "per-file-ignores": "a table of glob patterns to the codes ignored in the files they match",
    "exclude": "glob patterns of files and directories to skip, on top of the built-in exclusions",
    "blocking-calls": "a table of your own blocking callables (qualified names) to what to use instead (ASF109)",
    "max-depth": "how many sync functions deep ASF110 follows calls from async code (default: 8)",
    "fix": "apply the fixes, as `--fix` does (default: false)",
    "unsafe-fixes": "count unsafe fixes as fixes (true), or never mention them (false)",
    "default-timeout": "the timeout, in seconds, that the ASF2xx fixes write (default: 10)",
    "target-version": "the oldest Python the project runs on, as `py311` (default: from `requires-python`)",
}


class ConfigError(Exception):
    """A setting that cannot be used; the message names the key and the source."""


@dataclass(frozen=True)
class Settings:
    root: Path = field(default_factory=Path.cwd)
    select: tuple[str, ...] = ("ASF",)
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    exclude: tuple[str, ...] = ()
    #: Qualified name of a blocking callable -> what to use instead.
    blocking_calls: tuple[tuple[str, str], ...] = ()
    #: Apply `exclude` to paths named on the command line too (what pre-commit needs).
    force_exclude: bool = False
    #: How many sync functions deep a chain from async code to a blocking call may go (ASF110).
    max_depth: int = 8
    #: Apply fixes, as `--fix` does.
    fix: bool = False
    #: Apply unsafe fixes too (True), never mention them (False), or hint at them (None), as in ruff.
    unsafe_fixes: bool | None = None
    #: The `timeout=` (seconds) the ASF201 fix adds to `requests` calls.
    default_timeout: float = 10.0
    #: The oldest Python the project runs on (`target-version`, else the lower bound of
    #: `[project] requires-python`): syntax newer than it is a syntax error.  None: any.
    target_version: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.max_depth, bool) or not isinstance(self.max_depth, int) or self.max_depth < 1:
            raise ConfigError(f"`max-depth` must be a positive integer, not {self.max_depth!r}")
        for selector in (*self.select, *self.extend_select, *self.ignore):
            check_selector(selector, "rule selector")
        for pattern, codes in self.per_file_ignores:
            for code in codes:
                check_selector(code, f"per-file-ignores[{pattern!r}]")

    @cached_property
    def rules(self) -> tuple[type[Rule], ...]:
        """The rules enabled everywhere, before per-file ignores."""
        return tuple(rule for rule in ALL_RULES if self._enabled(rule.code))

    def rules_for(self, path: PurePath) -> tuple[type[Rule], ...]:
        ignored = [code for pattern, codes in self.per_file_ignores if self._matches(path, pattern) for code in codes]
        return tuple(rule for rule in self.rules if not any(_covers(c, rule.code) for c in ignored))

    def is_excluded(self, path: PurePath) -> bool:
        """True when the file or directory `path` itself is excluded: its name is one of
        `DEFAULT_EXCLUDE`, or its name or its path from the project root matches `exclude`.
        The directories above it are not looked at (a walk never enters an excluded
        directory, and one named on the command line is walked, as in ruff)."""
        if path.name in DEFAULT_EXCLUDE:
            return True
        if not self.exclude:
            return False
        text = self._relative(path).as_posix()
        return any(
            fnmatch.fnmatch(text, pattern) or fnmatch.fnmatch(path.name, pattern)
            for pattern in (p.rstrip("/") for p in self.exclude)
        )

    def is_force_excluded(self, path: PurePath) -> bool:
        """For `--force-exclude`: `path` or a directory above it, up to the project root,
        is excluded (ruff's rule; a project inside a directory named `build` still counts)."""
        for candidate in (path, *path.parents):
            if candidate == self.root:
                return False
            if self.is_excluded(candidate):
                return True
        return False

    def _relative(self, path: PurePath) -> PurePath:
        try:
            return PurePath(path).relative_to(self.root) if path.is_absolute() else PurePath(path)
        except ValueError:
            return PurePath(path)

    def _matches(self, path: PurePath, pattern: str) -> bool:
        relative = self._relative(path)
        text = relative.as_posix()
        pattern = pattern.rstrip("/")
        return (
            fnmatch.fnmatch(text, pattern)
            or fnmatch.fnmatch(text, f"{pattern}/*")
            or any(fnmatch.fnmatch(part, pattern) for part in relative.parts)
        )

    def _enabled(self, code: str) -> bool:
        """ruff's precedence: the most specific selector wins; on a tie, `ignore` does."""
        selects = (*self.select, *self.extend_select)
        best_select = max((_specificity(s) for s in selects if _covers(s, code)), default=-1)
        best_ignore = max((_specificity(s) for s in self.ignore if _covers(s, code)), default=-1)
        return best_select > best_ignore


def _specificity(selector: str) -> int:
    """`ALL` is the least specific selector (as in ruff); otherwise the longer the prefix, the more specific."""
    return 0 if selector == "ALL" else len(selector)


def _covers(selector: str, code: str) -> bool:
    return selector == "ALL" or code.startswith(selector)


def check_selector(selector: str, where: str) -> None:
    if not any(_covers(selector, rule.code) for rule in ALL_RULES):
        raise ConfigError(f"{where}: unknown rule code or prefix `{selector}`")


def find_pyproject(start: Path) -> Path | None:
    """The nearest `pyproject.toml` with a `[tool.asyncsafe]` table, from `start` upwards."""
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file() and "asyncsafe" in _read_toml(candidate).get("tool", {}):
            return candidate
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: cannot read: {error}") from error


def load(config: Path | None = None, start: Path | None = None) -> Settings:
    """Settings from `config`, or from the nearest `pyproject.toml`, or the defaults."""
    path = config if config is not None else find_pyproject(start or Path.cwd())
    if path is None:
        return Settings(root=(start or Path.cwd()).resolve())
    document = _read_toml(path)
    table = document.get("tool", {}).get("asyncsafe", {}) if path.name == "pyproject.toml" else document
    requires = document.get("project", {}).get("requires-python") if path.name == "pyproject.toml" else None
    return from_table(table, path, requires if isinstance(requires, str) else None)


def from_table(table: Mapping[str, object], source: Path, requires_python: str | None = None) -> Settings:
    try:
        unknown = sorted(set(table) - set(KEYS))
        if unknown:
            raise ConfigError(f"unknown key `{unknown[0]}` in [tool.asyncsafe] (known: {', '.join(KEYS)})")
        return Settings(
            root=source.parent.resolve(),
            select=_strings(table, "select") or ("ASF",),
            extend_select=_strings(table, "extend-select"),
            ignore=_strings(table, "ignore"),
            per_file_ignores=tuple(
                (pattern, _string_list(codes, f"per-file-ignores[{pattern!r}]"))
                for pattern, codes in _table(table, "per-file-ignores").items()
            ),
            exclude=_strings(table, "exclude"),
            blocking_calls=tuple(
                (name, _string(replacement, f"blocking-calls[{name!r}]"))
                for name, replacement in _table(table, "blocking-calls").items()
            ),
            max_depth=table.get("max-depth", Settings.max_depth),  # type: ignore[arg-type]
            fix=_bool(table, "fix") or False,
            unsafe_fixes=_bool(table, "unsafe-fixes"),
            default_timeout=_seconds(table, "default-timeout"),
            target_version=_target_version(table) or _lowest_python(requires_python),
        )
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None


def _strings(table: Mapping[str, object], key: str) -> tuple[str, ...]:
    return _string_list(table.get(key, []), key)


def _string_list(value: object, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"`{key}` must be a list of strings")
    return tuple(value)


def _bool(table: Mapping[str, object], key: str) -> bool | None:
    """The key's value, or None when it is not set."""
    value = table.get(key)
    if value is not None and not isinstance(value, bool):
        raise ConfigError(f"`{key}` must be true or false")
    return value


def _seconds(table: Mapping[str, object], key: str) -> float:
    value = table.get(key, Settings.default_timeout)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
        raise ConfigError(f"`{key}` must be a positive number of seconds")
    return float(value)


def _target_version(table: Mapping[str, object]) -> tuple[int, int] | None:
    """`target-version = "py312"`, as ruff spells it."""
    value = table.get("target-version")
    if value is None:
        return None
    match = re.fullmatch(r"py3(\d{1,2})", value) if isinstance(value, str) else None
    if match is None:
        raise ConfigError(f"`target-version` must name a Python 3 release as ruff does (`py312`), not {value!r}")
    return 3, int(match.group(1))


def _lowest_python(requires: str | None) -> tuple[int, int] | None:
    """The oldest Python 3 that `requires-python` (`>=3.11`, `~=3.12`, `>=3.10,<4`) admits,
    where it says; None for a specifier it does not bound from below."""
    for clause in (requires or "").split(","):
        match = re.fullmatch(r"\s*(?:>=|~=|==)\s*3\.(\d+)(?:\.[\d*]+)?\s*", clause)
        if match is not None:
            return 3, int(match.group(1))
    return None


def _string(value: object, key: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"`{key}` must be a string")
    return value


def _table(table: Mapping[str, object], key: str) -> Mapping[str, object]:
    value = table.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"`{key}` must be a table")
    return value


def override(
    settings: Settings,
    *,
    select: Iterable[str] | None = None,
    extend_select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    force_exclude: bool = False,
    max_depth: int | None = None,
) -> Settings:
    """Settings with the command line's options applied on top (as ruff combines them)."""
    return replace(
        settings,
        select=tuple(select) if select is not None else settings.select,
        extend_select=settings.extend_select + tuple(extend_select),
        ignore=settings.ignore + tuple(ignore),
        force_exclude=force_exclude or settings.force_exclude,
        max_depth=settings.max_depth if max_depth is None else max_depth,
    )
