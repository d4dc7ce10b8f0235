from __future__ import annotations

import ast

from asyncsafe_lint.changes import timeout_fix
from asyncsafe_lint.rule import Call, FixAvailability, Invalid, Rule

#: Calls that wait for a child process -> position of `timeout`, or None when it is
#: keyword-only (the `subprocess` helpers take the command as `*popenargs`).
_WAITS: dict[str, int | None] = {
    "subprocess.run": None,
    "subprocess.call": None,
    "subprocess.check_call": None,
    "subprocess.check_output": None,
    "subprocess.Popen.communicate": 1,
    "subprocess.Popen.wait": 0,
}


class SubprocessWithoutTimeout(Rule):
    code = "ASF206"
    name = "subprocess-without-timeout"
    fix_availability = FixAvailability.ALWAYS
    summary = "Waiting for a subprocess without `timeout=` can block forever"
    message = "`{call}()` {problem}: a child process that hangs blocks this thread forever; pass `timeout=` seconds"
    triggers = ("subprocess",)
    docs = """
## What it does
Flags the `subprocess` calls that wait for a child process to finish -
`subprocess.run()`, `call()`, `check_call()`, `check_output()`, and
`Popen.communicate()` / `Popen.wait()` - when they pass no `timeout=` or pass
`timeout=None`. `Popen` objects are recognised through assignments
(`proc = subprocess.Popen(...)`), `with subprocess.Popen(...) as proc:`, chained
calls and annotations. The timeout of `communicate()` and `wait()` may also be
given positionally. A call that passes `**kwargs` (or, for the two `Popen`
methods, `*args`) is left alone, since they may carry the timeout.

Compared with ruff and flake8-async: `ASYNC220`-`ASYNC222` flag these calls only
inside an `async def` - where the fix is an async subprocess API, not a timeout -
and ruff's `S602`-`S607` are about shell and command injection. Nothing flags a wait without a
timeout in sync code (routes, dependencies, background jobs, thread pool workers),
which is where this rule is most useful.

This family is not the one flake8-async's `ASYNC109` is about: `ASYNC109` tells
you not to give *your own* `async def` a `timeout` parameter and to let callers use
a timeout context manager instead. The ASF2xx rules ask for a timeout on *calls
into libraries* that would otherwise wait forever; in async code, a scope such as
`async with asyncio.timeout(5):` around the awaited call is the recommended form.

## Why is this bad?
A child process can hang for many reasons: it waits for input on a pipe nobody
writes, a network mount stalls, it prompts for a password, or it deadlocks. Without
a timeout the parent waits with it, holding its thread - in a web application often
one of the few threads that serve every sync endpoint - for good. With `timeout=`,
the call raises `subprocess.TimeoutExpired` instead (and `run()` kills the child).

## Example
```python
import subprocess

def git_revision() -> str:
    return subprocess.check_output(["git", "rev-parse", "HEAD"], text=True).strip()
```

## Use instead
```python
import subprocess

def git_revision() -> str:
    return subprocess.check_output(["git", "rev-parse", "HEAD"], text=True, timeout=5).strip()
```

## Fix safety
The fix adds `timeout=` with the number of seconds that `default-timeout` in
`[tool.asyncsafe]` sets (10 when it is not set), or puts that number in place of a
`None` passed as the timeout.

The fix is unsafe: a command that takes longer than that is now killed (by `run()`)
or left running while `subprocess.TimeoutExpired` is raised (by `wait()` and
`communicate()`, which do not kill it: the caller must). Long builds and backups need
a larger number.
"""
    valid = (
        "import subprocess\nsubprocess.run(['ls'], timeout=10)\n",
        "import subprocess\nsubprocess.check_output(['ls'], timeout=10, text=True)\n",
        "import subprocess\np = subprocess.Popen(['ls'])\np.wait(5)\n",
        "import subprocess\np = subprocess.Popen(['ls'])\np.wait(timeout=5)\n",
        "import subprocess\np = subprocess.Popen(['ls'], stdout=subprocess.PIPE)\nout, _ = p.communicate(None, 5)\n",
        "import subprocess\nwith subprocess.Popen(['ls']) as p:\n    p.communicate(timeout=30)\n",
        "import subprocess\ndef run(*args, **kwargs):\n    return subprocess.run(*args, **kwargs)\n",
        "import subprocess\ndef wait(p: subprocess.Popen, *args):\n    return p.wait(*args)\n",
        "import subprocess\nsubprocess.Popen(['server'])\n",
        "import subprocess\np = subprocess.Popen(['ls'])\np.poll()\np.kill()\n",
        "import subprocess\nsubprocess.run(['ls'])  # noqa: ASF206\n",
        "import subprocess\nsubprocess.run(['ls'])  # asyncsafe: ignore[ASF206]\n",
        "import asyncio\nasync def f():\n    proc = await asyncio.create_subprocess_exec('ls')\n    await proc.wait()\n",
        "import threading\nt = threading.Thread(target=print)\nt.start()\nt.join()\n",
    )
    invalid = (
        Invalid(
            "import subprocess\nsubprocess.run(['ls'])  # expect: ASF206\n",
            "`subprocess.run()` has no timeout: a child process that hangs blocks this thread forever; pass `timeout=` seconds",
            fixed="import subprocess\nsubprocess.run(['ls'], timeout=10)  # expect: ASF206\n",
        ),
        Invalid(
            "import subprocess\nsubprocess.run(['ls'], timeout=None)  # expect: ASF206\n",
            "`subprocess.run()` sets `timeout=None`: a child process that hangs blocks this thread forever; pass `timeout=` seconds",
            fixed="import subprocess\nsubprocess.run(['ls'], timeout=10)  # expect: ASF206\n",
        ),
        Invalid(
            "import subprocess as sp\nsp.check_call(['make'])  # expect: ASF206\n",
            "`subprocess.check_call()` has no timeout: a child process that hangs blocks this thread forever; pass `timeout=` seconds",
            fixed="import subprocess as sp\nsp.check_call(['make'], timeout=10)  # expect: ASF206\n",
        ),
        Invalid(
            "from subprocess import check_output as out\nout(['git', 'status'])  # expect: ASF206\n",
            "`subprocess.check_output()` has no timeout: a child process that hangs blocks this thread forever; pass `timeout=` seconds",
            fixed="from subprocess import check_output as out\nout(['git', 'status'], timeout=10)  # expect: ASF206\n",
        ),
        Invalid(
            "from subprocess import call\ncall('ls', shell=True)  # expect: ASF206\n",
            "`subprocess.call()` has no timeout: a child process that hangs blocks this thread forever; pass `timeout=` seconds",
            fixed="from subprocess import call\ncall('ls', shell=True, timeout=10)  # expect: ASF206\n",
        ),
        # `*popenargs` cannot carry the keyword-only timeout.
        Invalid(
            "import subprocess\ndef f(*cmd):\n    return subprocess.run(*cmd)  # expect: ASF206\n",
            "`subprocess.run()` has no timeout: a child process that hangs blocks this thread forever; pass `timeout=` seconds",
            fixed="import subprocess\ndef f(*cmd):\n    return subprocess.run(*cmd, timeout=10)  # expect: ASF206\n",
        ),
        Invalid(
            "import subprocess\np = subprocess.Popen(['ls'])\np.wait()  # expect: ASF206\n",
            "`subprocess.Popen.wait()` has no timeout: a child process that hangs blocks this thread forever; pass `timeout=` seconds",
            fixed="import subprocess\np = subprocess.Popen(['ls'])\np.wait(timeout=10)  # expect: ASF206\n",
        ),
        Invalid(
            "import subprocess\np = subprocess.Popen(['ls'])\np.wait(None)  # expect: ASF206\n",
            "`subprocess.Popen.wait()` sets `timeout=None`: a child process that hangs blocks this thread forever; pass `timeout=` seconds",
            fixed="import subprocess\np = subprocess.Popen(['ls'])\np.wait(10)  # expect: ASF206\n",
        ),
        Invalid(
            "import subprocess\np = subprocess.Popen(['cat'], stdin=subprocess.PIPE)\np.communicate(b'input')  # expect: ASF206\n",
            "`subprocess.Popen.communicate()` has no timeout: a child process that hangs blocks this thread forever; pass `timeout=` seconds",
            fixed="import subprocess\np = subprocess.Popen(['cat'], stdin=subprocess.PIPE)\np.communicate(b'input', timeout=10)  # expect: ASF206\n",
        ),
        Invalid(
            "import subprocess\nwith subprocess.Popen(['ls']) as p:\n    p.communicate()  # expect: ASF206\n",
            "`subprocess.Popen.communicate()` has no timeout: a child process that hangs blocks this thread forever; pass `timeout=` seconds",
            fixed="import subprocess\nwith subprocess.Popen(['ls']) as p:\n    p.communicate(timeout=10)  # expect: ASF206\n",
        ),
        Invalid(
            "import subprocess\nsubprocess.Popen(['ls']).wait()  # expect: ASF206\n",
            "`subprocess.Popen.wait()` has no timeout: a child process that hangs blocks this thread forever; pass `timeout=` seconds",
            fixed="import subprocess\nsubprocess.Popen(['ls']).wait(timeout=10)  # expect: ASF206\n",
        ),
        Invalid(
            "from subprocess import Popen\nclass Job:\n    def __init__(self):\n        self.proc = Popen(['worker'])\n"
            "    def stop(self):\n        self.proc.terminate()\n        self.proc.wait()  # expect: ASF206\n",
            "`subprocess.Popen.wait()` has no timeout: a child process that hangs blocks this thread forever; pass `timeout=` seconds",
            fixed="from subprocess import Popen\nclass Job:\n    def __init__(self):\n        self.proc = Popen(['worker'])\n    def stop(self):\n        self.proc.terminate()\n        self.proc.wait(timeout=10)  # expect: ASF206\n",
        ),
        Invalid(
            "import subprocess\ndef f(p: subprocess.Popen):\n    p.communicate(timeout=None)  # expect: ASF206\n",
            "`subprocess.Popen.communicate()` sets `timeout=None`: a child process that hangs blocks this thread forever; pass `timeout=` seconds",
            fixed="import subprocess\ndef f(p: subprocess.Popen):\n    p.communicate(timeout=10)  # expect: ASF206\n",
        ),
        Invalid(
            "import subprocess\nasync def f():\n    subprocess.run(['ls'])  # expect: ASF206\n",
            "`subprocess.run()` has no timeout: a child process that hangs blocks this thread forever; pass `timeout=` seconds",
            fixed="import subprocess\nasync def f():\n    subprocess.run(['ls'], timeout=10)  # expect: ASF206\n",
        ),
        Invalid(
            "import subprocess\nsubprocess.run(['ls'])  # noqa: ASF205  # expect: ASF206\n",
            "`subprocess.run()` has no timeout: a child process that hangs blocks this thread forever; pass `timeout=` seconds",
            fixed="import subprocess\nsubprocess.run(['ls'], timeout=10)  # noqa: ASF205  # expect: ASF206\n",
        ),
    )

    def visit_call(self, call: Call) -> None:
        if not isinstance(call.node, ast.Call) or call.name not in _WAITS:
            return
        problem = call.timeout_problem(_WAITS[call.name])
        if problem is not None:
            fix = timeout_fix(
                self.source, call.node, call.argument("timeout", _WAITS[call.name]), self.settings.default_timeout
            )
            self.report(call.node, fix=fix, call=call.name, problem=problem)
