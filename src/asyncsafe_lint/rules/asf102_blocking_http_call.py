from asyncsafe_lint.rule import BlockingCallRule, Invalid

_HTTPX = "use `await client.{}()` on an `httpx.AsyncClient`"
#: httpx and httpx2, Pydantic's maintained continuation of it (same API, its own import name).
_HTTPX_MODULES = ("httpx", "httpx2")
_VERBS = ("get", "post", "put", "patch", "delete", "head", "options", "request")
_URLLIB3 = "use an `httpx.AsyncClient` (or `aiohttp`)"
_HTTP_CLIENT = "use an `httpx.AsyncClient` (or `asyncio.open_connection()` for raw HTTP)"


class BlockingHttpCall(BlockingCallRule):
    code = "ASF102"
    name = "blocking-http-call"
    summary = "A synchronous HTTP client (`requests`, `httpx.Client`, `urllib`) in async code"
    calls = {
        **{f"requests.{verb}": _HTTPX.format(verb) for verb in _VERBS},
        **{f"requests.api.{verb}": _HTTPX.format(verb) for verb in _VERBS},
        **{f"requests.Session.{verb}": _HTTPX.format(verb) for verb in (*_VERBS, "send")},
        **{
            f"{module}.{verb}": _HTTPX.format(verb).replace("httpx.", f"{module}.")
            for module in _HTTPX_MODULES
            for verb in (*_VERBS, "stream")
        },
        **{
            f"{module}.Client.{verb}": _HTTPX.format(verb).replace("httpx.", f"{module}.")
            for module in _HTTPX_MODULES
            for verb in (*_VERBS, "send", "stream")
        },
        "urllib.request.urlopen": _HTTPX.format("get"),
        "urllib.request.urlretrieve": "stream the download with an `httpx.AsyncClient`",
        "urllib.request.OpenerDirector.open": _HTTPX.format("get"),
        "urllib3.request": _URLLIB3,
        **{
            f"urllib3.{pool}.{method}": _URLLIB3
            for pool in ("PoolManager", "HTTPConnectionPool", "HTTPSConnectionPool")
            for method in ("request", "urlopen", "request_encode_url", "request_encode_body")
        },
        **{
            f"http.client.{connection}.{method}": _HTTP_CLIENT
            for connection in ("HTTPConnection", "HTTPSConnection")
            for method in ("connect", "request", "send", "endheaders", "getresponse")
        },
        # Reading the body of a response is a read from its socket.
        **{
            f"http.client.HTTPResponse.{method}": _HTTP_CLIENT
            for method in ("read", "read1", "readline", "readlines", "readinto")
        },
    }
    docs = """
## What it does
Flags a synchronous HTTP request made directly in the body of an `async def`:
the `requests` functions and `requests.Session` methods, the `httpx` functions and
`httpx.Client` methods (never `httpx.AsyncClient`), the same of `httpx2` (Pydantic's
maintained continuation of httpx, imported as `httpx2`), `urllib.request.urlopen()`,
`urlretrieve()` and `build_opener().open()`, `urllib3` and its pools, and
`http.client` connections.  Clients are recognised through aliases, assignments,
annotations (`httpx.Client | None`, `Optional[...]`, `Annotated[...]`) and attributes
set in `__init__` (`self.client = httpx.Client()`).

ruff and flake8-async cover part of this: ASYNC210 (`requests`/`httpx` module
functions, `urlopen()`, `urllib3.request()`), ASYNC211 (flake8-async only: a
`.request("GET", ...)`-shaped call when `urllib3` is imported) and ASYNC212 (methods
of an `httpx.Client`, and in flake8-async of `urllib3` pools, held in a plain local
variable).  Neither knows `requests.Session` (nor `requests.session()`),
`requests.api.*`, `httpx.stream()`, `http.client`, `urlretrieve()` or
`OpenerDirector.open()`, and neither follows a client kept on `self`.

## Why is this bad?
A synchronous client waits for DNS, the TCP and TLS handshakes and the whole response
on the thread that called it. In async code that thread runs the event loop, so every
other request on the worker stalls for as long as the remote server takes to answer,
which is exactly when a slow dependency turns into an outage.

## Example
```python
import requests

@app.get("/weather")
async def weather(city: str):
    response = requests.get(f"https://api.example.com/{city}", timeout=5)
    return response.json()
```

## Use instead
```python
import httpx

client = httpx.AsyncClient(timeout=5)

@app.get("/weather")
async def weather(city: str):
    response = await client.get(f"https://api.example.com/{city}")
    return response.json()
```
If the code must stay synchronous, run it in a thread:
`await anyio.to_thread.run_sync(fetch_weather, city)`.

## Fix safety
There is no automatic fix.
"""
    valid = (
        "import httpx2\nasync def f():\n    async with httpx2.AsyncClient() as client:\n        await client.get('u')\n",
        "import httpx\nasync def f():\n"
        "    async with httpx.AsyncClient(timeout=5) as client:\n        await client.get('u')\n",
        "import httpx\nclient = httpx.AsyncClient(timeout=5)\nasync def f():\n    await client.post('u')\n",
        "import requests\ndef f():\n    return requests.get('u', timeout=5)\n",
        "import requests\nasync def f():\n"
        "    def fetch():\n        return requests.get('u', timeout=5)\n    return fetch\n",
        "import asyncio, requests\nasync def f():\n    await asyncio.to_thread(requests.get, 'u', timeout=5)\n",
        "from starlette.concurrency import run_in_threadpool\nimport httpx\n"
        "async def f(client: httpx.Client):\n    await run_in_threadpool(client.get, 'u')\n",
        "import requests\nasync def f(loop):\n"
        "    await loop.run_in_executor(None, lambda: requests.get('u', timeout=5))\n",
        "import requests\nasync def f(background_tasks):\n"
        "    background_tasks.add_task(requests.post, 'u', timeout=5)\n",
        "import requests\nasync def f():\n    requests.get('u', timeout=5)  # noqa\n",
        "import requests\nasync def f():\n    requests.get('u', timeout=5)  # noqa: ASF102\n",
        "import requests\nasync def f():\n    requests.get('u', timeout=5)  # asyncsafe: ignore[ASF102]\n",
        "import httpx\nasync def f():\n    client = httpx.Client(timeout=5)\n    return client\n",
        "async def f(requests):\n    requests.get('u')\n",
    )
    invalid = (
        Invalid(
            "import httpx2\nasync def f(client: httpx2.Client):\n    httpx2.get('u')  # expect: ASF102\n"
            "    return client.post('u', json={})  # expect: ASF102\n",
            "Blocking call `httpx2.get()` in async function `f`: use `await client.get()` on an `httpx2.AsyncClient`",
            "Blocking call `httpx2.Client.post()` in async function `f`: use `await client.post()` on an `httpx2.AsyncClient`",
        ),
        Invalid(
            "import http.client\nasync def f():\n    conn = http.client.HTTPConnection('h', timeout=5)\n"
            "    answer = conn.getresponse()  # expect: ASF102\n    return answer.read()  # expect: ASF102\n",
            "Blocking call `http.client.HTTPConnection.getresponse()` in async function `f`: use an `httpx.AsyncClient` (or `asyncio.open_connection()` for raw HTTP)",
            "Blocking call `http.client.HTTPResponse.read()` in async function `f`: use an `httpx.AsyncClient` (or `asyncio.open_connection()` for raw HTTP)",
        ),
        Invalid(
            "import requests\nasync def f():\n    requests.get('u', timeout=5)  # expect: ASF102\n",
            "Blocking call `requests.get()` in async function `f`: use `await client.get()` on an `httpx.AsyncClient`",
        ),
        Invalid(
            "import requests as r\nasync def f():\n    r.post('u', json={}, timeout=5)  # expect: ASF102\n",
            "Blocking call `requests.post()` in async function `f`: use `await client.post()` on an `httpx.AsyncClient`",
        ),
        Invalid(
            "from requests import get as fetch\nasync def f():\n    fetch('u', timeout=5)  # expect: ASF102\n",
            "Blocking call `requests.get()` in async function `f`: use `await client.get()` on an `httpx.AsyncClient`",
        ),
        Invalid(
            "async def f():\n    requests.request('GET', 'u', timeout=5)  # expect: ASF102\n",
            "Blocking call `requests.request()` in async function `f`: use `await client.request()` on an `httpx.AsyncClient`",
        ),
        Invalid(
            "import requests\nasync def f():\n    requests.api.get('u', timeout=5)  # expect: ASF102\n",
            "Blocking call `requests.api.get()` in async function `f`: use `await client.get()` on an `httpx.AsyncClient`",
        ),
        Invalid(
            "import requests\nsession = requests.session()\n"
            "async def f():\n    session.get('u', timeout=5)  # expect: ASF102\n",
            "Blocking call `requests.Session.get()` in async function `f`: use `await client.get()` on an `httpx.AsyncClient`",
        ),
        Invalid(
            "from requests import Session\nasync def f():\n"
            "    with Session() as s:\n        s.get('u', timeout=5)  # expect: ASF102\n",
            "Blocking call `requests.Session.get()` in async function `f`: use `await client.get()` on an `httpx.AsyncClient`",
        ),
        Invalid(
            "import httpx\nasync def f():\n    client = httpx.Client(timeout=5)\n"
            "    client.get('u')  # expect: ASF102\n",
            "Blocking call `httpx.Client.get()` in async function `f`: use `await client.get()` on an `httpx.AsyncClient`",
        ),
        Invalid(
            "import httpx\nasync def f(client: httpx.Client | None):\n    client.post('u')  # expect: ASF102\n",
            "Blocking call `httpx.Client.post()` in async function `f`: use `await client.post()` on an `httpx.AsyncClient`",
        ),
        Invalid(
            "import httpx\nclass Api:\n    def __init__(self):\n        self.client = httpx.Client(timeout=5)\n"
            "    async def fetch(self):\n        return self.client.get('u')  # expect: ASF102\n",
            "Blocking call `httpx.Client.get()` in async function `Api.fetch`: use `await client.get()` on an `httpx.AsyncClient`",
        ),
        Invalid(
            "import httpx\nasync def f():\n    with httpx.stream('GET', 'u', timeout=5) as r:  # expect: ASF102\n"
            "        pass\n",
            "Blocking call `httpx.stream()` in async function `f`: use `await client.stream()` on an `httpx.AsyncClient`",
        ),
        Invalid(
            "import urllib.request\nasync def f():\n"
            "    urllib.request.urlopen('u', timeout=5).read()  # expect: ASF102\n",
            "Blocking call `urllib.request.urlopen()` in async function `f`: use `await client.get()` on an `httpx.AsyncClient`",
        ),
        Invalid(
            "from urllib.request import build_opener, urlretrieve\nasync def f():\n"
            "    build_opener().open('u', timeout=5)  # expect: ASF102\n    urlretrieve('u', 'out')  # expect: ASF102\n",
            "Blocking call `urllib.request.OpenerDirector.open()` in async function `f`: use `await client.get()` on an `httpx.AsyncClient`",
            "Blocking call `urllib.request.urlretrieve()` in async function `f`: stream the download with an `httpx.AsyncClient`",
        ),
        Invalid(
            "import urllib3\nhttp = urllib3.PoolManager()\n"
            "async def f():\n    http.request('GET', 'u', timeout=5)  # expect: ASF102\n",
            "Blocking call `urllib3.PoolManager.request()` in async function `f`: use an `httpx.AsyncClient` (or `aiohttp`)",
        ),
        Invalid(
            "import http.client\nasync def f():\n    conn = http.client.HTTPSConnection('h', timeout=5)\n"
            "    conn.request('GET', '/')  # expect: ASF102\n    conn.getresponse()  # expect: ASF102\n",
            "Blocking call `http.client.HTTPSConnection.request()` in async function `f`: use an `httpx.AsyncClient` (or `asyncio.open_connection()` for raw HTTP)",
            "Blocking call `http.client.HTTPSConnection.getresponse()` in async function `f`: use an `httpx.AsyncClient` (or `asyncio.open_connection()` for raw HTTP)",
        ),
        Invalid(
            "import requests\nasync def f():\n    requests.get('u', timeout=5)  # noqa: ASF101  # expect: ASF102\n",
            "Blocking call `requests.get()` in async function `f`: use `await client.get()` on an `httpx.AsyncClient`",
        ),
    )
