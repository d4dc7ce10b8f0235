from asyncsafe_lint.handoff import FIX_SAFETY, HandOffRule
from asyncsafe_lint.rule import Call, Invalid

_HTTPX = "use `await client.{}()` on an `httpx.AsyncClient`"
#: httpx and httpx2, Pydantic's maintained continuation of it (same API, its own import name).
_HTTPX_MODULES = ("httpx", "httpx2")
_VERBS = ("get", "post", "put", "patch", "delete", "head", "options", "request")
_URLLIB3 = "use an `httpx.AsyncClient` (or `aiohttp`)"
_HTTP_CLIENT = "use an `httpx.AsyncClient` (or `asyncio.open_connection()` for raw HTTP)"
_URLLIB3_POOLS = ("PoolManager", "ProxyManager", "HTTPConnectionPool", "HTTPSConnectionPool")
_AWS = "use `aioboto3` (or `aiobotocore`), or run it in `await anyio.to_thread.run_sync()`"
#: What `boto3.client()` returns (a subclass made for the service) and what every boto3
#: resource is (`boto3.resource()`, and the sub-resources it makes: `s3.Bucket("b")`).
_BOTOCORE_CLIENT = "botocore.client.BaseClient"
_BOTO3_RESOURCE = "boto3.resources.base.ServiceResource"


class BlockingHttpCall(HandOffRule):
    code = "ASF102"
    name = "blocking-http-call"
    summary = "A synchronous HTTP client (`requests`, `httpx.Client`, `urllib`, `urllib3`, boto3) in async code"
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
            for pool in _URLLIB3_POOLS
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
        # A waiter polls the service, sleeping in between; `build_full_result()` fetches
        # every page.  `paginate()` and `PageIterator.search()` are lazy: their pages are
        # fetched where they are iterated, which the linter does not follow.
        "botocore.waiter.Waiter.wait": _AWS,
        "botocore.paginate.PageIterator.build_full_result": _AWS,
    }
    # Every method of a botocore client is an API request, but for the ones below; every
    # lower-case method of a boto3 resource is an action (a request, or a waiter polling
    # with requests), but for the ones below; its capitalised ones make sub-resources.
    any_method_of = {_BOTOCORE_CLIENT: _AWS, _BOTO3_RESOURCE: _AWS}
    harmless_methods = frozenset({
        # botocore clients: helpers made or computed locally (presigning only signs).
        "get_paginator", "get_waiter", "can_paginate", "generate_presigned_url", "generate_presigned_post",
        "generate_db_auth_token", "generate_db_connect_auth_token", "generate_db_connect_admin_auth_token",
        "close", "meta", "exceptions", "waiter_names",
        # boto3 resources: a list from the model, and DynamoDB's buffering writer.
        "get_available_subresources", "batch_writer",
    })  # fmt: skip
    docs = (
        """
## What it does
Flags a synchronous HTTP request made directly in the body of an `async def`:
the `requests` functions and `requests.Session` methods, the `httpx` functions and
`httpx.Client` methods (never `httpx.AsyncClient`), the same of `httpx2` (Pydantic's
maintained continuation of httpx, imported as `httpx2`), `urllib.request.urlopen()`,
`urlretrieve()` and `build_opener().open()`, `urllib3` and its pools (`PoolManager`,
`ProxyManager` and `proxy_from_url()`, `HTTPConnectionPool`, `HTTPSConnectionPool`),
and `http.client` connections.  Clients are recognised through aliases, assignments,
annotations (`httpx.Client | None`, `Optional[...]`, `Annotated[...]`) and attributes
set in `__init__` (`self.client = httpx.Client()`).

AWS calls through boto3 are HTTP requests too.  Every method of a botocore client is
flagged (`put_object()`, `get_item()`, `send_message()`, and the `upload_file()`
family boto3 adds to S3), whether the client comes from `boto3.client()`,
`boto3.Session().client()`, `botocore.session.get_session().create_client()` or a
resource's `meta.client`, or is annotated `botocore.client.BaseClient` or with the
client class of mypy-boto3 / types-boto3 for S3, DynamoDB or SQS (`S3Client`...).  So is
every action of a boto3 resource (`boto3.resource()` and the sub-resources it makes,
`s3.Bucket(name)`, `dynamodb.Table(name)`): `put_item()`, `upload_file()`, `load()`,
`wait_until_exists()`; and a waiter's `wait()` and a page iterator's
`build_full_result()`.  What works locally is left alone: `generate_presigned_url()`,
`generate_presigned_post()` (presigning only signs), `get_paginator()`,
`get_waiter()`, `can_paginate()`, `close()`, `meta`, `exceptions`, making a
sub-resource, `get_available_subresources()` and DynamoDB's `batch_writer()`.  Not
flagged either: creating a client or resource (the first one in a process reads
botocore's service models from disk and may look up credentials, but later ones use
what is cached), `paginate()` and resource collections such as `bucket.objects.all()`,
which fetch their pages where they are iterated, a loop the linter does not follow, and
a variable whose type is unknown (a `client` parameter without annotation).

ruff and flake8-async cover part of this: ASYNC210 (`requests`/`httpx` module
functions, `urlopen()`, `urllib3.request()`), ASYNC211 (flake8-async only: a
`.request("GET", ...)`-shaped call when `urllib3` is imported) and ASYNC212 (methods
of an `httpx.Client`, and in flake8-async of `urllib3` pools, held in a plain local
variable).  Neither knows `requests.Session` (nor `requests.session()`),
`requests.api.*`, `httpx.stream()`, `http.client`, `urlretrieve()`,
`OpenerDirector.open()`, `urllib3.proxy_from_url()` or boto3/botocore, and neither
follows a client kept on `self`.

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
`await anyio.to_thread.run_sync(fetch_weather, city)`.  For AWS, `aioboto3` (or
`aiobotocore`) has the same clients and resources with awaitable methods:
`async with session.client("s3") as s3: await s3.put_object(...)`.

## Fix safety
"""
        + FIX_SAFETY
    )
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
        "import urllib3\ndef f():\n    return urllib3.proxy_from_url('http://proxy:3128').request('GET', 'u')\n",
        "import urllib3\nasync def f(http: urllib3.ProxyManager):\n    return http.connection_from_url('u')\n",
        # boto3: the same code without async, the async clients, local methods, unknown types.
        "import boto3\ns3 = boto3.client('s3')\ndef f():\n    return s3.get_object(Bucket='b', Key='k')\n",
        "import aioboto3\nasync def f():\n    async with aioboto3.Session().client('s3') as s3:\n"
        "        await s3.get_object(Bucket='b', Key='k')\n",
        "import boto3\ns3 = boto3.client('s3')\nasync def f():\n"
        "    return s3.generate_presigned_url('get_object', Params={'Bucket': 'b', 'Key': 'k'}, ExpiresIn=60)\n",
        "import boto3\ns3 = boto3.client('s3')\nasync def f():\n"
        "    pages = s3.get_paginator('list_objects_v2').paginate(Bucket='b')\n"
        "    waiter = s3.get_waiter('object_exists')\n    return pages, waiter, s3.can_paginate('list_buckets')\n",
        "import boto3\nasync def f():\n    table = boto3.resource('dynamodb').Table('t')\n"
        "    return table.batch_writer(), table.meta.client.exceptions.ConditionalCheckFailedException\n",
        "import anyio, boto3\ns3 = boto3.client('s3')\nasync def f():\n"
        "    await anyio.to_thread.run_sync(lambda: s3.get_object(Bucket='b', Key='k'))\n",
        "async def f(client):\n    return client.get_object(Bucket='b', Key='k')\n",
        "import boto3\nasync def f():\n    s3 = boto3.client('s3')\n    return s3\n",
    )
    invalid = (
        Invalid(
            "import httpx2\nasync def f(client: httpx2.Client):\n    httpx2.get('u')  # expect: ASF102\n"
            "    return client.post('u', json={})  # expect: ASF102\n",
            "Blocking call `httpx2.get()` in async function `f`: use `await client.get()` on an `httpx2.AsyncClient`",
            "Blocking call `httpx2.Client.post()` in async function `f`: use `await client.post()` on an `httpx2.AsyncClient`",
            fixed="import httpx2\nimport anyio\nimport functools\nasync def f(client: httpx2.Client):\n"
            "    await anyio.to_thread.run_sync(httpx2.get, 'u')  # expect: ASF102\n"
            "    return await anyio.to_thread.run_sync(functools.partial(client.post, 'u', json={}))  # expect: ASF102\n",
        ),
        Invalid(
            "import http.client\nasync def f():\n    conn = http.client.HTTPConnection('h', timeout=5)\n"
            "    answer = conn.getresponse()  # expect: ASF102\n    return answer.read()  # expect: ASF102\n",
            "Blocking call `http.client.HTTPConnection.getresponse()` in async function `f`: use an `httpx.AsyncClient` (or `asyncio.open_connection()` for raw HTTP)",
            "Blocking call `http.client.HTTPResponse.read()` in async function `f`: use an `httpx.AsyncClient` (or `asyncio.open_connection()` for raw HTTP)",
            fixed="import http.client\nimport anyio\nasync def f():\n"
            "    conn = http.client.HTTPConnection('h', timeout=5)\n"
            "    answer = await anyio.to_thread.run_sync(conn.getresponse)  # expect: ASF102\n"
            "    return await anyio.to_thread.run_sync(answer.read)  # expect: ASF102\n",
        ),
        Invalid(
            "import requests\nasync def f():\n    requests.get('u', timeout=5)  # expect: ASF102\n",
            "Blocking call `requests.get()` in async function `f`: use `await client.get()` on an `httpx.AsyncClient`",
            fixed="import requests\nimport anyio\nimport functools\nasync def f():\n"
            "    await anyio.to_thread.run_sync(functools.partial(requests.get, 'u', timeout=5))  # expect: ASF102\n",
        ),
        Invalid(
            "import requests as r\nasync def f():\n    r.post('u', json={}, timeout=5)  # expect: ASF102\n",
            "Blocking call `requests.post()` in async function `f`: use `await client.post()` on an `httpx.AsyncClient`",
            fixed="import requests as r\nimport anyio\nimport functools\nasync def f():\n"
            "    await anyio.to_thread.run_sync(functools.partial(r.post, 'u', json={}, timeout=5))  # expect: ASF102\n",
        ),
        Invalid(
            "from requests import get as fetch\nasync def f():\n    fetch('u', timeout=5)  # expect: ASF102\n",
            "Blocking call `requests.get()` in async function `f`: use `await client.get()` on an `httpx.AsyncClient`",
            fixed="from requests import get as fetch\nimport anyio\nimport functools\nasync def f():\n"
            "    await anyio.to_thread.run_sync(functools.partial(fetch, 'u', timeout=5))  # expect: ASF102\n",
        ),
        Invalid(
            "async def f():\n    requests.request('GET', 'u', timeout=5)  # expect: ASF102\n",
            "Blocking call `requests.request()` in async function `f`: use `await client.request()` on an `httpx.AsyncClient`",
            fixed="import anyio\nimport functools\nasync def f():\n"
            "    await anyio.to_thread.run_sync(functools.partial(requests.request, 'GET', 'u', timeout=5))  # expect: ASF102\n",
        ),
        Invalid(
            "import requests\nasync def f():\n    requests.api.get('u', timeout=5)  # expect: ASF102\n",
            "Blocking call `requests.api.get()` in async function `f`: use `await client.get()` on an `httpx.AsyncClient`",
            fixed="import requests\nimport anyio\nimport functools\nasync def f():\n"
            "    await anyio.to_thread.run_sync(functools.partial(requests.api.get, 'u', timeout=5))  # expect: ASF102\n",
        ),
        Invalid(
            "import requests\nsession = requests.session()\n"
            "async def f():\n    session.get('u', timeout=5)  # expect: ASF102\n",
            "Blocking call `requests.Session.get()` in async function `f`: use `await client.get()` on an `httpx.AsyncClient`",
            fixed="import requests\nimport anyio\nimport functools\nsession = requests.session()\nasync def f():\n"
            "    await anyio.to_thread.run_sync(functools.partial(session.get, 'u', timeout=5))  # expect: ASF102\n",
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
            fixed="import httpx\nimport anyio\nasync def f():\n    client = httpx.Client(timeout=5)\n"
            "    await anyio.to_thread.run_sync(client.get, 'u')  # expect: ASF102\n",
        ),
        Invalid(
            "import httpx\nasync def f(client: httpx.Client | None):\n    client.post('u')  # expect: ASF102\n",
            "Blocking call `httpx.Client.post()` in async function `f`: use `await client.post()` on an `httpx.AsyncClient`",
            fixed="import httpx\nimport anyio\nasync def f(client: httpx.Client | None):\n"
            "    await anyio.to_thread.run_sync(client.post, 'u')  # expect: ASF102\n",
        ),
        Invalid(
            "import httpx\nclass Api:\n    def __init__(self):\n        self.client = httpx.Client(timeout=5)\n"
            "    async def fetch(self):\n        return self.client.get('u')  # expect: ASF102\n",
            "Blocking call `httpx.Client.get()` in async function `Api.fetch`: use `await client.get()` on an `httpx.AsyncClient`",
            fixed="import httpx\nimport anyio\nclass Api:\n    def __init__(self):\n"
            "        self.client = httpx.Client(timeout=5)\n    async def fetch(self):\n"
            "        return await anyio.to_thread.run_sync(self.client.get, 'u')  # expect: ASF102\n",
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
            fixed="import urllib.request\nimport anyio\nimport functools\nasync def f():\n"
            "    (await anyio.to_thread.run_sync(functools.partial(urllib.request.urlopen, 'u', timeout=5))).read()  # expect: ASF102\n",
        ),
        Invalid(
            "from urllib.request import build_opener, urlretrieve\nasync def f():\n"
            "    build_opener().open('u', timeout=5)  # expect: ASF102\n    urlretrieve('u', 'out')  # expect: ASF102\n",
            "Blocking call `urllib.request.OpenerDirector.open()` in async function `f`: use `await client.get()` on an `httpx.AsyncClient`",
            "Blocking call `urllib.request.urlretrieve()` in async function `f`: stream the download with an `httpx.AsyncClient`",
            fixed="from urllib.request import build_opener, urlretrieve\nimport anyio\nimport functools\n"
            "async def f():\n"
            "    await anyio.to_thread.run_sync(functools.partial(build_opener().open, 'u', timeout=5))  # expect: ASF102\n"
            "    await anyio.to_thread.run_sync(urlretrieve, 'u', 'out')  # expect: ASF102\n",
        ),
        Invalid(
            "import urllib3\nhttp = urllib3.PoolManager()\n"
            "async def f():\n    http.request('GET', 'u', timeout=5)  # expect: ASF102\n",
            "Blocking call `urllib3.PoolManager.request()` in async function `f`: use an `httpx.AsyncClient` (or `aiohttp`)",
            fixed="import urllib3\nimport anyio\nimport functools\nhttp = urllib3.PoolManager()\nasync def f():\n"
            "    await anyio.to_thread.run_sync(functools.partial(http.request, 'GET', 'u', timeout=5))  # expect: ASF102\n",
        ),
        Invalid(
            "import http.client\nasync def f():\n    conn = http.client.HTTPSConnection('h', timeout=5)\n"
            "    conn.request('GET', '/')  # expect: ASF102\n    conn.getresponse()  # expect: ASF102\n",
            "Blocking call `http.client.HTTPSConnection.request()` in async function `f`: use an `httpx.AsyncClient` (or `asyncio.open_connection()` for raw HTTP)",
            "Blocking call `http.client.HTTPSConnection.getresponse()` in async function `f`: use an `httpx.AsyncClient` (or `asyncio.open_connection()` for raw HTTP)",
            fixed="import http.client\nimport anyio\nasync def f():\n"
            "    conn = http.client.HTTPSConnection('h', timeout=5)\n"
            "    await anyio.to_thread.run_sync(conn.request, 'GET', '/')  # expect: ASF102\n"
            "    await anyio.to_thread.run_sync(conn.getresponse)  # expect: ASF102\n",
        ),
        Invalid(
            "import urllib3\nproxy = urllib3.proxy_from_url('http://proxy:3128')\nasync def f():\n"
            "    return proxy.request('GET', 'u')  # expect: ASF102\n",
            "Blocking call `urllib3.ProxyManager.request()` in async function `f`: use an `httpx.AsyncClient` (or `aiohttp`)",
            fixed="import urllib3\nimport anyio\nproxy = urllib3.proxy_from_url('http://proxy:3128')\n"
            "async def f():\n    return await anyio.to_thread.run_sync(proxy.request, 'GET', 'u')  # expect: ASF102\n",
        ),
        Invalid(
            "from typing import Optional\nfrom urllib3 import HTTPSConnectionPool, ProxyManager\n"
            "async def f(pool: Optional[HTTPSConnectionPool], proxy: 'ProxyManager'):\n"
            "    pool.urlopen('GET', '/')  # expect: ASF102\n"
            "    proxy.connection_from_url('u').request('GET', '/')  # expect: ASF102\n",
            "Blocking call `urllib3.HTTPSConnectionPool.urlopen()` in async function `f`: use an `httpx.AsyncClient` (or `aiohttp`)",
            "Blocking call `urllib3.HTTPConnectionPool.request()` in async function `f`: use an `httpx.AsyncClient` (or `aiohttp`)",
            fixed="from typing import Optional\nfrom urllib3 import HTTPSConnectionPool, ProxyManager\nimport anyio\n"
            "async def f(pool: Optional[HTTPSConnectionPool], proxy: 'ProxyManager'):\n"
            "    await anyio.to_thread.run_sync(pool.urlopen, 'GET', '/')  # expect: ASF102\n"
            "    await anyio.to_thread.run_sync(proxy.connection_from_url('u').request, 'GET', '/')  # expect: ASF102\n",
        ),
        Invalid(
            "import boto3\ns3 = boto3.client('s3')\nasync def f(data):\n"
            "    s3.put_object(Bucket='b', Key='k', Body=data)  # expect: ASF102\n"
            "    s3.upload_file('local.txt', 'b', 'k')  # expect: ASF102\n",
            "Blocking call `botocore.client.BaseClient.put_object()` in async function `f`: use `aioboto3` (or `aiobotocore`), or run it in `await anyio.to_thread.run_sync()`",
            "Blocking call `botocore.client.BaseClient.upload_file()` in async function `f`: use `aioboto3` (or `aiobotocore`), or run it in `await anyio.to_thread.run_sync()`",
            fixed="import boto3\nimport anyio\nimport functools\ns3 = boto3.client('s3')\nasync def f(data):\n"
            "    await anyio.to_thread.run_sync(functools.partial(s3.put_object, Bucket='b', Key='k', Body=data))  # expect: ASF102\n"
            "    await anyio.to_thread.run_sync(s3.upload_file, 'local.txt', 'b', 'k')  # expect: ASF102\n",
        ),
        Invalid(
            "import boto3.session\nclass Queue:\n    def __init__(self):\n"
            "        self.sqs = boto3.session.Session(region_name='eu-west-1').client('sqs')\n"
            "    async def push(self, body):\n"
            "        self.sqs.send_message(QueueUrl='q', MessageBody=body)  # expect: ASF102\n",
            "Blocking call `botocore.client.BaseClient.send_message()` in async function `Queue.push`: use `aioboto3` (or `aiobotocore`), or run it in `await anyio.to_thread.run_sync()`",
            fixed="import boto3.session\nimport anyio\nimport functools\nclass Queue:\n    def __init__(self):\n"
            "        self.sqs = boto3.session.Session(region_name='eu-west-1').client('sqs')\n"
            "    async def push(self, body):\n"
            "        await anyio.to_thread.run_sync(functools.partial(self.sqs.send_message, QueueUrl='q', MessageBody=body))  # expect: ASF102\n",
        ),
        Invalid(
            "import boto3\nasync def f():\n    s3 = boto3.resource('s3')\n    bucket = s3.Bucket('b')\n"
            "    bucket.upload_file('local.txt', 'k')  # expect: ASF102\n"
            "    bucket.Object('k').load()  # expect: ASF102\n"
            "    s3.meta.client.head_bucket(Bucket='b')  # expect: ASF102\n",
            "Blocking call `boto3.resources.base.ServiceResource.upload_file()` in async function `f`: use `aioboto3` (or `aiobotocore`), or run it in `await anyio.to_thread.run_sync()`",
            "Blocking call `boto3.resources.base.ServiceResource.load()` in async function `f`: use `aioboto3` (or `aiobotocore`), or run it in `await anyio.to_thread.run_sync()`",
            "Blocking call `botocore.client.BaseClient.head_bucket()` in async function `f`: use `aioboto3` (or `aiobotocore`), or run it in `await anyio.to_thread.run_sync()`",
            fixed="import boto3\nimport anyio\nimport functools\nasync def f():\n    s3 = boto3.resource('s3')\n"
            "    bucket = s3.Bucket('b')\n"
            "    await anyio.to_thread.run_sync(bucket.upload_file, 'local.txt', 'k')  # expect: ASF102\n"
            "    await anyio.to_thread.run_sync(bucket.Object('k').load)  # expect: ASF102\n"
            "    await anyio.to_thread.run_sync(functools.partial(s3.meta.client.head_bucket, Bucket='b'))  # expect: ASF102\n",
        ),
        Invalid(
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from mypy_boto3_dynamodb.service_resource import Table\n    from mypy_boto3_s3 import S3Client\n"
            "async def f(table: 'Table', s3: 'S3Client'):\n"
            "    table.get_item(Key={'id': 1})  # expect: ASF102\n"
            "    s3.get_waiter('object_exists').wait(Bucket='b', Key='k')  # expect: ASF102\n",
            "Blocking call `boto3.resources.base.ServiceResource.get_item()` in async function `f`: use `aioboto3` (or `aiobotocore`), or run it in `await anyio.to_thread.run_sync()`",
            "Blocking call `botocore.waiter.Waiter.wait()` in async function `f`: use `aioboto3` (or `aiobotocore`), or run it in `await anyio.to_thread.run_sync()`",
            fixed="from typing import TYPE_CHECKING\nimport anyio\nimport functools\nif TYPE_CHECKING:\n"
            "    from mypy_boto3_dynamodb.service_resource import Table\n    from mypy_boto3_s3 import S3Client\n"
            "async def f(table: 'Table', s3: 'S3Client'):\n"
            "    await anyio.to_thread.run_sync(functools.partial(table.get_item, Key={'id': 1}))  # expect: ASF102\n"
            "    await anyio.to_thread.run_sync(functools.partial(s3.get_waiter('object_exists').wait, Bucket='b', Key='k'))  # expect: ASF102\n",
        ),
        Invalid(
            "import botocore.session\nasync def f():\n"
            "    client = botocore.session.get_session().create_client('s3')\n"
            "    pages = client.get_paginator('list_objects_v2').paginate(Bucket='b')\n"
            "    return pages.build_full_result()  # expect: ASF102\n",
            "Blocking call `botocore.paginate.PageIterator.build_full_result()` in async function `f`: use `aioboto3` (or `aiobotocore`), or run it in `await anyio.to_thread.run_sync()`",
            fixed="import botocore.session\nimport anyio\nasync def f():\n"
            "    client = botocore.session.get_session().create_client('s3')\n"
            "    pages = client.get_paginator('list_objects_v2').paginate(Bucket='b')\n"
            "    return await anyio.to_thread.run_sync(pages.build_full_result)  # expect: ASF102\n",
        ),
        Invalid(
            "import requests\nasync def f():\n    requests.get('u', timeout=5)  # noqa: ASF101  # expect: ASF102\n",
            "Blocking call `requests.get()` in async function `f`: use `await client.get()` on an `httpx.AsyncClient`",
            fixed="import requests\nimport anyio\nimport functools\nasync def f():\n"
            "    await anyio.to_thread.run_sync(functools.partial(requests.get, 'u', timeout=5))  # noqa: ASF101  # expect: ASF102\n",
        ),
        # The hand-off fix: a call within an expression is awaited in parentheses.
        Invalid(
            "import requests\nasync def handler(u):\n    x = f(requests.get(u).json())  # expect: ASF102\n    return x\n",
            "Blocking call `requests.get()` in async function `handler`: use `await client.get()` on an `httpx.AsyncClient`",
            fixed="import requests\nimport anyio\nasync def handler(u):\n"
            "    x = f((await anyio.to_thread.run_sync(requests.get, u)).json())  # expect: ASF102\n    return x\n",
        ),
        # The imports the module has are used, under the names it gives them.
        Invalid(
            "import anyio, functools, requests\nasync def f(u):\n    return requests.get(u, timeout=5)  # expect: ASF102\n",
            "Blocking call `requests.get()` in async function `f`: use `await client.get()` on an `httpx.AsyncClient`",
            fixed="import anyio, functools, requests\nasync def f(u):\n"
            "    return await anyio.to_thread.run_sync(functools.partial(requests.get, u, timeout=5))  # expect: ASF102\n",
        ),
        Invalid(
            "from anyio import to_thread\nfrom functools import partial\nimport requests\n"
            "async def f(u):\n    return requests.post(  # expect: ASF102\n        u,\n        json={},\n    )\n",
            "Blocking call `requests.post()` in async function `f`: use `await client.post()` on an `httpx.AsyncClient`",
            fixed="from anyio import to_thread\nfrom functools import partial\nimport requests\nasync def f(u):\n"
            "    return await to_thread.run_sync(partial(  # expect: ASF102\n        requests.post,\n        u,\n"
            "        json={},\n    ))\n",
        ),
        # FastAPI's helper passes keyword arguments on: no `functools.partial`.
        Invalid(
            "from fastapi.concurrency import run_in_threadpool\nimport requests\n"
            "async def f(u):\n    data = requests.get(u, timeout=5)  # expect: ASF102\n    return data\n",
            "Blocking call `requests.get()` in async function `f`: use `await client.get()` on an `httpx.AsyncClient`",
            fixed="from fastapi.concurrency import run_in_threadpool\nimport requests\nasync def f(u):\n"
            "    data = await run_in_threadpool(requests.get, u, timeout=5)  # expect: ASF102\n    return data\n",
        ),
        # Only the async function is touched: the nested `def` runs wherever it is called.
        Invalid(
            "import requests\nasync def outer(u):\n    def sync_part():\n        return requests.get(u, timeout=5)\n"
            "    async def inner():\n        return requests.get(u, timeout=5)  # expect: ASF102\n"
            "    return sync_part, inner\n",
            "Blocking call `requests.get()` in async function `inner`: use `await client.get()` on an `httpx.AsyncClient`",
            fixed="import requests\nimport anyio\nimport functools\nasync def outer(u):\n    def sync_part():\n"
            "        return requests.get(u, timeout=5)\n    async def inner():\n"
            "        return await anyio.to_thread.run_sync(functools.partial(requests.get, u, timeout=5))  # expect: ASF102\n"
            "    return sync_part, inner\n",
        ),
        # Flagged, with no fix: `await` would make the generator expression an async one.
        Invalid(
            "import requests\nasync def f(urls):\n"
            "    return list(requests.get(u, timeout=5) for u in urls)  # expect: ASF102\n",
            "Blocking call `requests.get()` in async function `f`: use `await client.get()` on an `httpx.AsyncClient`",
        ),
        # Flagged, with no fix: the name the fix would use is taken.
        Invalid(
            "import requests\nasync def f(u, anyio):\n    return requests.get(u, timeout=5)  # expect: ASF102\n",
            "Blocking call `requests.get()` in async function `f`: use `await client.get()` on an `httpx.AsyncClient`",
        ),
        # Flagged, with no fix: a `with` block goes to a thread whole or not at all.
        Invalid(
            "import requests\nasync def f(u):\n"
            "    with requests.get(u, stream=True, timeout=5) as response:  # expect: ASF102\n"
            "        return response.status_code\n",
            "Blocking call `requests.get()` in async function `f`: use `await client.get()` on an `httpx.AsyncClient`",
        ),
        # A route, or a dependency, that never suspends becomes a plain `def`, which
        # FastAPI runs in its thread pool.
        Invalid(
            "import requests\nfrom fastapi import FastAPI\napp = FastAPI()\n@app.get('/items')\n"
            "async def items(u: str):\n    with requests.Session() as s:\n"
            "        return s.get(u, timeout=5).json()  # expect: ASF102\n",
            "Blocking call `requests.Session.get()` in async route GET /items: use `await client.get()` on an `httpx.AsyncClient`",
            fixed="import requests\nfrom fastapi import FastAPI\napp = FastAPI()\n@app.get('/items')\n"
            "def items(u: str):\n    with requests.Session() as s:\n"
            "        return s.get(u, timeout=5).json()  # expect: ASF102\n",
        ),
        Invalid(
            "import httpx\nfrom fastapi import Depends, FastAPI\napp = FastAPI()\nhttp = httpx.Client(timeout=5)\n"
            "async def current_user(token: str):\n    response = http.get('u', params={'t': token})  # expect: ASF102\n"
            "    return http.post('v', json=response.json()).json()  # expect: ASF102\n"
            "@app.get('/me')\nasync def me(user=Depends(current_user)):\n    return user\n",
            "Blocking call `httpx.Client.get()` in async dependency `current_user` used by 1 route: use `await client.get()` on an `httpx.AsyncClient`",
            "Blocking call `httpx.Client.post()` in async dependency `current_user` used by 1 route: use `await client.post()` on an `httpx.AsyncClient`",
            fixed="import httpx\nfrom fastapi import Depends, FastAPI\napp = FastAPI()\n"
            "http = httpx.Client(timeout=5)\ndef current_user(token: str):\n"
            "    response = http.get('u', params={'t': token})  # expect: ASF102\n"
            "    return http.post('v', json=response.json()).json()  # expect: ASF102\n@app.get('/me')\n"
            "async def me(user=Depends(current_user)):\n    return user\n",
        ),
        # A route that awaits stays a coroutine: the call is handed off.
        Invalid(
            "import requests\nfrom fastapi import FastAPI, Request\napp = FastAPI()\n@app.post('/hook')\n"
            "async def hook(request: Request):\n    body = await request.json()\n"
            "    return requests.post('u', json=body, timeout=5).status_code  # expect: ASF102\n",
            "Blocking call `requests.post()` in async route POST /hook: use `await client.post()` on an `httpx.AsyncClient`",
            fixed="import requests\nfrom fastapi import FastAPI, Request\nimport anyio\nimport functools\n"
            "app = FastAPI()\n@app.post('/hook')\nasync def hook(request: Request):\n"
            "    body = await request.json()\n"
            "    return (await anyio.to_thread.run_sync(functools.partial(requests.post, 'u', json=body, timeout=5))).status_code  # expect: ASF102\n",
        ),
        # So does a dependency that yields.
        Invalid(
            "import requests\nfrom fastapi import Depends, FastAPI\napp = FastAPI()\n"
            "async def session():\n    s = requests.Session()\n    s.get('u/login', timeout=5)  # expect: ASF102\n"
            "    yield s\n@app.get('/')\nasync def index(s=Depends(session)):\n    return 1\n",
            "Blocking call `requests.Session.get()` in async dependency `session` used by 1 route: use `await client.get()` on an `httpx.AsyncClient`",
            fixed="import requests\nfrom fastapi import Depends, FastAPI\nimport anyio\nimport functools\n"
            "app = FastAPI()\nasync def session():\n    s = requests.Session()\n"
            "    await anyio.to_thread.run_sync(functools.partial(s.get, 'u/login', timeout=5))  # expect: ASF102\n"
            "    yield s\n@app.get('/')\nasync def index(s=Depends(session)):\n    return 1\n",
        ),
    )

    def instead(self, call: Call) -> str | None:
        assert call.name is not None
        owner, _, method = call.name.rpartition(".")
        if owner == _BOTO3_RESOURCE and method[:1].isupper():
            # `s3.Bucket(name)`, `bucket.Object(key)`: a sub-resource, made from its identifiers.
            return None
        return super().instead(call)
