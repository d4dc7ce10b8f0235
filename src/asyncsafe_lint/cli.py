"""`asyncsafe-lint`: a command line shaped like ruff's."""

from __future__ import annotations

import argparse
import io
import json
import sys
import tokenize
from collections import Counter
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from asyncsafe_lint import __version__
from asyncsafe_lint.config import ConfigError, Settings, load, override
from asyncsafe_lint.diagnostics import Diagnostic
from asyncsafe_lint.docs import rule_json, rule_text
from asyncsafe_lint.engine import physical_lines
from asyncsafe_lint.output import FORMATS, Report
from asyncsafe_lint.rules import ALL_RULES, BY_CODE
from asyncsafe_lint.runner import check_paths

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
TEXT_FORMATS = ("concise", "full")


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

    check = commands.add_parser("check", help="check files and directories", description="Check Python files "
        "for blocking calls in async code (ASF1xx), missing timeouts (ASF2xx) and lifecycle hazards (ASF3xx).")  # fmt: skip
    check.add_argument("paths", nargs="*", type=Path, default=[Path(".")], metavar="PATH",
                       help="files or directories to check (default: .)")  # fmt: skip
    check.add_argument("--select", type=_selectors, action="extend", metavar="CODES",
                       help="comma-separated rule codes or prefixes to enable (e.g. ASF1,ASF201), or ALL; "
                       "replaces `select` from the configuration")  # fmt: skip
    check.add_argument("--extend-select", type=_selectors, action="extend", default=[], metavar="CODES",
                       help="rule codes or prefixes to enable on top of the selection")  # fmt: skip
    check.add_argument("--ignore", type=_selectors, action="extend", default=[], metavar="CODES",
                       help="rule codes or prefixes to disable")  # fmt: skip
    check.add_argument("--output-format", choices=list(FORMATS), default="concise",
                       help="how to print findings (default: concise)")  # fmt: skip
    check.add_argument("--statistics", action="store_true", help="print the number of findings per rule instead")
    check.add_argument("--exit-zero", action="store_true", help="exit with 0 even when there are findings")
    check.add_argument("--config", type=Path, metavar="FILE",
                       help="a pyproject.toml to read [tool.asyncsafe] from (default: the nearest one)")  # fmt: skip
    check.add_argument("--max-depth", type=int, metavar="N",
                       help="follow calls from async code through at most N sync functions (ASF110; default 8)")  # fmt: skip
    check.add_argument("--force-exclude", action="store_true",
                       help="apply `exclude` to paths named on the command line too (for pre-commit)")  # fmt: skip

    rule = commands.add_parser("rule", help="explain a rule", description="Print a rule's documentation.")
    which = rule.add_mutually_exclusive_group(required=True)
    which.add_argument("code", nargs="?", metavar="CODE", help="a rule code such as ASF101")
    which.add_argument("--all", action="store_true", help="every rule")
    rule.add_argument("--output-format", choices=("text", "json"), default="text")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "rule":
            return _rule(args)
        return _check(args)
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


def _check(args: argparse.Namespace) -> int:
    settings = _settings(args)
    result = check_paths(args.paths, settings)
    for path, trace in result.crashes.items():
        print(f"asyncsafe-lint: error: internal error while checking {path} (please report it):\n{trace}",
              file=sys.stderr)  # fmt: skip
    diagnostics = result.diagnostics
    if args.statistics:
        print(_statistics(diagnostics, args.output_format), end="")
    else:
        report = Report(diagnostics, settings.rules, Path.cwd(), _source_lines)
        sys.stdout.write(FORMATS[args.output_format](report))
    if args.output_format in TEXT_FORMATS:
        print(_summary(diagnostics))
    if result.crashes:
        return EXIT_ERROR
    return EXIT_FINDINGS if diagnostics and not args.exit_zero else EXIT_CLEAN


def _summary(diagnostics: Sequence[Diagnostic]) -> str:
    if not diagnostics:
        return "All checks passed!"
    count = len(diagnostics)
    return f"Found {count} error{'s' if count != 1 else ''}."


def _statistics(diagnostics: Sequence[Diagnostic], output_format: str) -> str:
    counts = Counter(d.code for d in diagnostics)
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    if output_format not in TEXT_FORMATS:
        payload = [{"code": code, "name": BY_CODE[code].name, "count": n, "fixable": False} for code, n in rows]
        return json.dumps(payload, indent=2) + "\n"
    width = max((len(str(n)) for _, n in rows), default=1)
    return "".join(f"{n:>{width}}\t{code}\t[ ] {BY_CODE[code].name}\n" for code, n in rows)


@cache
def _source_lines(filename: str) -> list[str]:
    """The file's lines as the engine numbered them (in its PEP 263 encoding, if declared)."""
    try:
        source = Path(filename).read_bytes()
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
    except OSError:
        return []
    except SyntaxError:  # an unknown or contradictory coding declaration
        encoding = "utf-8"
    return physical_lines(source.decode(encoding, errors="replace"))
