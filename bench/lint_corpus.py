"""How many of flake8-async's and ruff's labelled blocking calls asyncsafe-lint finds.

Both projects test their ASYNC rules on files whose lines are labelled with what the
rule must report: flake8-async with `# ASYNC210: ...` (or `# error: ...`) comments in
`tests/eval_files/*.py`, ruff with snapshot files that list each diagnostic of a
fixture in `crates/ruff_linter/resources/test/fixtures/flake8_async/`.  This script
reads those labels from local copies of the two repositories, keeps the codes about
blocking calls in async functions (MAPPING; the trio/anyio checkpoint and cancel-scope
rules are out of scope), sets aside the labels judged wrong (JUDGED_WRONG, printed with
their reasons), runs `asyncsafe-lint check` on the labelled files and prints, per
corpus and overall, how many accepted labels it finds, the ones it misses and its
findings on lines without an accepted label.  flake8-async and ruff, when installed
next to this interpreter (the project's dev dependencies), are run on both corpora too.

    .venv/bin/python bench/lint_corpus.py --flake8-async PATH --ruff PATH

PATH is a clone of python-trio/flake8-async (or astral-sh/ruff), or a bare git
directory (its HEAD is read); FLAKE8_ASYNC_REPO and RUFF_REPO work as well.  Their files
are copied to a temporary directory for the run and never into this repository.
A benchmark, not a test: it exits 0 whatever the recall.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import tokenize
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

BIN = Path(sys.executable).parent

#: ASYNC codes in scope -> the asyncsafe-lint code that covers the same calls.
#: Out of scope: ASYNC1xx (trio/anyio checkpoints, cancel scopes, nurseries, sleeps of
#: zero or forever), ASYNC109 (an async function *taking* a timeout), ASYNC200 (calls
#: named by flake8-async's own option; its labels test the option's wildcard matching
#: on made-up names such as `bee.bonnet`), ASYNC3xx/4xx/9xx (task handles, exception
#: groups, checkpoints in loops and generators).
MAPPING: dict[str, str] = {
    "ASYNC210": "ASF102",  # requests/httpx/urllib3 functions, urlopen
    "ASYNC211": "ASF102",  # urllib3 PoolManager().request("GET", ...)
    "ASYNC212": "ASF102",  # methods of httpx.Client and urllib3 pools
    "ASYNC220": "ASF103",  # subprocess.Popen, os.spawn*(P_NOWAIT)
    "ASYNC221": "ASF103",  # subprocess.run/call/check_*, os.system, os.spawn*(P_WAIT)
    "ASYNC222": "ASF103",  # os.wait*
    "ASYNC230": "ASF104",  # open(), io.open_code, Path.open
    "ASYNC231": "ASF104",  # os.fdopen
    "ASYNC232": "ASF104",  # methods of file objects
    "ASYNC240": "ASF104",  # os.path and pathlib.Path methods that touch the disk
    "ASYNC250": "ASF108",  # input()
    "ASYNC251": "ASF101",  # time.sleep()
}

F8A = "flake8-async"
RUFF = "ruff"
F8A_FOLDER = "tests/eval_files"
RUFF_FIXTURES = "crates/ruff_linter/resources/test/fixtures/flake8_async"
RUFF_SNAPSHOTS = "crates/ruff_linter/src/rules/flake8_async/snapshots"

#: flake8-async's test harness runs each eval file under trio, anyio and asyncio; these
#: markers leave a library out, or say the file must raise nothing under it.
LIBRARY_MARKERS = {
    "trio": ("NOTRIO", "TRIO_NO_ERROR"),
    "anyio": ("NOANYIO", "ANYIO_NO_ERROR"),
    "asyncio": ("NOASYNCIO", "ASYNCIO_NO_ERROR"),
}
#: A label in a comment: `# ASYNC230: 4, 'open'`, `# ASYNC232_asyncio: ...` (a variant of
#: the message), or `# error: ...` (the code the file is named after).
LABEL = re.compile(r"\b(error|ASYNC\d{3})(?:_\w+)?:")
ENABLE = re.compile(r"#\s*ARG\s+--enable=([\w,]+)")
#: A ruff snapshot of one rule on one fixture, e.g.
#: `ruff_linter__rules__flake8_async__tests__ASYNC220_ASYNC22x.py.snap`.
SNAPSHOT_NAME = re.compile(r"__tests__(ASYNC\d{3})_(ASYNC\w*\.py)\.snap$")
#: A diagnostic in a snapshot: `ASYNC212 message` then `  --> ASYNC212.py:27:5` (ruff
#: 0.12 on), or `ASYNC212.py:27:5: ASYNC212 message` (before).
SNAPSHOT_DIAGNOSTIC = (
    re.compile(r"^(?P<code>ASYNC\d{3})\b.*\n\s*--> (?P<file>[^:\s]+):(?P<line>\d+):\d+", re.MULTILINE),
    re.compile(r"^(?P<file>[^:\s]+\.py):(?P<line>\d+):\d+: (?P<code>ASYNC\d{3})\b", re.MULTILINE),
)
#: A comment by which a test file says a line should be flagged though it is not labelled.
SHOULD_ERROR = re.compile(r"should error|not handled|not implemented")
#: flake8's default format: `path:row:col: CODE message`.
FLAKE8_LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):\d+: (?P<code>\w+) (?P<message>.*)$", re.MULTILINE)


@dataclass(frozen=True)
class Judged:
    """A label set aside: `source` must be on that line, so a moved line is noticed."""

    corpus: str
    file: str
    line: int
    source: str
    reason: str


CLOSE = (
    "close() of a sync httpx (or httpx2) client only closes the pooled sockets: a connection's close in "
    "httpcore (httpcore2 alike) is socket.close(), nothing is sent or waited for, so it does not block"
)
POOL_PLACEHOLDER = (
    "`anything` is a placeholder, not a urllib3 pool method: the label pins flake8-async's "
    "choice to flag every method of a pool, some of which do no I/O (clear(), connection_from_url())"
)
FILE_PLACEHOLDER = (
    "a made-up method name on a file object (the file's own comment concedes some calls on "
    "it may not block); not a known blocking call"
)
REBOUND = "listed by the file among its 'Known unhandled cases' (false alarms it accepts): f was rebound to {}"
NONE_BRANCH = "f is None on this line ({}), so f.read() raises AttributeError; nothing blocks"
PURE_PATH = (
    "{} computes a path from strings (plus os.getcwd() at most) without touching the disk; "
    "flake8-async's own eval file leaves os.path.abspath, which does as much, unflagged"
)

#: Labels judged not to be blocking calls in asyncsafe's sense, with the reason; read
#: against flake8-async c695f61dd9e2 and ruff fca5c7cf2cd2 (a line that moved is reported).
JUDGED_WRONG: tuple[Judged, ...] = (
    Judged(F8A, "async212.py", 7, "client.close()", CLOSE),
    Judged(F8A, "async212.py", 66, "client.close()", CLOSE),
    *(Judged(F8A, "async212.py", line, "c.anything()", POOL_PLACEHOLDER) for line in range(104, 123, 2)),
    Judged(F8A, "async232.py", 16, "f.anything()", FILE_PLACEHOLDER),
    Judged(F8A, "async232.py", 17, "f.aoeuaoeuaoeuaoeu()", FILE_PLACEHOLDER),
    Judged(F8A, "async232.py", 204, "f.read()", REBOUND.format("an unknown call's result, not known to be a file")),
    Judged(F8A, "async232.py", 206, "f.read()", REBOUND.format("7, an int: f.read() raises")),
    Judged(F8A, "async232.py", 232, "f.read()", NONE_BRANCH.format("inside `if f is None:`")),
    Judged(F8A, "async232.py", 238, "f.read()", NONE_BRANCH.format("the isinstance() branch returned")),
    Judged(F8A, "async232_asyncio.py", 17, "f.anything()", FILE_PLACEHOLDER),
    Judged(F8A, "async232_asyncio.py", 18, "f.aoeuaoeuaoeuaoeuaoeu()", FILE_PLACEHOLDER),
    Judged(
        F8A, "async232_asyncio.py", 205, "f.read()", REBOUND.format("an unknown call's result, not known to be a file")
    ),
    Judged(F8A, "async232_asyncio.py", 207, "f.read()", REBOUND.format("7, an int: f.read() raises")),
    Judged(F8A, "async232_asyncio.py", 233, "f.read()", NONE_BRANCH.format("inside `if f is None:`")),
    Judged(F8A, "async232_asyncio.py", 239, "f.read()", NONE_BRANCH.format("the isinstance() branch returned")),
    Judged(F8A, "async240.py", 8, 'normpath("")', PURE_PATH.format("normpath()")),
    Judged(F8A, "async240.py", 9, 'relpath("")', PURE_PATH.format("relpath()")),
    Judged(F8A, "async240.py", 12, "os.path._path_normpath(...)", PURE_PATH.format("normpath()'s C helper")),
    Judged(F8A, "async240.py", 13, 'os.path.normpath("")', PURE_PATH.format("normpath()")),
    Judged(F8A, "async240.py", 28, 'os.path.relpath("")', PURE_PATH.format("relpath()")),
    Judged(RUFF, "ASYNC212.py", 27, "client.close()", CLOSE),
    Judged(RUFF, "ASYNC240.py", 67, "os.path.abspath(file)", PURE_PATH.format("abspath()")),
)


@dataclass(frozen=True)
class Label:
    file: str
    line: int
    #: The labelling tool's codes on this line (two labels on one line count once).
    codes: tuple[str, ...]
    source: str

    @property
    def mapped(self) -> set[str]:
        return {MAPPING[code] for code in self.codes}

    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    code: str
    message: str


@dataclass(frozen=True)
class SourceFile:
    text: str
    #: Each line without its trailing comment (the label), stripped: what is printed.
    code: list[str]
    #: The comment after code on a line, by line number.
    comments: dict[int, str]


def source_file(text: str) -> SourceFile:
    """Reads the comments with the tokenizer, so a `#` inside a string is no comment;
    comment-only lines are left out, as flake8-async's harness skips them."""
    lines = text.splitlines()
    code = [line.strip() for line in lines]
    comments: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        row, column = token.start
        if token.type == tokenize.COMMENT and lines[row - 1][:column].strip():
            comments[row] = token.string
            code[row - 1] = lines[row - 1][:column].strip()
    return SourceFile(text, code, comments)


@dataclass
class Corpus:
    name: str
    origin: str
    #: The labelled files in scope, by name.
    files: dict[str, SourceFile]
    labels: list[Label]
    #: Lines labelled with a code out of scope, e.g. ASYNC200: not counted, named in the
    #: list of findings on unlabelled lines.
    other_labels: dict[tuple[str, int], str]
    #: The codes each file is labelled for: a call of another kind is left unlabelled.
    enabled: dict[str, set[str]]
    notes: list[str]


# --- reading the repositories ------------------------------------------------------


def is_bare(repo: Path) -> bool:
    return (repo / "HEAD").is_file() and (repo / "objects").is_dir()


def git(repo: Path, *args: str) -> bytes:
    where = ["--git-dir", str(repo)] if is_bare(repo) else ["-C", str(repo)]
    return subprocess.run(["git", *where, *args], capture_output=True, check=True, timeout=60).stdout


def describe(repo: Path) -> str:
    if not (is_bare(repo) or (repo / ".git").exists()):
        return f"{repo} (not a git checkout)"
    commit = git(repo, "log", "-1", "--format=%h %cs").decode().strip()
    return f"{repo} at {commit}" + ("" if is_bare(repo) else " (work tree)")


def read_tree(repo: Path, folders: Iterable[str]) -> dict[str, str]:
    """The text of every file under `folders`, by path in the repository: from HEAD
    for a bare git directory (it has no work tree), from the files for a checkout."""
    if is_bare(repo):
        archive = git(repo, "archive", "--format=tar", "HEAD", "--", *folders)
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            members = [m for m in tar.getmembers() if m.isfile()]
            return {m.name: tar.extractfile(m).read().decode() for m in members}  # type: ignore[union-attr]
    files: dict[str, str] = {}
    for folder in folders:
        for path in sorted((repo / folder).rglob("*")):
            if path.is_file():
                files[path.relative_to(repo).as_posix()] = path.read_text()
    return files


def problem(repo: Path | None, option: str, variable: str, name: str, folder: str) -> str | None:
    """What is wrong with the copy of repository `name` given, if anything."""
    if repo is None:
        return f"no copy of {name} given: pass {option} PATH or set {variable} (a clone, or a bare git directory)"
    if not (is_bare(repo) or (repo / folder).is_dir()):
        return f"{repo} is neither a bare git directory nor a copy of {name} (it has no {folder})"
    return None


# --- flake8-async's labels ---------------------------------------------------------


def libraries(text: str) -> list[str]:
    """The libraries under which flake8-async's harness expects the file's labels."""
    markers = set(re.findall(r"# ([A-Z_]+)", text))
    return [library for library, names in LIBRARY_MARKERS.items() if not markers & set(names)]


def own_code(name: str) -> str:
    """`async232_asyncio.py` -> ASYNC232: the code the harness enables for the file."""
    return PurePosixPath(name).stem.split("_")[0].upper()


def enabled_codes(name: str, text: str) -> set[str]:
    """As the harness does: the code the file is named after, unless `# ARG --enable=`."""
    codes = {own_code(name)}
    for match in ENABLE.finditer(text):
        codes = set(match.group(1).split(","))
    return codes


def comment_labels(name: str, source: SourceFile) -> dict[int, list[str]]:
    """Codes by line from the label comments."""
    own = own_code(name)
    labels: dict[int, list[str]] = {}
    for line, comment in source.comments.items():
        if codes := [own if code == "error" else code for code in LABEL.findall(comment)]:
            labels[line] = codes
    return labels


def flake8_async_corpus(repo: Path) -> Corpus:
    corpus = Corpus(F8A, describe(repo), {}, [], {}, {}, [])
    tree = read_tree(repo, [F8A_FOLDER])
    for path, text in sorted(tree.items()):
        name = PurePosixPath(path).name
        enabled = enabled_codes(name, text)
        if not name.endswith(".py") or not enabled & MAPPING.keys():
            continue
        source = source_file(text)
        labels = comment_labels(name, source)
        if not libraries(text):
            corpus.notes.append(f"{name}: raises nothing under any library; its {len(labels)} labels are left out")
            continue
        corpus.files[name] = source
        corpus.enabled[name] = enabled
        add_labels(corpus, name, labels)
    return corpus


def add_labels(corpus: Corpus, name: str, labels: dict[int, list[str]]) -> None:
    source = corpus.files[name]
    for line, codes in sorted(labels.items()):
        in_scope = tuple(sorted({code for code in codes if code in MAPPING}))
        if in_scope:
            corpus.labels.append(Label(name, line, in_scope, source.code[line - 1]))
        else:
            corpus.other_labels[(name, line)] = ",".join(sorted(set(codes)))


# --- ruff's labels ------------------------------------------------------------------


def snapshot_lines(text: str) -> list[tuple[str, str, int]]:
    """(code, fixture, line) of each diagnostic in a snapshot file."""
    for pattern in SNAPSHOT_DIAGNOSTIC:
        found = [(m["code"], PurePosixPath(m["file"]).name, int(m["line"])) for m in pattern.finditer(text)]
        if found:
            return found
    return []


def ruff_corpus(repo: Path) -> Corpus:
    corpus = Corpus(RUFF, describe(repo), {}, [], {}, defaultdict(set), [])
    tree = read_tree(repo, [RUFF_FIXTURES, RUFF_SNAPSHOTS])
    labels: dict[str, dict[int, list[str]]] = {}
    for path, text in sorted(tree.items()):
        match = SNAPSHOT_NAME.search(path)
        # Snapshots of the rules out of scope, and of other settings (ASYNC109 on 3.10), are skipped.
        if match is None or match[1] not in MAPPING:
            continue
        fixture = match[2]
        corpus.enabled[fixture].add(match[1])
        # A fixture whose snapshots are all empty is still in the corpus.
        by_line = labels.setdefault(fixture, defaultdict(list))
        for code, file, line in snapshot_lines(text):
            if file != fixture:
                corpus.notes.append(f"{PurePosixPath(path).name}: a diagnostic in {file}, not {fixture}; ignored")
                continue
            by_line[line].append(code)
    for fixture, lines in sorted(labels.items()):
        fixture_text = tree.get(f"{RUFF_FIXTURES}/{fixture}")
        if fixture_text is None:
            corpus.notes.append(f"{fixture}: snapshot without its fixture; skipped")
            continue
        corpus.files[fixture] = source_file(fixture_text)
        add_labels(corpus, fixture, lines)
    return corpus


# --- judging ------------------------------------------------------------------------


def judged(corpus: Corpus) -> dict[tuple[str, int], Judged]:
    """The corpus's entries of JUDGED_WRONG that still match a label and its source;
    an entry that does not is noted in the corpus, to be printed."""
    by_line = {(label.file, label.line): label for label in corpus.labels}
    found: dict[tuple[str, int], Judged] = {}
    for entry in JUDGED_WRONG:
        if entry.corpus != corpus.name:
            continue
        label = by_line.get((entry.file, entry.line))
        if label is None or entry.source not in label.source:
            corpus.notes.append(
                f"judged-wrong entry {entry.file}:{entry.line} `{entry.source}` matches no label: "
                f"the file changed, update JUDGED_WRONG"
            )
            continue
        found[(entry.file, entry.line)] = entry
    return found


# --- running the linters ------------------------------------------------------------


def write_corpus(corpus: Corpus, root: Path) -> Path:
    directory = root / corpus.name
    directory.mkdir(parents=True)
    for name, source in corpus.files.items():
        (directory / name).write_text(source.text)
    return directory


def run(command: list[str], cwd: Path) -> str:
    # Bounded: each tool takes a second or two on these ~30 files.
    completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False, timeout=120)
    if completed.returncode not in (0, 1):
        sys.exit(f"lint_corpus: `{' '.join(command)}` failed ({completed.returncode}):\n{completed.stderr}")
    return completed.stdout


def from_json(output: str) -> list[Finding]:
    return [
        Finding(Path(item["filename"]).name, item["location"]["row"], item["code"] or "", item["message"])
        for item in json.loads(output or "[]")
    ]


def asyncsafe(directory: Path) -> list[Finding]:
    command = [str(BIN / "asyncsafe-lint"), "check", "--output-format", "json", "--no-cache", "--exit-zero", "."]
    return from_json(run(command, directory))


def ruff(directory: Path) -> list[Finding]:
    # --preview: ruff's own tests enable each rule whether or not it is in preview (ASYNC240 is).
    command = [str(BIN / "ruff"), "check", "--isolated", "--preview", "--select", "ASYNC", "--no-cache",
               "--exit-zero", "--output-format", "json", "."]  # fmt: skip
    return from_json(run(command, directory))


def flake8_async(directory: Path) -> list[Finding]:
    command = [str(BIN / "flake8"), "--isolated", "--select", "ASYNC", "--exit-zero", "."]
    output = run(command, directory)
    return [
        Finding(Path(m["file"]).name, int(m["line"]), m["code"], m["message"]) for m in FLAKE8_LINE.finditer(output)
    ]


@dataclass(frozen=True)
class Tool:
    name: str
    check: Callable[[Path], list[Finding]]
    #: Which of its findings count on a label: "asf" for asyncsafe's ASF1xx/ASF2xx codes,
    #: "async" for the ASYNC codes of MAPPING (read as the asyncsafe code they map to).
    counts: Literal["asf", "async"] = "async"


ASYNCSAFE = Tool("asyncsafe-lint", asyncsafe, "asf")


def other_tools() -> list[Tool]:
    """flake8-async and ruff, when installed next to this interpreter."""
    tools: list[Tool] = []
    if (BIN / "flake8").exists() and has_distribution("flake8-async"):
        tools.append(Tool(F8A, flake8_async))
    if (BIN / "ruff").exists():
        tools.append(Tool(RUFF, ruff))
    return tools


def has_distribution(name: str) -> bool:
    try:
        importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def version(name: str) -> str:
    return importlib.metadata.version(name) if has_distribution(name) else "not installed"


# --- scoring ------------------------------------------------------------------------


def counted_codes(tool: Tool, findings: list[Finding], file: str, line: int) -> set[str]:
    """The codes this tool reports on the line that say "blocking call" or "no timeout",
    as asyncsafe codes."""
    codes = {f.code for f in findings if f.file == file and f.line == line}
    if tool.counts == "asf":
        return {code for code in codes if re.fullmatch(r"ASF[12]\d\d", code)}
    return {MAPPING[code] for code in codes if code in MAPPING}


@dataclass
class Score:
    accepted: int
    found: int
    mapped: int
    #: Every label, the judged wrong included, and how many of them are found: shows
    #: what the judgement changes.
    labels: int
    found_of_all: int

    def __add__(self, other: Score) -> Score:
        return Score(self.accepted + other.accepted, self.found + other.found, self.mapped + other.mapped,
                     self.labels + other.labels, self.found_of_all + other.found_of_all)  # fmt: skip

    def line(self, name: str) -> str:
        return (f"  {name:<16} {self.found:>5} {percent(self.found, self.accepted):>7}"
                f" {self.mapped:>7} {percent(self.mapped, self.accepted):>7}"
                f" {self.found_of_all:>7} {percent(self.found_of_all, self.labels):>7}")  # fmt: skip


HEADER = f"  {'':<16} {'found':>5} {'recall':>7} {'mapped':>7} {'recall':>7} {'all':>7} {'recall':>7}"
HEADER_NOTE = "  (found/mapped: of the accepted labels; all: of every label, the judged wrong included)"


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def score(tool: Tool, findings: list[Finding], accepted: list[Label], labels: list[Label] | None = None) -> Score:
    """How many labels the tool finds: the accepted ones, and all `labels` if given."""
    found = mapped = 0
    for label in accepted:
        codes = counted_codes(tool, findings, label.file, label.line)
        found += bool(codes)
        mapped += bool(codes & label.mapped)
    labels = accepted if labels is None else labels
    found_of_all = sum(bool(counted_codes(tool, findings, label.file, label.line)) for label in labels)
    return Score(len(accepted), found, mapped, len(labels), found_of_all)


# --- report -------------------------------------------------------------------------


def expected(label: Label) -> str:
    return ", ".join(f"{code} -> {MAPPING[code]}" for code in label.codes)


def print_per_code(accepted: list[Label], runs: dict[str, tuple[Tool, list[Finding]]]) -> None:
    print(f"  per code, accepted labels found by: {' / '.join(runs)}")
    by_code: dict[str, list[Label]] = defaultdict(list)
    for label in accepted:
        by_code[label.codes[0]].append(label)
    for code, labels in sorted(by_code.items()):
        counts = " / ".join(str(score(tool, findings, labels).found) for tool, findings in runs.values())
        print(f"    {code} -> {MAPPING[code]}  {len(labels):>3} accepted: {counts}")


def print_misses(accepted: list[Label], findings: list[Finding]) -> None:
    tool = ASYNCSAFE
    missed = [label for label in accepted if not counted_codes(tool, findings, label.file, label.line)]
    print(f"\n  missed by asyncsafe-lint ({len(missed)}):")
    for label in missed:
        print(f"    {label.where():<26} {label.source:<60} {expected(label)}")
    other = [
        (label, codes)
        for label in accepted
        if (codes := counted_codes(tool, findings, label.file, label.line)) and not codes & label.mapped
    ]
    if other:
        print(f"\n  found by asyncsafe-lint with another code than the mapped one ({len(other)}):")
        for label, codes in other:
            print(f"    {label.where():<26} {label.source:<60} {expected(label)}; got {', '.join(sorted(codes))}")


def print_judged(wrong: dict[tuple[str, int], Judged], findings: list[Finding]) -> None:
    """Grouped by reason, each line with what asyncsafe-lint reports there, if anything."""
    print(f"\n  labels judged wrong ({len(wrong)}), not counted:")
    by_reason: dict[str, list[Judged]] = defaultdict(list)
    for _, entry in sorted(wrong.items()):
        by_reason[entry.reason].append(entry)
    for reason, entries in by_reason.items():
        print(f"    {reason}:")
        for entry in entries:
            codes = sorted({f.code for f in findings if f.file == entry.file and f.line == entry.line})
            flagged = f"asyncsafe-lint: {', '.join(codes)}" if codes else ""
            where = f"{entry.file}:{entry.line}"
            print(f"      {where:<26} {entry.source:<32} {flagged}".rstrip())


def print_unlabelled(corpus: Corpus, wrong: dict[tuple[str, int], Judged], findings: list[Finding]) -> None:
    """asyncsafe-lint's findings on lines with no accepted label: possible false
    positives, or calls the labelling tool does not cover (its file enables one rule)."""
    accepted = {(label.file, label.line) for label in corpus.labels} - wrong.keys()
    extra = [f for f in findings if (f.file, f.line) not in accepted]
    print(f"\n  asyncsafe-lint's findings on lines with no accepted label ({len(extra)}):")
    for finding in extra:
        key = (finding.file, finding.line)
        source = corpus.files[finding.file]
        if key in wrong:
            why = "label judged wrong"
        elif key in corpus.other_labels:
            why = f"labelled {corpus.other_labels[key]}, out of scope"
        elif finding.line in hinted(source):
            why = f"no label, but its comment says `{source.comments[finding.line]}`"
        else:
            why = f"no label; the file is labelled for {','.join(sorted(corpus.enabled[finding.file]))} only"
        where = f"{finding.file}:{finding.line}"
        print(f"    {where:<26} {finding.code}  {source.code[finding.line - 1]:<40} ({why}) {finding.message}")


def hinted(source: SourceFile) -> set[int]:
    return {line for line, comment in source.comments.items() if SHOULD_ERROR.search(comment)}


def print_hinted(corpus: Corpus, findings: list[Finding]) -> None:
    """Lines without a label whose comment says the labelling tool should flag them
    but does not (flake8-async's "should error", "not handled"): not scored, as they
    are no label, but a call asyncsafe-lint misses there is worth a look."""
    flagged = {(f.file, f.line) for f in findings}
    lines = [(name, line) for name, source in corpus.files.items() for line in sorted(hinted(source))]
    if not lines:
        return
    print(f"\n  unlabelled lines the file says should be flagged, not scored ({len(lines)}):")
    for name, line in lines:
        source, where = corpus.files[name], f"{name}:{line}"
        found = "found" if (name, line) in flagged else "MISSED"
        print(f"    {where:<26} {found:<7} {source.code[line - 1]:<40} {source.comments[line]}")


def report(corpus: Corpus, runs: dict[str, tuple[Tool, list[Finding]]]) -> dict[str, Score]:
    wrong = judged(corpus)
    accepted = [label for label in corpus.labels if (label.file, label.line) not in wrong]
    print(f"\n== {corpus.name}: {corpus.origin}")
    print(f"  {len(corpus.files)} labelled files in scope: {', '.join(corpus.files)}")
    for note in corpus.notes:
        print(f"  note: {note}")
    codes = Counter(code for label in corpus.labels for code in label.codes)
    print(f"  labels (lines): {len(corpus.labels)} ({', '.join(f'{c} {n}' for c, n in sorted(codes.items()))}); "
          f"judged wrong {len(wrong)}; accepted {len(accepted)}")  # fmt: skip
    print(HEADER + "\n" + HEADER_NOTE)
    scores = {name: score(tool, findings, accepted, corpus.labels) for name, (tool, findings) in runs.items()}
    for name, result in scores.items():
        own = "  (its own labels: 100% by construction; less means another version)" if name == corpus.name else ""
        print(result.line(name) + own)
    print_per_code(accepted, runs)
    asyncsafe_findings = runs[ASYNCSAFE.name][1]
    print_misses(accepted, asyncsafe_findings)
    print_judged(wrong, asyncsafe_findings)
    print_unlabelled(corpus, wrong, asyncsafe_findings)
    print_hinted(corpus, asyncsafe_findings)
    return scores


def lint(corpus: Corpus, root: Path) -> dict[str, tuple[Tool, list[Finding]]]:
    directory = write_corpus(corpus, root)
    return {tool.name: (tool, tool.check(directory)) for tool in [ASYNCSAFE, *other_tools()]}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flake8-async", type=Path, default=os.environ.get("FLAKE8_ASYNC_REPO"),
                        help="clone or bare git directory of python-trio/flake8-async (or FLAKE8_ASYNC_REPO)")  # fmt: skip
    parser.add_argument("--ruff", type=Path, default=os.environ.get("RUFF_REPO"),
                        help="clone or bare git directory of astral-sh/ruff (or RUFF_REPO)")  # fmt: skip
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    problems = [
        problem(args.flake8_async, "--flake8-async", "FLAKE8_ASYNC_REPO", "python-trio/flake8-async", F8A_FOLDER),
        problem(args.ruff, "--ruff", "RUFF_REPO", "astral-sh/ruff", RUFF_FIXTURES),
    ]
    if any(problems):
        sys.exit("\n".join(f"lint_corpus: {p}" for p in problems if p))
    print(f"asyncsafe-lint {version('pytest-asyncsafe')}; flake8 {version('flake8')} with flake8-async "
          f"{version('flake8-async')}, ruff {version('ruff')} (installed; the repositories' commits may differ)")  # fmt: skip
    if len(other_tools()) < 2:
        print("note: flake8-async or ruff is not installed next to this interpreter (`make`): not run")
    print("scope: " + ", ".join(f"{code} -> {asf}" for code, asf in MAPPING.items()))
    corpora = [flake8_async_corpus(args.flake8_async), ruff_corpus(args.ruff)]
    totals: dict[str, Score] = {}
    with tempfile.TemporaryDirectory(prefix="lint_corpus-") as temporary:
        root = Path(temporary)
        # An empty table: every run uses asyncsafe-lint's defaults, whatever is above TMPDIR.
        (root / "pyproject.toml").write_text("[tool.asyncsafe]\n")
        for corpus in corpora:
            for name, result in report(corpus, lint(corpus, root)).items():
                totals[name] = totals[name] + result if name in totals else result
    print(f"\n== overall\n{HEADER}")
    for name, result in totals.items():
        print(result.line(name) + f"  ({result.accepted} accepted of {result.labels} labels)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
