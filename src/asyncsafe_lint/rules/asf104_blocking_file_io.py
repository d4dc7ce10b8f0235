from asyncsafe_lint.handoff import FIX_SAFETY, HandOffRule
from asyncsafe_lint.rule import Invalid

_OPEN = "use `await anyio.open_file()` (or `aiofiles.open()`)"
_FILE = "wrap the file with `anyio.wrap_file()`, or do the I/O in `await anyio.to_thread.run_sync()`"
_PATH = "use `anyio.Path`, whose methods are awaitable"
_THREAD = "run it in `await anyio.to_thread.run_sync()`"
_COMPRESSED = "read or write the file in `await anyio.to_thread.run_sync()`"
_TEMPORARY = "create it (and do its I/O) in `await anyio.to_thread.run_sync()`"

#: `os.path` functions that ask the file system; the rest only work on the string.
_OS_PATH = (
    "exists", "lexists", "isfile", "isdir", "islink", "ismount", "isjunction",
    "getsize", "getmtime", "getatime", "getctime", "samefile", "sameopenfile", "realpath",
)  # fmt: skip
_PATH_METHODS = (
    "exists", "is_file", "is_dir", "is_symlink", "is_mount", "is_junction", "is_socket", "is_fifo",
    "is_block_device", "is_char_device", "stat", "lstat", "owner", "group", "samefile", "resolve",
    "readlink", "iterdir", "glob", "rglob", "walk", "open", "read_text", "read_bytes", "write_text",
    "write_bytes", "touch", "mkdir", "rmdir", "unlink", "rename", "replace", "chmod", "lchmod",
    "symlink_to", "hardlink_to", "copy", "copy_into", "move", "move_into",
)  # fmt: skip
_FILE_METHODS = ("read", "readline", "readlines", "readinto", "write", "writelines", "flush", "truncate", "close")
_OS = (
    "listdir", "scandir", "walk", "stat", "lstat", "remove", "unlink", "rename", "renames", "replace",
    "mkdir", "makedirs", "rmdir", "removedirs", "fsync", "fdatasync",
)  # fmt: skip
_SHUTIL = (
    "copy", "copy2", "copyfile", "copyfileobj", "copytree", "rmtree", "move", "make_archive",
    "unpack_archive",
)  # fmt: skip


class BlockingFileIO(HandOffRule):
    code = "ASF104"
    name = "blocking-file-io"
    summary = "Synchronous file-system work (`open()`, file methods, `os.path`, `pathlib`, `shutil`) in async code"
    calls = {
        "builtins.open": _OPEN,
        "io.open": _OPEN,
        "io.open_code": _OPEN,
        "os.fdopen": "use `await anyio.open_file(fd)`, which takes a file descriptor too",
        "os.open": _THREAD,
        "codecs.open": _OPEN,
        **{f"{module}.open": _COMPRESSED for module in ("gzip", "bz2", "lzma")},
        "tempfile.TemporaryFile": _TEMPORARY,
        "tempfile.NamedTemporaryFile": _TEMPORARY,
        **{f"io.TextIOWrapper.{method}": _FILE for method in _FILE_METHODS},
        **{f"os.path.{function}": _PATH for function in _OS_PATH},
        **{f"pathlib.Path.{method}": _PATH for method in _PATH_METHODS},
        **{f"os.{function}": _THREAD for function in _OS},
        **{f"shutil.{function}": _THREAD for function in _SHUTIL},
    }
    docs = (
        """
## What it does
Flags file-system work done directly in the body of an `async def`: `open()`,
`io.open()`, `io.open_code()`, `codecs.open()`, `os.open()` and `os.fdopen()`; the
compressed files of `gzip.open()`, `bz2.open()` and `lzma.open()`; the temporary files
of `tempfile.TemporaryFile()` and `NamedTemporaryFile()`; the methods that read, write,
flush or close a file object (one bound by any of these, as in `with open(...) as f`,
or annotated `typing.IO`, `TextIO`, `BinaryIO` or an `io` class); the `os.path`
functions and `pathlib.Path` methods that ask the disk (`exists()`, `is_file()`,
`stat()`, `read_text()`, `mkdir()`, `glob()`, ...); and the `os` and `shutil`
functions that list, create, move, copy or delete files.

`tempfile.SpooledTemporaryFile()` is not flagged, nor are its methods: it is a buffer
in memory until it grows past its `max_size` (only then does it write a real temporary
file), so making one and writing to it is usually no file-system work at all.  Neither
is `gzip.compress()` and the like, which work on bytes in memory.

Functions that only compute on the path string are left alone: `join()`,
`basename()`, `dirname()`, `split*()`, `normpath()`, `normcase()`, `commonpath()`,
`isabs()` and `Path.joinpath()`, `with_suffix()`, `name`, `parent` and the like.  So
are `os.path.abspath()`, `os.path.relpath()`, `Path.absolute()` and `Path.cwd()`: for a
relative path they only add `os.getcwd()`, which the kernel answers from the
process's own state without waiting for a disk.  `expanduser()` and `Path.home()` read
`$HOME` (the password database only when it is unset) and are not flagged either.
`realpath()` and `Path.resolve()` are, because they read every symbolic link on the way.

ruff and flake8-async overlap: ASYNC230 (`open()`, `io.open()`, `io.open_code()`, and
`Path.open()` in ruff), ASYNC231 (`os.fdopen()`, flake8-async only), ASYNC232 (methods
of a file object in a plain local variable, flake8-async only) and ASYNC240 (`os.path`
functions; ruff's version, still in preview, also covers `pathlib.Path` methods and
treats every `os.path` function outside a list of pure ones as blocking, `abspath()`
and `normpath()` included).  None of them
flags `os.listdir()`, `os.scandir()`, `os.walk()`, `os.stat()`, `os.remove()`,
`os.makedirs()` or any `shutil` function, file objects annotated `typing.IO` or kept on
`self`, or paths built with `/` or returned by `Path.home()`.

## Why is this bad?
Local disks are fast until they are not: a cold cache, a network file system, a
container's overlay or a large file turns a read into milliseconds or seconds, and the
event loop waits the whole time, holding up every other request on the worker.

## Example
```python
from pathlib import Path

@app.get("/report")
async def report():
    path = Path("reports") / "latest.json"
    if path.exists():
        return path.read_text()
```

## Use instead
```python
import anyio

@app.get("/report")
async def report():
    path = anyio.Path("reports") / "latest.json"
    if await path.exists():
        return await path.read_text()
```
For a file object: `async with await anyio.open_file(name) as f: data = await f.read()`.

## Fix safety
"""
        + FIX_SAFETY
    )
    valid = (
        "import anyio\nasync def f():\n    async with await anyio.open_file('x') as f:\n        await f.read()\n",
        "import anyio\nasync def f():\n    await anyio.Path('x').exists()\n",
        "def f():\n    with open('x') as f:\n        return f.read()\n",
        "import anyio\ndef load():\n    return open('x').read()\nasync def f():\n"
        "    return await anyio.to_thread.run_sync(load)\n",
        "import os\nasync def f(name):\n    return os.path.join('/srv', os.path.basename(name))\n",
        "import os.path\nasync def f(name):\n    return os.path.abspath(name), os.path.splitext(name)\n",
        "from pathlib import Path\nasync def f():\n    return (Path('a') / 'b').with_suffix('.txt').name\n",
        "from pathlib import Path\nasync def f():\n    return Path.home().joinpath('x').absolute()\n",
        "import io\nasync def f():\n    buffer = io.BytesIO()\n    buffer.write(b'x')\n",
        "async def f():\n    with open('x') as f:  # noqa: ASF104\n        f.read()  # noqa\n",
        "import gzip, tempfile\nasync def f(data):\n    buffer = tempfile.SpooledTemporaryFile(max_size=2**20)\n"
        "    buffer.write(gzip.compress(data))\n    buffer.seek(0)\n    return buffer.read()\n",
        "import os\ndef f(fd):\n    with os.fdopen(fd, 'rb') as stream:\n        return stream.read()\n",
        "import anyio, gzip\ndef load(name):\n    with gzip.open(name) as f:\n        return f.read()\n"
        "async def f(name):\n    return await anyio.to_thread.run_sync(load, name)\n",
    )
    invalid = (
        Invalid(
            "import os\nasync def f(fd):\n    os.fsync(fd)  # expect: ASF104\n",
            "Blocking call `os.fsync()` in async function `f`: run it in `await anyio.to_thread.run_sync()`",
            fixed="import os\nimport anyio\nasync def f(fd):\n"
            "    await anyio.to_thread.run_sync(os.fsync, fd)  # expect: ASF104\n",
        ),
        Invalid(
            "async def f():\n    with open('x') as f:  # expect: ASF104\n        return f.read()  # expect: ASF104\n",
            "Blocking call `builtins.open()` in async function `f`: use `await anyio.open_file()` (or `aiofiles.open()`)",
            "Blocking call `io.TextIOWrapper.read()` in async function `f`: wrap the file with `anyio.wrap_file()`, or do the I/O in `await anyio.to_thread.run_sync()`",
        ),
        Invalid(
            "import io\nasync def f():\n    io.open('x').close()  # expect: ASF104\n",
            "Blocking call `io.TextIOWrapper.close()` in async function `f`: wrap the file with `anyio.wrap_file()`, or do the I/O in `await anyio.to_thread.run_sync()`",
            "Blocking call `io.open()` in async function `f`: use `await anyio.open_file()` (or `aiofiles.open()`)",
            fixed="import io\nimport anyio\nasync def f():\n"
            "    (await anyio.to_thread.run_sync(io.open, 'x')).close()  # expect: ASF104\n",
        ),
        Invalid(
            "import io\nasync def f(f: io.TextIOWrapper):\n    f.write('x')  # expect: ASF104\n",
            "Blocking call `io.TextIOWrapper.write()` in async function `f`: wrap the file with `anyio.wrap_file()`, or do the I/O in `await anyio.to_thread.run_sync()`",
            fixed="import io\nimport anyio\nasync def f(f: io.TextIOWrapper):\n"
            "    await anyio.to_thread.run_sync(f.write, 'x')  # expect: ASF104\n",
        ),
        Invalid(
            "from typing import IO, Optional\nasync def f(out: Optional[IO[bytes]]):\n"
            "    out.flush()  # expect: ASF104\n",
            "Blocking call `io.TextIOWrapper.flush()` in async function `f`: wrap the file with `anyio.wrap_file()`, or do the I/O in `await anyio.to_thread.run_sync()`",
            fixed="from typing import IO, Optional\nimport anyio\nasync def f(out: Optional[IO[bytes]]):\n"
            "    await anyio.to_thread.run_sync(out.flush)  # expect: ASF104\n",
        ),
        Invalid(
            "class Log:\n    def __init__(self):\n        self.file = open('log', 'a')\n"
            "    async def write(self, line):\n        self.file.write(line)  # expect: ASF104\n",
            "Blocking call `io.TextIOWrapper.write()` in async function `Log.write`: wrap the file with `anyio.wrap_file()`, or do the I/O in `await anyio.to_thread.run_sync()`",
            fixed="import anyio\nclass Log:\n    def __init__(self):\n        self.file = open('log', 'a')\n"
            "    async def write(self, line):\n"
            "        await anyio.to_thread.run_sync(self.file.write, line)  # expect: ASF104\n",
        ),
        Invalid(
            "from os import path\nasync def f(name):\n    return path.isfile(name)  # expect: ASF104\n",
            "Blocking call `os.path.isfile()` in async function `f`: use `anyio.Path`, whose methods are awaitable",
            fixed="from os import path\nimport anyio\nasync def f(name):\n"
            "    return await anyio.to_thread.run_sync(path.isfile, name)  # expect: ASF104\n",
        ),
        Invalid(
            "import os\nasync def f(name):\n    return os.path.getsize(name)  # expect: ASF104\n",
            "Blocking call `os.path.getsize()` in async function `f`: use `anyio.Path`, whose methods are awaitable",
            fixed="import os\nimport anyio\nasync def f(name):\n"
            "    return await anyio.to_thread.run_sync(os.path.getsize, name)  # expect: ASF104\n",
        ),
        Invalid(
            "from pathlib import Path\nasync def f():\n    p = Path('data') / 'x.json'\n"
            "    return p.read_text()  # expect: ASF104\n",
            "Blocking call `pathlib.Path.read_text()` in async function `f`: use `anyio.Path`, whose methods are awaitable",
            fixed="from pathlib import Path\nimport anyio\nasync def f():\n    p = Path('data') / 'x.json'\n"
            "    return await anyio.to_thread.run_sync(p.read_text)  # expect: ASF104\n",
        ),
        Invalid(
            "import pathlib\nasync def f(p: pathlib.Path | None):\n    p.mkdir(parents=True)  # expect: ASF104\n",
            "Blocking call `pathlib.Path.mkdir()` in async function `f`: use `anyio.Path`, whose methods are awaitable",
            fixed="import pathlib\nimport anyio\nimport functools\nasync def f(p: pathlib.Path | None):\n"
            "    await anyio.to_thread.run_sync(functools.partial(p.mkdir, parents=True))  # expect: ASF104\n",
        ),
        Invalid(
            "from pathlib import Path\nasync def f():\n    return Path.home().exists()  # expect: ASF104\n",
            "Blocking call `pathlib.Path.exists()` in async function `f`: use `anyio.Path`, whose methods are awaitable",
            fixed="from pathlib import Path\nimport anyio\nasync def f():\n"
            "    return await anyio.to_thread.run_sync(Path.home().exists)  # expect: ASF104\n",
        ),
        Invalid(
            "import os, shutil\nasync def f():\n    os.listdir('.')  # expect: ASF104\n"
            "    shutil.rmtree('tmp')  # expect: ASF104\n",
            "Blocking call `os.listdir()` in async function `f`: run it in `await anyio.to_thread.run_sync()`",
            "Blocking call `shutil.rmtree()` in async function `f`: run it in `await anyio.to_thread.run_sync()`",
            fixed="import os, shutil\nimport anyio\nasync def f():\n"
            "    await anyio.to_thread.run_sync(os.listdir, '.')  # expect: ASF104\n"
            "    await anyio.to_thread.run_sync(shutil.rmtree, 'tmp')  # expect: ASF104\n",
        ),
        Invalid(
            "async def f():\n    os.makedirs('x', exist_ok=True)  # expect: ASF104\n",
            "Blocking call `os.makedirs()` in async function `f`: run it in `await anyio.to_thread.run_sync()`",
            fixed="import anyio\nimport functools\nasync def f():\n"
            "    await anyio.to_thread.run_sync(functools.partial(os.makedirs, 'x', exist_ok=True))  # expect: ASF104\n",
        ),
        Invalid(
            "import gzip\nasync def f(name):\n    with gzip.open(name, 'rt') as f:  # expect: ASF104\n"
            "        return f.read()  # expect: ASF104\n",
            "Blocking call `gzip.open()` in async function `f`: read or write the file in `await anyio.to_thread.run_sync()`",
            "Blocking call `io.TextIOWrapper.read()` in async function `f`: wrap the file with `anyio.wrap_file()`, or do the I/O in `await anyio.to_thread.run_sync()`",
        ),
        Invalid(
            "import bz2, lzma, codecs, os\nasync def f():\n    bz2.open('a.bz2')  # expect: ASF104\n"
            "    lzma.open('a.xz')  # expect: ASF104\n    codecs.open('a', encoding='utf-8')  # expect: ASF104\n"
            "    os.open('a', os.O_RDONLY)  # expect: ASF104\n",
            "Blocking call `bz2.open()` in async function `f`: read or write the file in `await anyio.to_thread.run_sync()`",
            "Blocking call `lzma.open()` in async function `f`: read or write the file in `await anyio.to_thread.run_sync()`",
            "Blocking call `codecs.open()` in async function `f`: use `await anyio.open_file()` (or `aiofiles.open()`)",
            "Blocking call `os.open()` in async function `f`: run it in `await anyio.to_thread.run_sync()`",
            fixed="import bz2, lzma, codecs, os\nimport anyio\nimport functools\nasync def f():\n"
            "    await anyio.to_thread.run_sync(bz2.open, 'a.bz2')  # expect: ASF104\n"
            "    await anyio.to_thread.run_sync(lzma.open, 'a.xz')  # expect: ASF104\n"
            "    await anyio.to_thread.run_sync(functools.partial(codecs.open, 'a', encoding='utf-8'))  # expect: ASF104\n"
            "    await anyio.to_thread.run_sync(os.open, 'a', os.O_RDONLY)  # expect: ASF104\n",
        ),
        Invalid(
            "from tempfile import NamedTemporaryFile, TemporaryFile\nasync def f(data):\n"
            "    scratch = TemporaryFile()  # expect: ASF104\n    scratch.write(data)  # expect: ASF104\n"
            "    with NamedTemporaryFile() as named:  # expect: ASF104\n        return named.name\n",
            "Blocking call `tempfile.TemporaryFile()` in async function `f`: create it (and do its I/O) in `await anyio.to_thread.run_sync()`",
            "Blocking call `io.TextIOWrapper.write()` in async function `f`: wrap the file with `anyio.wrap_file()`, or do the I/O in `await anyio.to_thread.run_sync()`",
            "Blocking call `tempfile.NamedTemporaryFile()` in async function `f`: create it (and do its I/O) in `await anyio.to_thread.run_sync()`",
            fixed="from tempfile import NamedTemporaryFile, TemporaryFile\nimport anyio\nasync def f(data):\n"
            "    scratch = await anyio.to_thread.run_sync(TemporaryFile)  # expect: ASF104\n"
            "    await anyio.to_thread.run_sync(scratch.write, data)  # expect: ASF104\n"
            "    with NamedTemporaryFile() as named:  # expect: ASF104\n        return named.name\n",
        ),
        Invalid(
            "import os\nasync def f(fd):\n    with os.fdopen(fd, 'rb') as stream:  # expect: ASF104\n"
            "        return stream.read()  # expect: ASF104\n",
            "Blocking call `os.fdopen()` in async function `f`: use `await anyio.open_file(fd)`, which takes a file descriptor too",
            "Blocking call `io.TextIOWrapper.read()` in async function `f`: wrap the file with `anyio.wrap_file()`, or do the I/O in `await anyio.to_thread.run_sync()`",
        ),
        Invalid(
            "async def f():\n    open('x')  # noqa: ASF103  # expect: ASF104\n",
            "Blocking call `builtins.open()` in async function `f`: use `await anyio.open_file()` (or `aiofiles.open()`)",
            fixed="import anyio\nasync def f():\n"
            "    await anyio.to_thread.run_sync(open, 'x')  # noqa: ASF103  # expect: ASF104\n",
        ),
        # Starlette's helper, where the module imports it, passes keyword arguments on.
        Invalid(
            "from starlette.concurrency import run_in_threadpool\nimport shutil\n"
            "async def f(src, dst):\n    shutil.copytree(src, dst, dirs_exist_ok=True)  # expect: ASF104\n",
            "Blocking call `shutil.copytree()` in async function `f`: run it in `await anyio.to_thread.run_sync()`",
            fixed="from starlette.concurrency import run_in_threadpool\nimport shutil\nasync def f(src, dst):\n"
            "    await run_in_threadpool(shutil.copytree, src, dst, dirs_exist_ok=True)  # expect: ASF104\n",
        ),
    )
