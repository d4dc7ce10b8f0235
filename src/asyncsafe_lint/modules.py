"""Which file holds which module: a file's module name is its path from the first
directory above it that is not a package (or, for a file outside any package, from the
project's root or its `src/`), and which modules a module's calls may lead into."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from asyncsafe_lint.facts import ModuleFacts
from asyncsafe_lint.filesystem import DIRECTORY, FILE, LINKED_DIRECTORY, Snapshot


class Layout:
    """Which file holds which module, and the other way around, as the files are during
    one run.  Each file is looked for once: a run makes thousands of lookups."""

    def __init__(self, snapshot: Snapshot | None = None) -> None:
        # The snapshot's answers are asked for once each (the file system is read through
        # it); when a run is recorded, they are what its replay checks again.
        self._snapshot = snapshot if snapshot is not None else Snapshot()
        self._roots: dict[Path, list[Path]] = {}
        self._projects: dict[Path, Path | None] = {}
        self._prefixes: dict[Path, tuple[tuple[str, ...], bool]] = {}

    def _is_file(self, path: str) -> bool:
        # A `stat`, not a listing: it is asked about the directories above a file (for
        # `__init__.py`, `pyproject.toml`), and listing `/tmp` or a home costs far more.
        return self._snapshot.is_file(path)

    def _is_package(self, directory: Path) -> bool:
        return self._is_file(os.path.join(directory, "__init__.py"))

    def project_root(self, directory: Path) -> Path | None:
        """The nearest directory at or above `directory` holding a `pyproject.toml`."""
        if directory not in self._projects:
            candidates = (directory, *directory.parents)
            found = (d for d in candidates if self._is_file(os.path.join(d, "pyproject.toml")))
            self._projects[directory] = next(found, None)
        return self._projects[directory]

    def import_roots(self, path: Path) -> list[Path]:
        """The directories a module of `path`'s project is imported from."""
        return self._roots_of(path.absolute().parent)

    def _roots_of(self, directory: Path) -> list[Path]:
        if directory not in self._roots:
            base = directory
            while self._is_package(base):
                base = base.parent
            roots = [base]
            root = self.project_root(directory)
            if root is not None:
                roots += [root / "src", root]
            self._roots[directory] = list(dict.fromkeys(roots))
        return self._roots[directory]

    def module_name(self, path: Path) -> str:
        """The dotted name `path` is imported as (`fixtures_app/routes/items.py` ->
        `fixtures_app.routes.items`; `app/__init__.py` -> `app`)."""
        if path.parent not in self._prefixes:
            self._prefixes[path.parent] = self._prefix(path.parent.absolute())
        prefix, names_init = self._prefixes[path.parent]
        return ".".join((*prefix, path.stem) if names_init or path.stem != "__init__" else prefix)

    def _prefix(self, directory: Path) -> tuple[tuple[str, ...], bool]:
        """The dotted name of the modules in `directory`, as parts, and whether an
        `__init__.py` there is named too (only outside a package)."""
        parts: list[str] = []
        base = directory
        while self._is_package(base):
            parts.insert(0, base.name)
            base = base.parent
        if base == directory:
            # Not in a package: a top-level module, or one in a namespace package under the project.
            for root in self._roots_of(directory)[1:]:
                if directory.is_relative_to(root) and root != directory:
                    return directory.relative_to(root).parts, True
        return tuple(parts), False

    def top_level(self, path: Path) -> tuple[Path, Path | None]:
        """The directory `path`'s module is imported from by its first name, and its
        top-level package there (None for a top-level module): for
        `app/routes/items.py`, `.` and `app`."""
        absolute = path.absolute()
        parts = self.module_name(path).split(".")
        names_package = absolute.name == "__init__.py" and parts[-1] != "__init__"
        depth = len(parts) - (0 if names_package else 1)
        if depth == 0:
            return absolute.parent, None
        package = absolute.parents[depth - 1]
        return package.parent, package

    def module_file(self, module: str, roots: Iterable[Path]) -> Path | None:
        """The file that holds `module` under one of `roots`, if any."""
        parts = module.split(".")
        if not all(part.isidentifier() for part in parts):
            return None
        # Down the packages' directory listings, one per directory for a whole run: a run
        # looks up thousands of names, most of them not modules of the project at all.
        for root in roots:
            directory, listing = str(root), self._snapshot.listing(str(root))
            for index, part in enumerate(parts, 1):
                if listing is None:
                    break
                if index == len(parts) and listing.get(f"{part}.py") == FILE:
                    return Path(directory, f"{part}.py")
                if listing.get(part) not in (DIRECTORY, LINKED_DIRECTORY):
                    break
                directory = os.path.join(directory, part)
                listing = self._snapshot.listing(directory)
            else:
                if listing is not None and listing.get("__init__.py") == FILE:
                    return Path(directory, "__init__.py")
        return None


def imported_modules(facts: ModuleFacts) -> set[str]:
    """Every dotted prefix of what the module's functions call or its names alias: the
    modules among them are what its calls may lead into."""
    names = {site.callee for function in facts.functions for site in function.calls}
    names.update(target for _, target in facts.aliases)
    prefixes: set[str] = set()
    for name in names:
        parts = name.split(".")
        prefixes.update(".".join(parts[:end]) for end in range(1, len(parts)))
    return prefixes
