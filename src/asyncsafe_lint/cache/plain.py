"""Results as plain data and back: the form the cache keeps them in.

`dumps` writes `marshal`'s encoding of built-in values only (None, bools, numbers,
strings, bytes, tuples, lists, dicts): a dataclass becomes the tuple of its fields, an
enum member its value.  `loads` is told the type to give back and rebuilds it by its
annotations, calling only the classes they name.  Nothing in the data names a class or
a function, so no data, however crafted, makes loading run code, as a pickle can; data
of another shape where a class is rebuilt raises `Malformed`.
(The cache decodes nothing whose MAC did not verify first: see `signing`.)
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import marshal
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
#: Rebuilds a value of one type from its plain form.
Reader = Callable[[Any], object]
#: What `marshal` writes (of what the cache holds).
Plain = None | bool | int | float | str | bytes | tuple["Plain", ...] | list["Plain"] | dict["Plain", "Plain"]

_SCALARS = frozenset({type(None), bool, int, float, str, bytes})


class Malformed(ValueError):
    """Data that is not the plain form of the type asked for."""


def dumps(value: object) -> bytes:
    """`value` (built-in values, enum members and dataclasses of them) as bytes."""
    return marshal.dumps(to_plain(value))


def loads(kind: type[T], data: bytes) -> T:
    """The value of type `kind` that `dumps` gave `data` for.  Raises Malformed for
    data of another shape."""
    try:
        plain = marshal.loads(data)
    except (EOFError, ValueError, TypeError) as error:
        raise Malformed(f"not plain data: {error}") from None
    read = _reader(kind)
    return typing.cast(T, plain if read is None else read(plain))


def to_plain(value: Any) -> Plain:
    """`value` as built-in values only."""
    kind = type(value)
    if kind in _SCALARS:
        return typing.cast(Plain, value)
    if kind is tuple:
        return tuple(map(to_plain, value))
    if kind is list:
        return list(map(to_plain, value))
    if kind is dict:
        return {to_plain(key): to_plain(item) for key, item in value.items()}
    if isinstance(value, enum.Enum):
        return to_plain(value.value)
    return tuple(to_plain(getattr(value, name)) for name in _fields(kind))


def _reader(kind: object) -> Reader | None:
    """How to rebuild a value of type `kind` (an annotation) from its plain form; None
    when the plain form is the value itself.

    Only dataclasses and enums are rebuilt: a string, a number, or a tuple, list or
    dict of them is taken as `marshal` gives it, unchecked and unwalked (most of what
    the cache holds).  A value of the wrong type there could make a result wrong,
    never run anything, and the cache decodes only what this machine wrote."""
    if kind not in _READERS:
        _READERS[kind] = _new_reader(kind)
    return _READERS[kind]


_READERS: dict[object, Reader | None] = {}


def _new_reader(kind: object) -> Reader | None:
    if kind in _SCALARS:
        return None
    origin, arguments = typing.get_origin(kind), typing.get_args(kind)
    if origin in (types.UnionType, typing.Union) and len(arguments) == 2 and type(None) in arguments:
        (present,) = (argument for argument in arguments if argument is not type(None))
        read = _reader(present)
        return None if read is None else functools.partial(_optional, read)
    if origin in (tuple, list) and (origin is list or arguments[1:] == (Ellipsis,)):
        read = _reader(arguments[0])
        return None if read is None else functools.partial(_sequence, origin, read)
    if origin is tuple:
        return _fields_reader(tuple, tuple(map(_reader, arguments)))
    if origin is dict:
        key, item = _reader(arguments[0]), _reader(arguments[1])
        return None if key is None and item is None else functools.partial(_mapping, key, item)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return functools.partial(_member, kind)
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        return _fields_reader(kind, tuple(_reader(hints[name]) for name in _fields(kind)))
    raise TypeError(f"{kind!r} has no plain form")  # a type the cache was never meant to hold


def _fields_reader(kind: Callable[..., object], items: tuple[Reader | None, ...]) -> Reader | None:
    """Reads a tuple of known length, each item of its own type, into `kind` (a tuple,
    or a dataclass called with the items)."""
    rebuilt = tuple((index, read) for index, read in enumerate(items) if read is not None)
    if kind is tuple and not rebuilt:
        return None
    return functools.partial(_fixed, kind, len(items), rebuilt)


def _optional(present: Reader, data: object) -> object:
    return None if data is None else present(data)


def _sequence(kind: type[tuple[object, ...]] | type[list[object]], item: Reader, data: object) -> object:
    if type(data) is not kind:
        raise Malformed(f"expected {kind.__name__}, got {type(data).__name__}")
    return kind(map(item, data))


def _fixed(kind: Callable[..., object], length: int, rebuilt: tuple[tuple[int, Reader], ...], data: object) -> object:
    if type(data) is not tuple or len(data) != length:
        raise Malformed(f"expected a tuple of {length}, got {type(data).__name__}")
    values = list(data)
    for index, read in rebuilt:
        values[index] = read(values[index])
    return kind(*values) if kind is not tuple else tuple(values)


def _mapping(key: Reader | None, item: Reader | None, data: object) -> object:
    if not isinstance(data, dict):  # `marshal` makes no subclass
        raise Malformed(f"expected dict, got {type(data).__name__}")
    return {name if key is None else key(name): value if item is None else item(value) for name, value in data.items()}


def _member(kind: type[enum.Enum], data: object) -> object:
    try:
        return kind(data)
    except ValueError:
        raise Malformed(f"{data!r} is no {kind.__name__}") from None


def _fields(kind: type) -> tuple[str, ...]:
    """The fields of a dataclass whose `__init__` takes them all, in order."""
    names = _FIELDS.get(kind)
    if names is None:
        names = _FIELDS[kind] = _init_fields(kind)
    return names


_FIELDS: dict[type, tuple[str, ...]] = {}


def _init_fields(kind: type) -> tuple[str, ...]:
    if not dataclasses.is_dataclass(kind):
        raise TypeError(f"{kind.__name__} has no plain form: not a dataclass")
    fields = dataclasses.fields(kind)
    if not all(field.init and not field.kw_only for field in fields):
        raise TypeError(f"{kind.__name__} has no plain form: its __init__ does not take every field in order")
    return tuple(field.name for field in fields)
