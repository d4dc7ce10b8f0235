"""The commands of `asyncsafe-lint` (`check`, `rule`), with options shaped like ruff's."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from asyncsafe_lint import replay
from asyncsafe_lint.cache.directory import ENVIRONMENT, default_directory, tracked
from asyncsafe_lint.checker import check_paths
from asyncsafe_lint.config import ConfigError, Settings, load, override
from asyncsafe_lint.docs import rule_json, rule_text
from asyncsafe_lint.filesystem import CACHE_DIRECTORY, Snapshot
from asyncsafe_lint.output import FORMATS
from asyncsafe_lint.output.report import Report, display_path
from asyncsafe_lint.output.summary import fix_summary, statistics, summary
from asyncsafe_lint.rules import ALL_RULES, BY_CODE
from asyncsafe_lint.source import encoding_of, physical_lines
from asyncsafe_lint.version import __version__

if TYPE_CHECKING:
    from asyncsafe_lint.fix import FixResult

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
TEXT_FORMATS = ("concise", "full")
#: The formats that show the edits of each fix.
EDIT_FORMATS = ("json", "json-lines")


def _selectors(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asyncsafe-lint",
        description="Find what blocks the event loop, waits forever, or uses deprecated "
        "lifecycle hooks in async Python web services (FastAPI, Starlette, any ASGI app).",
        epilog="Exit status: 0 no findings, 1 findings, 2 usage or internal error.",
    )
    parser.add_argument("--version", action="version", version=f"asyncsafe-lint {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser(
        "check",
        help="check files and directories",
        description="Check Python files "
        "for blocking calls in async code (ASF1xx), missing timeouts (ASF2xx) and lifecycle hazards (ASF3xx).",
    )
    check.add_argument(
        "paths",
        nargs="*",
        type=Path,
        default=[Path(".")],
        metavar="PATH",
        help="files or directories to check (default: .)",
    )
    check.add_argument(
        "--select",
        type=_selectors,
        action="extend",
        metavar="CODES",
        help="comma-separated rule codes or prefixes to enable (e.g. ASF1,ASF201), or ALL; "
        "replaces `select` from the configuration",
    )
    check.add_argument(
        "--extend-select",
        type=_selectors,
        action="extend",
        default=[],
        metavar="CODES",
        help="rule codes or prefixes to enable on top of the selection",
    )
    check.add_argument(
        "--ignore",
        type=_selectors,
        action="extend",
        default=[],
        metavar="CODES",
        help="rule codes or prefixes to disable",
    )
    check.add_argument(
        "--output-format", choices=list(FORMATS), default="concise", help="how to print findings (default: concise)"
    )
    check.add_argument("--statistics", action="store_true", help="print the number of findings per rule instead")
    check.add_argument("--exit-zero", action="store_true", help="exit with 0 even when there are findings")
    check.add_argument(
        "--fix",
        action=argparse.BooleanOptionalAction,
        help="apply fixes (unsafe ones too with --unsafe-fixes), then report what remains",
    )
    check.add_argument(
        "--unsafe-fixes", action=argparse.BooleanOptionalAction, help="count fixes that may change behaviour as fixes"
    )
    check.add_argument(
        "--diff",
        action="store_true",
        help="print a diff of what the fixes would change and write nothing; exit 1 if they would",
    )
    check.add_argument(
        "--fix-only",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="apply fixes and report nothing else; exit 0 whatever remains",
    )
    check.add_argument(
        "--exit-non-zero-on-fix",
        action="store_true",
        help="exit with 1 when a fix was applied, even if nothing remains",
    )
    check.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="a pyproject.toml to read [tool.asyncsafe] from (default: the nearest one)",
    )
    check.add_argument(
        "--max-depth",
        type=int,
        metavar="N",
        help="follow calls from async code through at most N sync functions (ASF110; default 8)",
    )
    check.add_argument(
        "--no-cache", action="store_true", help="neither read nor write the cache of results, nor replay an earlier run"
    )
    check.add_argument(
        "--cache-dir",
        type=Path,
        metavar="DIR",
        help=f"where to keep the cache (default: ${ENVIRONMENT}, else {CACHE_DIRECTORY} in the project root)",
    )
    check.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="say on stderr why a cache file or a recorded run was ignored (one not written on "
        "this machine: forged, copied or committed)",
    )
    check.add_argument(
        "--force-exclude",
        action="store_true",
        help="apply `exclude` to paths named on the command line too (for pre-commit)",
    )

    rule = commands.add_parser("rule", help="explain a rule", description="Print a rule's documentation.")
    which = rule.add_mutually_exclusive_group(required=True)
    which.add_argument("code", nargs="?", metavar="CODE", help="a rule code such as ASF101")
    which.add_argument("--all", action="store_true", help="every rule")
    rule.add_argument(
        "--output-format", choices=("text", "json"), default="text", help="text, or ruff's JSON keys (default: text)"
    )
    return parser


def run(arguments: Sequence[str], notes: Sequence[tuple[str, str]] = ()) -> int:
    """Runs the command `arguments` give; returns the exit status.  `notes`: what
    `--verbose` says of the recorded run that was not replayed (see `replay`)."""
    args = build_parser().parse_args(arguments)
    try:
        if args.command == "rule":
            return _rule(args)
        return _check(args, arguments, notes)
    except ConfigError as error:
        print(f"asyncsafe-lint: error: {error}", file=sys.stderr)
        return EXIT_ERROR


def _rule(args: argparse.Namespace) -> int:
    if args.all:
        rules = list(ALL_RULES)
    elif args.code.upper() in BY_CODE:
        rules = [BY_CODE[args.code.upper()]]
    else:
        raise ConfigError(f"unknown rule code `{args.code}` (see `asyncsafe-lint rule --all`)")
    if args.output_format == "json":
        payload = [rule_json(r) for r in rules]
        print(json.dumps(payload if args.all else payload[0], indent=2))
    else:
        print("\n".join(rule_text(r) for r in rules), end="")
    return EXIT_CLEAN


def _settings(args: argparse.Namespace) -> Settings:
    return override(
        load(args.config),
        select=args.select,
        extend_select=args.extend_select,
        ignore=args.ignore,
        force_exclude=args.force_exclude,
        max_depth=args.max_depth,
    )


def _check(args: argparse.Namespace, arguments: Sequence[str], notes: Sequence[tuple[str, str]]) -> int:
    # Stamped before they are read, so that a later edit shows in the replay's check;
    # not for a run that is never recorded (see the end), as far as the flags tell.
    never_recorded = args.no_cache or args.diff or args.fix_only or args.fix
    snapshot = Snapshot() if never_recorded else replay.start(None if args.config is None else str(args.config))
    settings = _settings(args)
    unsafe = settings.unsafe_fixes if args.unsafe_fixes is None else args.unsafe_fixes
    fixing = args.diff or args.fix_only or (settings.fix if args.fix is None else args.fix)
    outcome: FixResult | None = None
    if fixing:
        # Imported only to fix: a check served by the cache never imports the engine.
        from asyncsafe_lint.fix import fix_paths

        outcome = fix_paths(args.paths, settings, unsafe is True, write=not args.diff)
    cache_dir = None if args.no_cache else args.cache_dir or Path(default_directory(settings.root))
    if cache_dir is not None and tracked(os.fspath(cache_dir)):
        shown = display_path(os.fspath(cache_dir), Path.cwd())
        print(
            f"asyncsafe-lint: warning: git tracks files in the cache directory {shown}, so it is not used: "
            f"`git rm -r --cached {shown}` untracks them",
            file=sys.stderr,
        )
        cache_dir = None
    if outcome is None:
        result = check_paths(args.paths, settings, cache_dir=cache_dir, snapshot=snapshot)
    else:
        result = outcome.remaining
    for ignored, why in (*notes, *result.cache_notes) if args.verbose else ():
        print(f"asyncsafe-lint: note: {display_path(ignored, Path.cwd())}: {why}", file=sys.stderr)
    for file in outcome.files if outcome is not None else ():
        if file.error is not None:
            print(f"asyncsafe-lint: error: {file.path}: {file.error} (please report it)", file=sys.stderr)
    for path, trace in result.crashes.items():
        print(
            f"asyncsafe-lint: error: internal error while checking {path} (please report it):\n{trace}", file=sys.stderr
        )
    if outcome is not None and (args.diff or args.fix_only):
        return _fixes_only(args, outcome, unsafe is True)
    diagnostics = result.diagnostics
    fixed = outcome.fixed if outcome is not None else 0
    if args.statistics:
        output = statistics(diagnostics, unsafe is True, as_json=args.output_format not in TEXT_FORMATS)
    else:
        report = Report(diagnostics, settings.rules, Path.cwd(), _source_lines, not fixing, unsafe is True)
        if args.output_format in EDIT_FORMATS and any(d.fix is not None for d in diagnostics):
            # Imported only to show a fix's edits: the fix engine loads libcst.
            from asyncsafe_lint.codemod import fix_edits

            report = replace(report, fix_edits=fix_edits)
        output = FORMATS[args.output_format](report)
    if args.output_format in TEXT_FORMATS:
        output += summary(diagnostics, fixed, unsafe) + "\n"
    sys.stdout.write(output)
    if result.crashes:
        return EXIT_ERROR
    failed = diagnostics or (args.exit_non_zero_on_fix and fixed)
    status = EXIT_FINDINGS if failed and not args.exit_zero else EXIT_CLEAN
    if outcome is None and cache_dir is not None:
        replay.record(arguments, os.fspath(cache_dir), result.snapshot, output, status)
    return status


def _fixes_only(args: argparse.Namespace, outcome: FixResult, unsafe: bool) -> int:
    """`--diff` and `--fix-only`: the changes (or their diff), not the findings."""
    if args.diff:
        for file in outcome.files:
            if file.changed:
                print(file.diff(display_path(str(file.path), Path.cwd())))
    line = fix_summary(outcome.remaining.diagnostics, outcome.fixed, unsafe, applied=not args.diff)
    if line is not None:
        print(line)
    if outcome.remaining.crashes:
        return EXIT_ERROR
    # ruff's rules: a diff that is not empty fails; applying fixes fails only when asked to.
    failed = outcome.fixed and (args.diff or args.exit_non_zero_on_fix)
    return EXIT_FINDINGS if failed and not args.exit_zero else EXIT_CLEAN


@cache
def _source_lines(filename: str) -> list[str]:
    """The file's lines as the engine numbered them (in its PEP 263 encoding, if declared)."""
    try:
        source = Path(filename).read_bytes()
        encoding = encoding_of(source)
    except OSError:
        return []
    except SyntaxError:  # an unknown or contradictory coding declaration
        encoding = "utf-8"
    return physical_lines(source.decode(encoding, errors="replace"))
