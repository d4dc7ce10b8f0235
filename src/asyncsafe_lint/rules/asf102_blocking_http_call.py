from asyncsafe_lint.rule import BlockingCallRule, Call, Invalid

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


class BlockingHttpCall(BlockingCallRule):
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
    docs = """
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
            "import urllib3\nproxy = urllib3.proxy_from_url('http://proxy:3128')\nasync def f():\n"
            "    return proxy.request('GET', 'u')  # expect: ASF102\n",
            "Blocking call `urllib3.ProxyManager.request()` in async function `f`: use an `httpx.AsyncClient` (or `aiohttp`)",
        ),
        Invalid(
            "from typing import Optional\nfrom urllib3 import HTTPSConnectionPool, ProxyManager\n"
            "async def f(pool: Optional[HTTPSConnectionPool], proxy: 'ProxyManager'):\n"
            "    pool.urlopen('GET', '/')  # expect: ASF102\n"
            "    proxy.connection_from_url('u').request('GET', '/')  # expect: ASF102\n",
            "Blocking call `urllib3.HTTPSConnectionPool.urlopen()` in async function `f`: use an `httpx.AsyncClient` (or `aiohttp`)",
            "Blocking call `urllib3.HTTPConnectionPool.request()` in async function `f`: use an `httpx.AsyncClient` (or `aiohttp`)",
        ),
        Invalid(
            "import boto3\ns3 = boto3.client('s3')\nasync def f(data):\n"
            "    s3.put_object(Bucket='b', Key='k', Body=data)  # expect: ASF102\n"
            "    s3.upload_file('local.txt', 'b', 'k')  # expect: ASF102\n",
            "Blocking call `botocore.client.BaseClient.put_object()` in async function `f`: use `aioboto3` (or `aiobotocore`), or run it in `await anyio.to_thread.run_sync()`",
            "Blocking call `botocore.client.BaseClient.upload_file()` in async function `f`: use `aioboto3` (or `aiobotocore`), or run it in `await anyio.to_thread.run_sync()`",
        ),
        Invalid(
            "import boto3.session\nclass Queue:\n    def __init__(self):\n"
            "        self.sqs = boto3.session.Session(region_name='eu-west-1').client('sqs')\n"
            "    async def push(self, body):\n"
            "        self.sqs.send_message(QueueUrl='q', MessageBody=body)  # expect: ASF102\n",
            "Blocking call `botocore.client.BaseClient.send_message()` in async function `Queue.push`: use `aioboto3` (or `aiobotocore`), or run it in `await anyio.to_thread.run_sync()`",
        ),
        Invalid(
            "import boto3\nasync def f():\n    s3 = boto3.resource('s3')\n    bucket = s3.Bucket('b')\n"
            "    bucket.upload_file('local.txt', 'k')  # expect: ASF102\n"
            "    bucket.Object('k').load()  # expect: ASF102\n"
            "    s3.meta.client.head_bucket(Bucket='b')  # expect: ASF102\n",
            "Blocking call `boto3.resources.base.ServiceResource.upload_file()` in async function `f`: use `aioboto3` (or `aiobotocore`), or run it in `await anyio.to_thread.run_sync()`",
            "Blocking call `boto3.resources.base.ServiceResource.load()` in async function `f`: use `aioboto3` (or `aiobotocore`), or run it in `await anyio.to_thread.run_sync()`",
            "Blocking call `botocore.client.BaseClient.head_bucket()` in async function `f`: use `aioboto3` (or `aiobotocore`), or run it in `await anyio.to_thread.run_sync()`",
        ),
        Invalid(
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from mypy_boto3_dynamodb.service_resource import Table\n    from mypy_boto3_s3 import S3Client\n"
            "async def f(table: 'Table', s3: 'S3Client'):\n"
            "    table.get_item(Key={'id': 1})  # expect: ASF102\n"
            "    s3.get_waiter('object_exists').wait(Bucket='b', Key='k')  # expect: ASF102\n",
            "Blocking call `boto3.resources.base.ServiceResource.get_item()` in async function `f`: use `aioboto3` (or `aiobotocore`), or run it in `await anyio.to_thread.run_sync()`",
            "Blocking call `botocore.waiter.Waiter.wait()` in async function `f`: use `aioboto3` (or `aiobotocore`), or run it in `await anyio.to_thread.run_sync()`",
        ),
        Invalid(
            "import botocore.session\nasync def f():\n"
            "    client = botocore.session.get_session().create_client('s3')\n"
            "    pages = client.get_paginator('list_objects_v2').paginate(Bucket='b')\n"
            "    return pages.build_full_result()  # expect: ASF102\n",
            "Blocking call `botocore.paginate.PageIterator.build_full_result()` in async function `f`: use `aioboto3` (or `aiobotocore`), or run it in `await anyio.to_thread.run_sync()`",
        ),
        Invalid(
            "import requests\nasync def f():\n    requests.get('u', timeout=5)  # noqa: ASF101  # expect: ASF102\n",
            "Blocking call `requests.get()` in async function `f`: use `await client.get()` on an `httpx.AsyncClient`",
        ),
    )

    def instead(self, call: Call) -> str | None:
        assert call.name is not None
        owner, _, method = call.name.rpartition(".")
        if owner == _BOTO3_RESOURCE and method[:1].isupper():
            # `s3.Bucket(name)`, `bucket.Object(key)`: a sub-resource, made from its identifiers.
            return None
        return super().instead(call)
