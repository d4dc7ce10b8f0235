from __future__ import annotations

import ast

from asyncsafe_lint.handoff import FIX_SAFETY, HandOffRule
from asyncsafe_lint.rule import Call, Invalid

_CONNECT = "use `await asyncio.open_connection()` (or `await anyio.connect_tcp()`)"
_RESOLVE = "use `await loop.getaddrinfo()` (or `await anyio.getaddrinfo()`)"
_STREAM = "use an asyncio stream (`asyncio.open_connection()`) or an anyio stream"

_LOOKUPS = ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr", "getnameinfo", "getfqdn")
_TRANSFERS = (
    "recv", "recv_into", "recvfrom", "recvfrom_into", "recvmsg", "recvmsg_into",
    "send", "sendall", "sendto", "sendmsg", "sendfile",
)  # fmt: skip

# Clients of protocols that run over a socket.  Each method listed sends a command and
# waits for the reply (or reads or writes the socket); what is left out works locally.
_SMTP = "use `aiosmtplib`"
_SMTP_NAME = (
    "without `local_hostname=` it looks up this machine's name (`socket.getfqdn()`): pass one, or use `aiosmtplib`"
)
_FTP = "use `aioftp`"
_IMAP = "use `aioimaplib`"
_POP3 = "run it in `await anyio.to_thread.run_sync()`"
_TELNET = "use `telnetlib3`"
_SSH = "use `asyncssh`"
_AMQP = "use `aio-pika`"
_KAFKA = "use `aiokafka`"
_KAFKA_BOOTSTRAP = "without `api_version=` it connects to a broker to learn its version: use `aiokafka`"

_SMTPS = ("smtplib.SMTP", "smtplib.SMTP_SSL", "smtplib.LMTP")
#: Not `has_extn()`, `set_debuglevel()`, `close()` (a local close) or the `auth_*()`
#: helpers, which only compute the answer to a challenge.
_SMTP_METHODS = (
    "connect", "helo", "ehlo", "ehlo_or_helo_if_needed", "login", "auth", "starttls", "sendmail",
    "send_message", "quit", "noop", "rset", "verify", "vrfy", "expn", "mail", "rcpt", "data", "docmd",
    "putcmd", "getreply", "send", "help",
)  # fmt: skip
_FTPS = ("ftplib.FTP", "ftplib.FTP_TLS")
#: Not `getwelcome()`, `set_pasv()`, `set_debuglevel()`, `close()`, nor `mlsd()`, a
#: generator that sends nothing until it is iterated.
_FTP_METHODS = (
    "connect", "login", "abort", "sendcmd", "voidcmd", "sendport", "sendeprt", "makeport", "makepasv",
    "ntransfercmd", "transfercmd", "retrbinary", "retrlines", "storbinary", "storlines", "acct", "nlst",
    "dir", "rename", "delete", "cwd", "size", "mkd", "rmd", "pwd", "quit", "getline", "getmultiline",
    "getresp", "voidresp", "putline", "putcmd",
)  # fmt: skip
_FTP_TLS_METHODS = ("auth", "ccc", "prot_p", "prot_c")
_IMAPS = ("imaplib.IMAP4", "imaplib.IMAP4_SSL")
#: Every IMAP command (`close()` is IMAP's CLOSE), but not `response()`, `socket()` or
#: `shutdown()`, which work locally.
_IMAP_METHODS = (
    "open", "read", "readline", "send", "recent", "append", "authenticate", "capability", "check",
    "close", "copy", "create", "delete", "deleteacl", "enable", "expunge", "fetch", "getacl",
    "getannotation", "getquota", "getquotaroot", "list", "login", "login_cram_md5", "logout", "lsub",
    "myrights", "namespace", "noop", "partial", "proxyauth", "rename", "search", "select", "setacl",
    "setannotation", "setquota", "sort", "starttls", "status", "store", "subscribe", "thread", "uid",
    "unsubscribe", "unselect", "xatom", "idle",
)  # fmt: skip
_POP3S = ("poplib.POP3", "poplib.POP3_SSL")
_POP3_METHODS = (
    "user", "pass_", "stat", "list", "retr", "dele", "noop", "rset", "quit", "rpop", "apop", "top", "uidl",
    "utf8", "capa", "stls",
)  # fmt: skip
#: Not `read_very_eager()`, `read_eager()`, `read_lazy()` and `read_very_lazy()`, which
#: read only what has arrived, nor `close()`.
_TELNET_METHODS = ("open", "read_until", "read_all", "read_some", "write", "expect", "interact", "mt_interact")
#: Not `load_host_keys()` and the like (local files), `set_missing_host_key_policy()`,
#: `get_transport()` or `close()`.
_SSH_METHODS = ("connect", "exec_command", "invoke_shell", "open_sftp")
#: Not `getcwd()`, `get_channel()`, `close()`, nor `listdir_iter()`, a generator.
_SFTP_METHODS = (
    "from_transport", "listdir", "listdir_attr", "open", "file", "remove", "unlink", "rename",
    "posix_rename", "mkdir", "rmdir", "stat", "lstat", "symlink", "chmod", "chown", "utime", "truncate",
    "readlink", "normalize", "chdir", "put", "putfo", "get", "getfo",
)  # fmt: skip
#: `close()` sends Connection.Close and waits for the broker's CloseOk.  Not
#: `add_callback_threadsafe()`, `call_later()` and the other callback registrations.
_PIKA_CONNECTION = ("channel", "close", "process_data_events", "sleep", "update_secret")
#: Every AMQP method of a channel: the blocking adapter sends each and waits for its
#: reply or for its frames to be written.  Not `consume()`, a generator, nor
#: `get_waiting_message_count()` and the `add_on_*_callback()` registrations.
_PIKA_CHANNEL = (
    "basic_publish", "basic_consume", "basic_cancel", "basic_get", "basic_ack", "basic_nack",
    "basic_reject", "basic_qos", "basic_recover", "start_consuming", "stop_consuming", "cancel",
    "confirm_delivery", "queue_declare", "queue_bind", "queue_unbind", "queue_delete", "queue_purge",
    "exchange_declare", "exchange_bind", "exchange_unbind", "exchange_delete", "tx_select", "tx_commit",
    "tx_rollback", "flow", "close",
)  # fmt: skip
#: `send()` waits (up to `max_block_ms`, 60 s by default) for the topic's metadata the
#: first time a topic is used, and for room when the buffer is full; `flush()` and
#: `close()` wait for what is in flight.  Not `begin_transaction()` or `metrics()`.
_KAFKA_PRODUCER = (
    "send", "flush", "close", "partitions_for", "init_transactions", "send_offsets_to_transaction",
    "commit_transaction", "abort_transaction",
)  # fmt: skip
#: `position()` and `partitions_for_topic()` ask the broker when they do not know the
#: answer yet.  Not `commit_async()`, `subscribe()`, `assign()`, `seek*()`, `pause()`,
#: `resume()` or `metrics()`, which do not wait.
_KAFKA_CONSUMER = (
    "poll", "commit", "committed", "position", "topics", "partitions_for_topic", "beginning_offsets",
    "end_offsets", "offsets_for_times", "close", "bootstrap",
)  # fmt: skip
_KAFKA_CLIENTS = ("kafka.KafkaProducer", "kafka.KafkaConsumer")
#: Constructors that connect only when given a host: name -> the value of `host` that means none.
_HOST_OPTIONAL: dict[str, object] = {**dict.fromkeys((*_SMTPS, *_FTPS), ""), "telnetlib.Telnet": None}


class BlockingSocket(HandOffRule):
    code = "ASF105"
    name = "blocking-socket"
    summary = (
        "A blocking socket operation, DNS lookup or network client (SMTP, FTP, IMAP, POP3, Telnet, SSH, "
        "RabbitMQ, Kafka) in async code"
    )
    calls = {
        "socket.create_connection": _CONNECT,
        **{f"socket.{function}": _RESOLVE for function in _LOOKUPS},
        "socket.socket.connect": _CONNECT,
        "socket.socket.connect_ex": _CONNECT,
        "socket.socket.accept": "use `await asyncio.start_server()` (or `anyio.create_tcp_listener()`)",
        **{f"socket.socket.{method}": _STREAM for method in _TRANSFERS},
        **dict.fromkeys(_SMTPS, _SMTP),
        **{f"{smtp}.{method}": _SMTP for smtp in _SMTPS for method in _SMTP_METHODS},
        **dict.fromkeys(_FTPS, _FTP),
        **{f"{ftp}.{method}": _FTP for ftp in _FTPS for method in _FTP_METHODS},
        **{f"ftplib.FTP_TLS.{method}": _FTP for method in _FTP_TLS_METHODS},
        **dict.fromkeys(_IMAPS, _IMAP),
        **{f"{imap}.{method}": _IMAP for imap in _IMAPS for method in _IMAP_METHODS},
        **dict.fromkeys(_POP3S, _POP3),
        **{f"{pop}.{method}": _POP3 for pop in _POP3S for method in _POP3_METHODS},
        "telnetlib.Telnet": _TELNET,
        **{f"telnetlib.Telnet.{method}": _TELNET for method in _TELNET_METHODS},
        **{f"paramiko.SSHClient.{method}": _SSH for method in _SSH_METHODS},
        **{f"paramiko.SFTPClient.{method}": _SSH for method in _SFTP_METHODS},
        "pika.BlockingConnection": _AMQP,
        **{f"pika.BlockingConnection.{method}": _AMQP for method in _PIKA_CONNECTION},
        **{f"pika.adapters.blocking_connection.BlockingChannel.{method}": _AMQP for method in _PIKA_CHANNEL},
        **dict.fromkeys(_KAFKA_CLIENTS, _KAFKA),
        **{f"kafka.KafkaProducer.{method}": _KAFKA for method in _KAFKA_PRODUCER},
        "kafka.producer.future.FutureRecordMetadata.get": _KAFKA,
        **{f"kafka.KafkaConsumer.{method}": _KAFKA for method in _KAFKA_CONSUMER},
    }
    docs = (
        """
## What it does
Flags, directly in the body of an `async def`, the `socket` module's blocking calls:
`create_connection()`, the name lookups (`getaddrinfo()`, `gethostbyname()`,
`gethostbyname_ex()`, `gethostbyaddr()`, `getnameinfo()`, `getfqdn()`), and the
methods of a `socket.socket` that connect, accept, send or receive.  A socket is
recognised when made by `socket.socket()` or `socket.create_connection()`, annotated
`socket.socket`, or kept on `self`; the connection `accept()` returns is not, as it
comes out of a tuple.  `makefile()` is not flagged: making the file object does no
I/O.

It also flags the synchronous clients of protocols that run over a socket, where a
method sends a command and waits for the reply (HTTP clients are ASF102's, database
drivers ASF106's):

- mail: `smtplib.SMTP`, `SMTP_SSL` and `LMTP` (`connect()`, `login()`,
  `starttls()`, `sendmail()`, `send_message()`, `quit()`...), `imaplib.IMAP4` and
  `IMAP4_SSL` (every IMAP command, `close()` included, which is IMAP's CLOSE) and
  `poplib.POP3` and `POP3_SSL`;
- file transfer and remote shells: `ftplib.FTP` and `FTP_TLS` (`login()`, `cwd()`,
  `retrbinary()`, `storbinary()`, `nlst()`...), `telnetlib.Telnet` (`read_until()`,
  `write()`, `expect()`...), paramiko's `SSHClient` (`connect()`, `exec_command()`,
  `invoke_shell()`, `open_sftp()`) and `SFTPClient` (`get()`, `put()`, `listdir()`,
  `stat()`, `open()`...);
- message brokers: pika's `BlockingConnection` (`channel()`, `process_data_events()`,
  `close()`) and the channel it returns (`basic_publish()`, `basic_consume()`,
  `start_consuming()`, `queue_declare()`...), kafka-python's `KafkaProducer` (`send()`,
  which waits up to `max_block_ms` for the topic's metadata the first time and whenever
  its buffer is full, `flush()`, `close()`, and the `get()` of the future `send()`
  returns) and `KafkaConsumer` (`poll()`, `commit()`, `committed()`,
  `end_offsets()`...).

Their constructors are flagged when they connect: `IMAP4()`, `POP3()` and
`BlockingConnection()` always; `SMTP()`, `FTP()` and `Telnet()` when given a host;
`KafkaProducer()` and `KafkaConsumer()` unless given `api_version=` (without it they
connect to a broker to learn its version).  `SMTP()` without a host still looks up this
machine's name with `socket.getfqdn()` unless given `local_hostname=`, and is flagged
for that.  A constructor whose host (or `api_version`) may be in a `*args`/`**kwargs`
splat is not flagged.

Left alone: what works locally (`set_debuglevel()`, `has_extn()`, `getwelcome()`,
`set_pasv()`, `response()`, `set_missing_host_key_policy()`, `get_transport()`,
`call_later()`, `add_callback_threadsafe()`, `commit_async()`, `subscribe()`,
`seek()`, `pause()`, `close()` of the mail, FTP, Telnet and SSH clients), the
generators that send nothing until iterated (`FTP.mlsd()`,
`SFTPClient.listdir_iter()`, pika's `channel.consume()`), and iterating a
`KafkaConsumer` (`for message in consumer:`), which the linter does not follow.  The
file objects of `SFTPClient.open()` and `exec_command()` are not followed either.

No ruff or flake8-async rule covers sockets, DNS or these clients: their blocking-call
rules (ASYNC210 to ASYNC251) are about HTTP clients, processes, files, `input()` and
`time.sleep()`.

## Why is this bad?
A blocking socket waits for the network on the thread that owns the event loop: a
`connect()` to a host that drops packets, a `recv()` on a quiet peer or a DNS lookup
against a slow resolver each freeze every other task on the worker for as long as
they take, seconds by default.  DNS is the easy one to miss, because
`gethostbyname()` looks like a pure function.

## Example
```python
import socket

@app.get("/ping")
async def ping(host: str):
    with socket.create_connection((host, 6379), timeout=2) as sock:
        sock.sendall(b"PING\\r\\n")
        return sock.recv(64)
```

## Use instead
```python
import asyncio

@app.get("/ping")
async def ping(host: str):
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, 6379), 2)
    writer.write(b"PING\\r\\n")
    await writer.drain()
    reply = await reader.read(64)
    writer.close()
    await writer.wait_closed()
    return reply
```
A socket put into non-blocking mode (`sock.setblocking(False)`) and driven with the
loop's `sock_recv()`/`sock_sendall()` is fine; calling its own `recv()` from a
coroutine is still flagged, as that only works in a hand-written readiness loop.

For the protocol clients, their asyncio counterparts: `aiosmtplib`, `aioimaplib`,
`aioftp`, `telnetlib3`, `asyncssh`, `aio-pika` and `aiokafka`; for POP3, which has
none in common use, run the session in `await anyio.to_thread.run_sync()`.

## Fix safety
"""
        + FIX_SAFETY
    )
    valid = (
        "import asyncio\nasync def f():\n    reader, writer = await asyncio.open_connection('h', 80)\n",
        "import asyncio\nasync def f(sock):\n    loop = asyncio.get_running_loop()\n"
        "    await loop.sock_sendall(sock, b'x')\n    await loop.getaddrinfo('h', 80)\n",
        "import socket\ndef f():\n    return socket.gethostbyname('h')\n",
        "import asyncio, socket\nasync def f():\n    await asyncio.to_thread(socket.getfqdn)\n",
        "import socket\nasync def f(sock: socket.socket):\n    sock.setblocking(False)\n    return sock.fileno()\n",
        "import socket\nasync def f(sock: socket.socket):\n    return sock.makefile('rb')\n",
        "import socket\nasync def f():\n    socket.gethostbyname('h')  # noqa: ASF105\n",
        # Protocol clients: the same code without async, the asyncio libraries, local calls.
        "import smtplib\ndef f(msg):\n    with smtplib.SMTP('mail', 587) as smtp:\n"
        "        smtp.starttls()\n        smtp.send_message(msg)\n",
        "import aiosmtplib\nasync def f(msg):\n    await aiosmtplib.send(msg, hostname='mail', port=587)\n",
        "import smtplib\nasync def f():\n    smtp = smtplib.SMTP(local_hostname='app.example')\n"
        "    smtp.set_debuglevel(1)\n    return smtp, smtplib.SMTP(**settings)\n",
        "import ftplib, telnetlib\nasync def f():\n    return ftplib.FTP(), telnetlib.Telnet(), ftplib.FTP('')\n",
        "import ftplib\nasync def f(ftp: ftplib.FTP):\n    ftp.set_pasv(True)\n"
        "    return ftp.getwelcome(), ftp.mlsd('/')\n",
        "import paramiko\nasync def f():\n    client = paramiko.SSHClient()\n"
        "    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())\n    return client.get_transport()\n",
        "import paramiko\ndef f():\n    client = paramiko.SSHClient()\n    client.connect('h')\n"
        "    client.open_sftp().put('a', 'b')\n",
        "import asyncssh\nasync def f():\n    async with asyncssh.connect('h') as conn:\n"
        "        await conn.run('ls')\n",
        "import pika\ndef f():\n    connection = pika.BlockingConnection()\n"
        "    connection.channel().basic_publish(exchange='', routing_key='q', body=b'x')\n",
        "import aio_pika\nasync def f():\n    connection = await aio_pika.connect_robust('amqp://h')\n"
        "    channel = await connection.channel()\n",
        "from kafka import KafkaConsumer, KafkaProducer\nasync def f():\n"
        "    producer = KafkaProducer(bootstrap_servers='k:9092', api_version=(3, 6))\n"
        "    consumer = KafkaConsumer('t', api_version=(3, 6), **options)\n"
        "    consumer.subscribe(['u'])\n    consumer.commit_async()\n    return producer.metrics()\n",
        "from kafka import KafkaProducer\nproducer = KafkaProducer()\ndef f():\n"
        "    producer.send('t', b'x').get(timeout=10)\n",
        "from aiokafka import AIOKafkaProducer\nasync def f(producer: AIOKafkaProducer):\n"
        "    await producer.send_and_wait('t', b'x')\n",
    )
    invalid = (
        Invalid(
            "import socket\nasync def f():\n    return socket.gethostbyname('h')  # expect: ASF105\n",
            "Blocking call `socket.gethostbyname()` in async function `f`: use `await loop.getaddrinfo()` (or `await anyio.getaddrinfo()`)",
            fixed="import socket\nimport anyio\nasync def f():\n"
            "    return await anyio.to_thread.run_sync(socket.gethostbyname, 'h')  # expect: ASF105\n",
        ),
        Invalid(
            "from socket import getaddrinfo as resolve\nasync def f():\n    resolve('h', 80)  # expect: ASF105\n",
            "Blocking call `socket.getaddrinfo()` in async function `f`: use `await loop.getaddrinfo()` (or `await anyio.getaddrinfo()`)",
            fixed="from socket import getaddrinfo as resolve\nimport anyio\nasync def f():\n"
            "    await anyio.to_thread.run_sync(resolve, 'h', 80)  # expect: ASF105\n",
        ),
        Invalid(
            "import socket\nasync def f():\n"
            "    with socket.create_connection(('h', 80), timeout=5) as s:  # expect: ASF105\n"
            "        s.sendall(b'x')  # expect: ASF105\n        s.recv(1)  # expect: ASF105\n",
            "Blocking call `socket.create_connection()` in async function `f`: use `await asyncio.open_connection()` (or `await anyio.connect_tcp()`)",
            "Blocking call `socket.socket.sendall()` in async function `f`: use an asyncio stream (`asyncio.open_connection()`) or an anyio stream",
            "Blocking call `socket.socket.recv()` in async function `f`: use an asyncio stream (`asyncio.open_connection()`) or an anyio stream",
        ),
        Invalid(
            "import socket\nasync def f():\n    s = socket.socket()\n    s.connect(('h', 80))  # expect: ASF105\n",
            "Blocking call `socket.socket.connect()` in async function `f`: use `await asyncio.open_connection()` (or `await anyio.connect_tcp()`)",
            fixed="import socket\nimport anyio\nasync def f():\n    s = socket.socket()\n"
            "    await anyio.to_thread.run_sync(s.connect, ('h', 80))  # expect: ASF105\n",
        ),
        Invalid(
            "import socket\nclass Conn:\n    sock: socket.socket\n"
            "    async def read(self):\n        return self.sock.recv(1024)  # expect: ASF105\n",
            "Blocking call `socket.socket.recv()` in async function `Conn.read`: use an asyncio stream (`asyncio.open_connection()`) or an anyio stream",
            fixed="import socket\nimport anyio\nclass Conn:\n    sock: socket.socket\n    async def read(self):\n"
            "        return await anyio.to_thread.run_sync(self.sock.recv, 1024)  # expect: ASF105\n",
        ),
        Invalid(
            "import socket\nasync def f(listener: socket.socket):\n    listener.accept()  # expect: ASF105\n",
            "Blocking call `socket.socket.accept()` in async function `f`: use `await asyncio.start_server()` (or `anyio.create_tcp_listener()`)",
            fixed="import socket\nimport anyio\nasync def f(listener: socket.socket):\n"
            "    await anyio.to_thread.run_sync(listener.accept)  # expect: ASF105\n",
        ),
        Invalid(
            "import smtplib\nasync def notify(msg):\n"
            "    with smtplib.SMTP('mail.example.com', 587) as smtp:  # expect: ASF105\n"
            "        smtp.starttls()  # expect: ASF105\n        smtp.login('u', 'p')  # expect: ASF105\n"
            "        smtp.send_message(msg)  # expect: ASF105\n",
            "Blocking call `smtplib.SMTP()` in async function `notify`: use `aiosmtplib`",
            "Blocking call `smtplib.SMTP.starttls()` in async function `notify`: use `aiosmtplib`",
            "Blocking call `smtplib.SMTP.login()` in async function `notify`: use `aiosmtplib`",
            "Blocking call `smtplib.SMTP.send_message()` in async function `notify`: use `aiosmtplib`",
        ),
        Invalid(
            "from smtplib import SMTP_SSL\nasync def f(msg):\n    smtp = SMTP_SSL()  # expect: ASF105\n"
            "    smtp.connect('mail', 465)  # expect: ASF105\n    smtp.sendmail('a', ['b'], msg)  # expect: ASF105\n",
            "Blocking call `smtplib.SMTP_SSL()` in async function `f`: without `local_hostname=` it looks up this machine's name (`socket.getfqdn()`): pass one, or use `aiosmtplib`",
            "Blocking call `smtplib.SMTP_SSL.connect()` in async function `f`: use `aiosmtplib`",
            "Blocking call `smtplib.SMTP_SSL.sendmail()` in async function `f`: use `aiosmtplib`",
            fixed="from smtplib import SMTP_SSL\nimport anyio\nasync def f(msg):\n"
            "    smtp = await anyio.to_thread.run_sync(SMTP_SSL)  # expect: ASF105\n"
            "    await anyio.to_thread.run_sync(smtp.connect, 'mail', 465)  # expect: ASF105\n"
            "    await anyio.to_thread.run_sync(smtp.sendmail, 'a', ['b'], msg)  # expect: ASF105\n",
        ),
        Invalid(
            "import ftplib\nasync def f(data):\n    ftp = ftplib.FTP_TLS(host='ftp', user='u', passwd='p')  # expect: ASF105\n"
            "    ftp.prot_p()  # expect: ASF105\n    ftp.storbinary('STOR x', data)  # expect: ASF105\n",
            "Blocking call `ftplib.FTP_TLS()` in async function `f`: use `aioftp`",
            "Blocking call `ftplib.FTP_TLS.prot_p()` in async function `f`: use `aioftp`",
            "Blocking call `ftplib.FTP_TLS.storbinary()` in async function `f`: use `aioftp`",
            fixed="import ftplib\nimport anyio\nimport functools\nasync def f(data):\n"
            "    ftp = await anyio.to_thread.run_sync(functools.partial(ftplib.FTP_TLS, host='ftp', user='u', passwd='p'))  # expect: ASF105\n"
            "    await anyio.to_thread.run_sync(ftp.prot_p)  # expect: ASF105\n"
            "    await anyio.to_thread.run_sync(ftp.storbinary, 'STOR x', data)  # expect: ASF105\n",
        ),
        Invalid(
            "import imaplib, poplib\nasync def f():\n    imap = imaplib.IMAP4_SSL('imap')  # expect: ASF105\n"
            "    imap.select('INBOX')  # expect: ASF105\n    imap.close()  # expect: ASF105\n"
            "    pop = poplib.POP3('pop')  # expect: ASF105\n    pop.retr(1)  # expect: ASF105\n",
            "Blocking call `imaplib.IMAP4_SSL()` in async function `f`: use `aioimaplib`",
            "Blocking call `imaplib.IMAP4_SSL.select()` in async function `f`: use `aioimaplib`",
            "Blocking call `imaplib.IMAP4_SSL.close()` in async function `f`: use `aioimaplib`",
            "Blocking call `poplib.POP3()` in async function `f`: run it in `await anyio.to_thread.run_sync()`",
            "Blocking call `poplib.POP3.retr()` in async function `f`: run it in `await anyio.to_thread.run_sync()`",
            fixed="import imaplib, poplib\nimport anyio\nasync def f():\n"
            "    imap = await anyio.to_thread.run_sync(imaplib.IMAP4_SSL, 'imap')  # expect: ASF105\n"
            "    await anyio.to_thread.run_sync(imap.select, 'INBOX')  # expect: ASF105\n"
            "    await anyio.to_thread.run_sync(imap.close)  # expect: ASF105\n"
            "    pop = await anyio.to_thread.run_sync(poplib.POP3, 'pop')  # expect: ASF105\n"
            "    await anyio.to_thread.run_sync(pop.retr, 1)  # expect: ASF105\n",
        ),
        Invalid(
            "import telnetlib\nasync def f():\n    tn = telnetlib.Telnet('router', 23)  # expect: ASF105\n"
            "    tn.read_until(b'login: ')  # expect: ASF105\n    tn.read_very_eager()\n",
            "Blocking call `telnetlib.Telnet()` in async function `f`: use `telnetlib3`",
            "Blocking call `telnetlib.Telnet.read_until()` in async function `f`: use `telnetlib3`",
            fixed="import telnetlib\nimport anyio\nasync def f():\n"
            "    tn = await anyio.to_thread.run_sync(telnetlib.Telnet, 'router', 23)  # expect: ASF105\n"
            "    await anyio.to_thread.run_sync(tn.read_until, b'login: ')  # expect: ASF105\n"
            "    tn.read_very_eager()\n",
        ),
        Invalid(
            "import paramiko\nclass Deploy:\n    def __init__(self):\n        self.ssh = paramiko.SSHClient()\n"
            "    async def run(self):\n        self.ssh.connect('h', username='u')  # expect: ASF105\n"
            "        self.ssh.exec_command('ls')  # expect: ASF105\n"
            "        sftp = self.ssh.open_sftp()  # expect: ASF105\n        sftp.get('remote', 'local')  # expect: ASF105\n",
            "Blocking call `paramiko.SSHClient.connect()` in async function `Deploy.run`: use `asyncssh`",
            "Blocking call `paramiko.SSHClient.exec_command()` in async function `Deploy.run`: use `asyncssh`",
            "Blocking call `paramiko.SSHClient.open_sftp()` in async function `Deploy.run`: use `asyncssh`",
            "Blocking call `paramiko.SFTPClient.get()` in async function `Deploy.run`: use `asyncssh`",
            fixed="import paramiko\nimport anyio\nimport functools\nclass Deploy:\n    def __init__(self):\n"
            "        self.ssh = paramiko.SSHClient()\n    async def run(self):\n"
            "        await anyio.to_thread.run_sync(functools.partial(self.ssh.connect, 'h', username='u'))  # expect: ASF105\n"
            "        await anyio.to_thread.run_sync(self.ssh.exec_command, 'ls')  # expect: ASF105\n"
            "        sftp = await anyio.to_thread.run_sync(self.ssh.open_sftp)  # expect: ASF105\n"
            "        await anyio.to_thread.run_sync(sftp.get, 'remote', 'local')  # expect: ASF105\n",
        ),
        Invalid(
            "from paramiko import SFTPClient\nasync def f(transport):\n"
            "    sftp = SFTPClient.from_transport(transport)  # expect: ASF105\n"
            "    sftp.chdir()\n    sftp.chdir('/srv')  # expect: ASF105\n",
            "Blocking call `paramiko.SFTPClient.from_transport()` in async function `f`: use `asyncssh`",
            "Blocking call `paramiko.SFTPClient.chdir()` in async function `f`: use `asyncssh`",
            fixed="from paramiko import SFTPClient\nimport anyio\nasync def f(transport):\n"
            "    sftp = await anyio.to_thread.run_sync(SFTPClient.from_transport, transport)  # expect: ASF105\n"
            "    sftp.chdir()\n    await anyio.to_thread.run_sync(sftp.chdir, '/srv')  # expect: ASF105\n",
        ),
        Invalid(
            "import pika\nasync def publish(body):\n"
            "    connection = pika.BlockingConnection(pika.ConnectionParameters('rabbit'))  # expect: ASF105\n"
            "    channel = connection.channel()  # expect: ASF105\n"
            "    channel.queue_declare(queue='jobs')  # expect: ASF105\n"
            "    channel.basic_publish(exchange='', routing_key='jobs', body=body)  # expect: ASF105\n"
            "    connection.close()  # expect: ASF105\n",
            "Blocking call `pika.BlockingConnection()` in async function `publish`: use `aio-pika`",
            "Blocking call `pika.BlockingConnection.channel()` in async function `publish`: use `aio-pika`",
            "Blocking call `pika.adapters.blocking_connection.BlockingChannel.queue_declare()` in async function `publish`: use `aio-pika`",
            "Blocking call `pika.adapters.blocking_connection.BlockingChannel.basic_publish()` in async function `publish`: use `aio-pika`",
            "Blocking call `pika.BlockingConnection.close()` in async function `publish`: use `aio-pika`",
            fixed="import pika\nimport anyio\nimport functools\nasync def publish(body):\n"
            "    connection = await anyio.to_thread.run_sync(pika.BlockingConnection, pika.ConnectionParameters('rabbit'))  # expect: ASF105\n"
            "    channel = await anyio.to_thread.run_sync(connection.channel)  # expect: ASF105\n"
            "    await anyio.to_thread.run_sync(functools.partial(channel.queue_declare, queue='jobs'))  # expect: ASF105\n"
            "    await anyio.to_thread.run_sync(functools.partial(channel.basic_publish, exchange='', routing_key='jobs', body=body))  # expect: ASF105\n"
            "    await anyio.to_thread.run_sync(connection.close)  # expect: ASF105\n",
        ),
        Invalid(
            "from pika.adapters.blocking_connection import BlockingChannel\n"
            "async def consume(channel: BlockingChannel, handle):\n"
            "    channel.basic_consume(queue='jobs', on_message_callback=handle)  # expect: ASF105\n"
            "    channel.start_consuming()  # expect: ASF105\n",
            "Blocking call `pika.adapters.blocking_connection.BlockingChannel.basic_consume()` in async function `consume`: use `aio-pika`",
            "Blocking call `pika.adapters.blocking_connection.BlockingChannel.start_consuming()` in async function `consume`: use `aio-pika`",
            fixed="from pika.adapters.blocking_connection import BlockingChannel\nimport anyio\nimport functools\n"
            "async def consume(channel: BlockingChannel, handle):\n"
            "    await anyio.to_thread.run_sync(functools.partial(channel.basic_consume, queue='jobs', on_message_callback=handle))  # expect: ASF105\n"
            "    await anyio.to_thread.run_sync(channel.start_consuming)  # expect: ASF105\n",
        ),
        Invalid(
            "from kafka import KafkaProducer\nasync def f():\n"
            "    producer = KafkaProducer(bootstrap_servers='k:9092')  # expect: ASF105\n"
            "    producer.send('t', b'x').get(timeout=10)  # expect: ASF105\n    producer.flush()  # expect: ASF105\n",
            "Blocking call `kafka.KafkaProducer()` in async function `f`: without `api_version=` it connects to a broker to learn its version: use `aiokafka`",
            "Blocking call `kafka.producer.future.FutureRecordMetadata.get()` in async function `f`: use `aiokafka`",
            "Blocking call `kafka.KafkaProducer.send()` in async function `f`: use `aiokafka`",
            "Blocking call `kafka.KafkaProducer.flush()` in async function `f`: use `aiokafka`",
            fixed="from kafka import KafkaProducer\nimport anyio\nimport functools\nasync def f():\n"
            "    producer = await anyio.to_thread.run_sync(functools.partial(KafkaProducer, bootstrap_servers='k:9092'))  # expect: ASF105\n"
            "    (await anyio.to_thread.run_sync(producer.send, 't', b'x')).get(timeout=10)  # expect: ASF105\n"
            "    await anyio.to_thread.run_sync(producer.flush)  # expect: ASF105\n",
        ),
        Invalid(
            "import kafka\nasync def f(consumer: kafka.KafkaConsumer):\n"
            "    batch = consumer.poll(timeout_ms=1000)  # expect: ASF105\n    consumer.commit()  # expect: ASF105\n",
            "Blocking call `kafka.KafkaConsumer.poll()` in async function `f`: use `aiokafka`",
            "Blocking call `kafka.KafkaConsumer.commit()` in async function `f`: use `aiokafka`",
            fixed="import kafka\nimport anyio\nimport functools\nasync def f(consumer: kafka.KafkaConsumer):\n"
            "    batch = await anyio.to_thread.run_sync(functools.partial(consumer.poll, timeout_ms=1000))  # expect: ASF105\n"
            "    await anyio.to_thread.run_sync(consumer.commit)  # expect: ASF105\n",
        ),
        Invalid(
            "import socket\nasync def f():\n    socket.getfqdn()  # noqa: ASF104  # expect: ASF105\n",
            "Blocking call `socket.getfqdn()` in async function `f`: use `await loop.getaddrinfo()` (or `await anyio.getaddrinfo()`)",
            fixed="import socket\nimport anyio\nasync def f():\n"
            "    await anyio.to_thread.run_sync(socket.getfqdn)  # noqa: ASF104  # expect: ASF105\n",
        ),
    )

    def instead(self, call: Call) -> str | None:
        assert call.name is not None
        if call.name in _HOST_OPTIONAL:
            host = _passes(call, "host", 0, _HOST_OPTIONAL[call.name])
            if host is not False:
                # It connects, or a splat may carry a host: say nothing of what cannot be seen.
                return super().instead(call) if host else None
            # `smtplib.SMTP()` without a host still looks up the local host's name.
            named = _passes(call, "local_hostname", 2, None) if call.name in _SMTPS else True
            return _SMTP_NAME if named is False else None
        if call.name in _KAFKA_CLIENTS:
            return _KAFKA_BOOTSTRAP if _passes(call, "api_version", None, None) is False else None
        if call.name == "paramiko.SFTPClient.chdir" and not _passes(call, "path", 0, None):
            return None  # `chdir()` / `chdir(None)` only forgets the directory
        return super().instead(call)


def _passes(call: Call, parameter: str, position: int | None, absent: object) -> bool | None:
    """Whether `call` passes `parameter` (as `parameter=` or, when `position` is given, in
    that position) a value other than `absent`, its default; None when it does not show
    one but a `*args` or `**kwargs` may carry it."""
    value = call.argument(parameter, position)
    if value is None:
        return None if call.may_carry(position) else False
    return not (isinstance(value, ast.Constant) and value.value == absent and type(value.value) is type(absent))
