"""libcst, imported when first used.

Importing libcst takes longer than a whole run whose results all come from the cache,
which parses nothing.  So the linter's modules take libcst as `cst` from here: a name
that becomes libcst's own namespace the first time one of its attributes is read.  Until
then a module may import it, and name its types in annotations, but must not touch it
at import time (subclass a libcst class, call libcst, `from libcst... import`).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING

__all__ = ["cst"]


class _Deferred(ModuleType):
    def __getattr__(self, name: str) -> object:
        libcst = importlib.import_module("libcst")
        self.__dict__.update(vars(libcst))
        # A plain module from now on: reading an attribute costs what it costs on libcst.
        self.__class__ = ModuleType
        return getattr(libcst, name)


if TYPE_CHECKING:
    import libcst as cst
else:
    cst = _Deferred("libcst")
