from __future__ import annotations

from asyncsafe_lint.rule import FixAvailability, Invalid, SocketTimeoutRule

#: Callables that open a URL -> position of `timeout` (after `url` and `data`).
_OPENERS = {
    "urllib.request.urlopen": 2,
    "urllib.request.OpenerDirector.open": 2,
    "six.moves.urllib.request.urlopen": 2,
}


class UrlopenWithoutTimeout(SocketTimeoutRule):
    code = "ASF204"
    name = "urlopen-without-timeout"
    fix_availability = FixAvailability.ALWAYS
    summary = "`urllib.request.urlopen()` without a timeout can wait forever"
    message = "`{call}()` {problem}: it waits as long as the socket default allows, which is forever unless set; pass `timeout=` seconds"
    triggers = ("urlopen", "build_opener", "OpenerDirector")
    timeout_positions = _OPENERS
    docs = """
## What it does
Flags `urllib.request.urlopen()` and `OpenerDirector.open()` (the opener that
`urllib.request.build_opener()` returns) called without a timeout or with
`timeout=None`. The timeout counts whether it is given as `timeout=` or as the
third positional argument, after `url` and `data`. A call that passes `*args` or
`**kwargs` is left alone, since they may carry the timeout; so is every call in a
file that sets a process-wide default with `socket.setdefaulttimeout(<seconds>)`.

Compared with ruff and flake8-async: `ASYNC210` flags `urlopen()` only inside an
`async def`, and regardless of its timeout; ruff's `S113` covers only `requests`
and `httpx`, and `S310` is about which URL schemes may be opened. Nothing flags a
missing timeout on `urlopen()` in the sync code - routes, dependencies, thread pool
workers, scripts - where it actually hangs a thread.

This family is not the one flake8-async's `ASYNC109` is about: `ASYNC109` tells
you not to give *your own* `async def` a `timeout` parameter and to let callers use
a timeout context manager instead. The ASF2xx rules ask for a timeout on *calls
into libraries* that would otherwise wait forever; in async code, a scope such as
`async with asyncio.timeout(5):` around the awaited call is the recommended form.

## Why is this bad?
Without a timeout, `urlopen()` uses the global socket default, which is "no
timeout" unless the program changed it. A server that accepts the connection and
then stalls keeps the calling thread blocked indefinitely; in a web application
that thread usually belongs to a small pool shared by every sync endpoint, so a
few stuck calls are enough to make the whole service unresponsive.

## Example
```python
import json
from urllib.request import urlopen

def latest_release() -> str:
    with urlopen("https://api.example.com/releases/latest") as response:
        return json.load(response)["tag"]
```

## Use instead
```python
import json
from urllib.request import urlopen

def latest_release() -> str:
    with urlopen("https://api.example.com/releases/latest", timeout=10) as response:
        return json.load(response)["tag"]
```

## Fix safety
The fix adds `timeout=` with the number of seconds that `default-timeout` in
`[tool.asyncsafe]` sets (10 when it is not set), or puts that number in place of a
`None` passed as the timeout.

The fix is unsafe: a download that used to be waited on for as long as it took now
raises `TimeoutError` (`socket.timeout`) once a read waits longer than that.
"""
    valid = (
        "import urllib.request\nurllib.request.urlopen('https://example.com', timeout=5)\n",
        "from urllib.request import urlopen\nurlopen('https://example.com', None, 5)\n",
        "from urllib.request import urlopen\ndef f(*args):\n    return urlopen(*args)\n",
        "from urllib.request import urlopen\ndef f(url, **kw):\n    return urlopen(url, **kw)\n",
        "import urllib.request\nopener = urllib.request.build_opener()\nopener.open('https://example.com', timeout=3)\n",
        "import socket\nfrom urllib.request import urlopen\nsocket.setdefaulttimeout(10)\nurlopen('https://example.com')\n",
        "from urllib.request import urlopen\nurlopen('https://example.com')  # noqa: ASF204\n",
        "from urllib.request import urlopen\nurlopen('https://example.com')  # asyncsafe: ignore[ASF204]\n",
        "def urlopen(url):\n    pass\nurlopen('https://example.com')\n",
        "import webbrowser\nwebbrowser.open('https://example.com')\n",
    )
    invalid = (
        Invalid(
            "import urllib.request\nurllib.request.urlopen('https://example.com')  # expect: ASF204\n",
            "`urllib.request.urlopen()` has no timeout: it waits as long as the socket default allows, which is forever unless set; pass `timeout=` seconds",
            fixed="import urllib.request\nurllib.request.urlopen('https://example.com', timeout=10)  # expect: ASF204\n",
        ),
        Invalid(
            "import urllib.request as ur\nur.urlopen('https://example.com', timeout=None)  # expect: ASF204\n",
            "`urllib.request.urlopen()` sets `timeout=None`: it waits as long as the socket default allows, which is forever unless set; pass `timeout=` seconds",
            fixed="import urllib.request as ur\nur.urlopen('https://example.com', timeout=10)  # expect: ASF204\n",
        ),
        Invalid(
            "from urllib.request import urlopen as fetch\nwith fetch('https://example.com') as r:  # expect: ASF204\n    r.read()\n",
            "`urllib.request.urlopen()` has no timeout: it waits as long as the socket default allows, which is forever unless set; pass `timeout=` seconds",
            fixed="from urllib.request import urlopen as fetch\nwith fetch('https://example.com', timeout=10) as r:  # expect: ASF204\n    r.read()\n",
        ),
        # The second positional argument is `data`, not the timeout.
        Invalid(
            "from urllib.request import urlopen\nurlopen('https://example.com', b'payload')  # expect: ASF204\n",
            "`urllib.request.urlopen()` has no timeout: it waits as long as the socket default allows, which is forever unless set; pass `timeout=` seconds",
            fixed="from urllib.request import urlopen\nurlopen('https://example.com', b'payload', timeout=10)  # expect: ASF204\n",
        ),
        Invalid(
            "from urllib.request import urlopen\nurlopen('https://example.com', None, None)  # expect: ASF204\n",
            "`urllib.request.urlopen()` sets `timeout=None`: it waits as long as the socket default allows, which is forever unless set; pass `timeout=` seconds",
            fixed="from urllib.request import urlopen\nurlopen('https://example.com', None, 10)  # expect: ASF204\n",
        ),
        Invalid(
            "import urllib.request\nopener = urllib.request.build_opener()\nopener.open('https://example.com')  # expect: ASF204\n",
            "`urllib.request.OpenerDirector.open()` has no timeout: it waits as long as the socket default allows, which is forever unless set; pass `timeout=` seconds",
            fixed="import urllib.request\nopener = urllib.request.build_opener()\nopener.open('https://example.com', timeout=10)  # expect: ASF204\n",
        ),
        Invalid(
            "import urllib.request\nasync def f():\n    urllib.request.urlopen('https://example.com')  # expect: ASF204\n",
            "`urllib.request.urlopen()` has no timeout: it waits as long as the socket default allows, which is forever unless set; pass `timeout=` seconds",
            fixed="import urllib.request\nasync def f():\n    urllib.request.urlopen('https://example.com', timeout=10)  # expect: ASF204\n",
        ),
        Invalid(
            "import socket\nfrom urllib.request import urlopen\nsocket.setdefaulttimeout(None)\n"
            "urlopen('https://example.com')  # expect: ASF204\n",
            "`urllib.request.urlopen()` has no timeout: it waits as long as the socket default allows, which is forever unless set; pass `timeout=` seconds",
            fixed="import socket\nfrom urllib.request import urlopen\nsocket.setdefaulttimeout(None)\nurlopen('https://example.com', timeout=10)  # expect: ASF204\n",
        ),
        Invalid(
            "from urllib.request import urlopen\nurlopen('https://example.com')  # noqa: ASF205  # expect: ASF204\n",
            "`urllib.request.urlopen()` has no timeout: it waits as long as the socket default allows, which is forever unless set; pass `timeout=` seconds",
            fixed="from urllib.request import urlopen\nurlopen('https://example.com', timeout=10)  # noqa: ASF205  # expect: ASF204\n",
        ),
    )
