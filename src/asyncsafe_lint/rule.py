"""The base class of every rule, and the facts the engine hands to rules.

A rule is a small class that carries everything about itself: its code and
kebab-case name, the message it reports, its documentation (the sections ruff uses)
and VALID/INVALID examples that the test suite runs.  An INVALID example (`Invalid`)
states what the rule must report, as Fixit's do: every line the rule must flag ends
with `# expect: CODE` (the convention `fixtures_app/` uses too), the messages follow
the source, and `fixed=` gives the source once the rule's fixes are applied.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import ClassVar, Protocol, TypeVar, cast

from asyncsafe_lint.changes import timeout_fix
from asyncsafe_lint.diagnostics import Diagnostic, Fix, Location, Place
from asyncsafe_lint.roles import Roles
from asyncsafe_lint.source import Located, Source
from asyncsafe_lint.syntax import Function, argument


class RuleSettings(Protocol):
    """What rules read of the settings (`config.Settings`): the rules know no more of
    the configuration than this."""

    @property
    def blocking_calls(self) -> tuple[tuple[str, str], ...]: ...

    @property
    def default_timeout(self) -> float: ...


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RuleContext:
    """What the engine gives each rule for the file it checks."""

    settings: RuleSettings
    tree: ast.Module
    #: The file's text, and where its nodes start and end.
    source: Source
    #: What the framework makes of the module's functions; complete once the walk is
    #: over (a route registered with `add_api_route` further down, say).
    roles: Roles
    #: The helpers the rules of the file share (see `shared`).
    helpers: dict[type, object] = field(default_factory=dict, compare=False)

    def shared(self, kind: type[T], make: Callable[[RuleContext], T]) -> T:
        """The file's one helper of type `kind`, made by `make` the first time a rule
        asks for it: what several rules need to know of the file is worked out once."""
        if kind not in self.helpers:
            self.helpers[kind] = make(self)
        return cast(T, self.helpers[kind])


DOCS_URL = "https://github.com/asyncsafe/asyncsafe/blob/main/docs/rules.md"
DOC_SECTIONS = ("What it does", "Why is this bad?", "Example", "Use instead", "Fix safety")


class FixAvailability(Enum):
    """Whether a rule's findings come with a fix, in ruff's words (its `rule` output)."""

    ALWAYS = "Fix is always available."
    SOMETIMES = "Fix is sometimes available."
    NONE = "Fix is not available."


@dataclass(frozen=True, slots=True)
class Call:
    """A call found in the code, with what the engine knows about it."""

    #: The `Call` node, or the `withitem` of a `with lock:` (a call to `__enter__`).
    node: ast.Call | ast.withitem
    #: Qualified name of what is called (`time.sleep`, `httpx.Client.get`,
    #: `builtins.open`, `threading.Lock.__enter__`), or None when it cannot be known.
    name: str | None
    #: The innermost function around the call; None at module or class level.
    function: Function | None
    #: True when the call runs on the event loop (directly in an `async def` body).
    on_loop: bool

    def argument(self, keyword: str, position: int | None = None) -> ast.expr | None:
        """The value passed as `keyword=` or, when `position` is given, in that position."""
        return argument(self.node, keyword, position) if isinstance(self.node, ast.Call) else None

    def keyword(self, name: str) -> ast.keyword | None:
        """The `name=...` argument itself, to point a finding at."""
        if isinstance(self.node, ast.Call):
            return next((keyword for keyword in self.node.keywords if keyword.arg == name), None)
        return None

    def has_splat(self) -> bool:
        """True when `*args` or `**kwargs` may pass arguments the linter cannot see."""
        return self.has_keyword_splat() or (
            isinstance(self.node, ast.Call) and any(isinstance(arg, ast.Starred) for arg in self.node.args)
        )

    def has_keyword_splat(self) -> bool:
        """True when `**kwargs` may pass keyword arguments the linter cannot see."""
        return isinstance(self.node, ast.Call) and any(keyword.arg is None for keyword in self.node.keywords)

    def may_carry(self, position: int | None) -> bool:
        """True when an argument the call does not show (a keyword, or one that may also be
        passed in `position`) may be passed by a splat the linter cannot see into."""
        return self.has_splat() if position is not None else self.has_keyword_splat()

    def timeout_problem(self, position: int | None) -> str | None:
        """What is wrong with the call's `timeout` (passed as `timeout=` or, when the API
        allows, in `position`): it is missing or `None`.  None when it is given, or when
        a splat the linter cannot see into may carry it."""
        timeout = self.argument("timeout", position)
        if timeout is not None:
            return "sets `timeout=None`" if is_none(timeout) else None
        return None if self.may_carry(position) else "has no timeout"


class Invalid:
    """Code a rule must flag, and exactly what it must report there."""

    __slots__ = ("fixed", "messages", "source")

    def __init__(self, source: str, *messages: str, fixed: str | None = None) -> None:
        #: The code; each line to flag ends with `# expect: CODE`.
        self.source = source
        #: One message per finding, in the order of the lines (a distinctive part of
        #: the message will do).
        self.messages = messages
        #: The source once every fix the rule offers here is applied (unsafe ones
        #: included); None when it offers none.
        self.fixed = fixed


def is_none(value: ast.expr | None) -> bool:
    return isinstance(value, ast.Constant) and value.value is None


@dataclass(frozen=True, slots=True)
class Finding:
    """What a rule reports: the node to point at and the fields of its message."""

    node: Located
    message: str
    fix: Fix | None = None
    place: Place | None = None


class Rule:
    """Subclass this, fill in the class attributes, and override the hooks you need.

    The engine makes one instance per file and calls the hooks during its single walk
    of the syntax tree; a hook reports by calling `self.report`.
    """

    code: ClassVar[str]
    name: ClassVar[str]
    #: One line for the rule table.
    summary: ClassVar[str]
    #: `str.format` template; `report` fills it in.
    message: ClassVar[str]
    #: Markdown with the sections of `DOC_SECTIONS`, as `## Section` headings.
    docs: ClassVar[str]
    valid: ClassVar[Sequence[str]] = ()
    invalid: ClassVar[Sequence[Invalid]] = ()
    #: Whether its findings carry a fix; the test suite holds it to the INVALID examples.
    fix_availability: ClassVar[FixAvailability] = FixAvailability.NONE
    #: Text that must occur in a file for the rule to find anything there; the rule is
    #: not run on a file that holds none of its triggers.
    triggers: ClassVar[Sequence[str]] = ()

    def __init__(self, context: RuleContext) -> None:
        self.settings = context.settings
        self.tree = context.tree
        self.source = context.source
        self.roles = context.roles
        self._findings: list[Finding] = []

    def report(self, node: Located, *, fix: Fix | None = None, function: str | None = None, **fields: object) -> None:
        """Reports `node` with the message filled in from `fields`.  When the message
        says where the code runs (its `{where}` field), `function` is the qualified name
        of the function the code is in, so that the project pass can say it better."""
        place = None
        if function is not None:
            before, after = self.message.split("{where}")
            place = Place(function, str(fields["where"]), before.format(**fields), after.format(**fields))
        self._findings.append(Finding(node, self.message.format(**fields), fix, place))

    def findings(self) -> Iterator[Finding]:
        yield from self._findings

    @classmethod
    def diagnostic(
        cls, filename: str, start: Location, end: Location, *, fix: Fix | None = None, **fields: object
    ) -> Diagnostic:
        """A finding of this rule made without a walk (the file could not be read or
        parsed, or the project pass found it), its message filled in from `fields`."""
        return Diagnostic(filename, start, end, cls.code, cls.name, cls.message.format(**fields), fix)

    # --- hooks ---------------------------------------------------------------------------
    def visit_call(self, call: Call) -> None:
        """Called for every call in the file."""

    def leave_module(self) -> None:
        """Called once the whole file has been walked, for rules that gather first."""

    @classmethod
    def url(cls) -> str:
        return f"{DOCS_URL}#{cls.code.lower()}-{cls.name}"


class BlockingCallRule(Rule):
    """A rule that flags calls, made on the event loop, to a known set of blocking APIs."""

    message = "Blocking call `{call}()` {where}: {instead}"
    triggers = ("async",)
    #: Qualified name of each blocking callable -> what to use instead.
    calls: ClassVar[dict[str, str]] = {}
    #: Every method of these types blocks, except the ones listed -> what to use instead.
    any_method_of: ClassVar[dict[str, str]] = {}
    harmless_methods: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def flagged_names(cls, settings: RuleSettings) -> frozenset[str]:
        """Every name the rule may flag, but the methods of its `any_method_of` types: a
        call to anything else needs no look at the rule."""
        return frozenset(cls.calls)

    @classmethod
    def flagged_types(cls, settings: RuleSettings) -> frozenset[str]:
        """The types whose methods the rule flags (`httpx.Client`): where another module
        imports an instance of one, typing it there can change a finding."""
        return frozenset({name.rpartition(".")[0] for name in cls.flagged_names(settings)} | set(cls.any_method_of))

    def instead(self, call: Call) -> str | None:
        """What to use instead of `call`, or None when the call does not block."""
        assert call.name is not None
        if call.name in self.calls:
            return self.calls[call.name]
        owner, _, method = call.name.rpartition(".")
        if owner in self.any_method_of and method not in self.harmless_methods and not method.startswith("_"):
            return self.any_method_of[owner]
        return None

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        self._blocking: list[tuple[Call, str]] = []

    def visit_call(self, call: Call) -> None:
        if not call.on_loop or call.name is None or call.function is None:
            return
        instead = self.instead(call)
        if instead is not None:
            self._blocking.append((call, instead))

    def leave_module(self) -> None:
        # Reported once the walk is over: only then is it known what the function is to
        # the framework (a route registered with `add_api_route` further down, say).
        for call, instead in self._blocking:
            assert call.function is not None
            where = self.roles.where(call.function)
            function = call.function.qualname
            self.report(call.node, fix=self.fix(call), function=function, call=call.name, where=where, instead=instead)

    def fix(self, call: Call) -> Fix | None:
        """The fix for a blocking call, for the rules that have one."""
        return None


class SocketTimeoutRule(Rule):
    """A rule for calls whose timeout falls back to the process-wide socket default: it
    stays silent in a file that sets one with `socket.setdefaulttimeout(<seconds>)`."""

    #: Qualified name of each call -> the position its `timeout` may be passed in.
    timeout_positions: ClassVar[dict[str, int]] = {}

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        self._pending: list[tuple[Call, str]] = []
        self._default_timeout = False

    def visit_call(self, call: Call) -> None:
        if not isinstance(call.node, ast.Call) or call.name is None:
            return
        if call.name == "socket.setdefaulttimeout":
            value = call.argument("timeout", 0)
            self._default_timeout |= value is not None and not is_none(value)
        elif call.name in self.timeout_positions:
            problem = call.timeout_problem(self.timeout_positions[call.name])
            if problem is not None:
                self._pending.append((call, problem))

    def leave_module(self) -> None:
        if not self._default_timeout:
            for call, problem in self._pending:
                assert call.name is not None
                position = self.timeout_positions[call.name]
                fix = timeout_fix(
                    self.source, call.node, call.argument("timeout", position), self.settings.default_timeout
                )
                self.report(call.node, fix=fix, call=call.name, problem=problem)
