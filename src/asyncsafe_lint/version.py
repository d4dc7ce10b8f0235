"""The version of asyncsafe-lint (and of the pytest-asyncsafe distribution): a module of its
own, so that modules of the package read it without importing the package's API."""

__version__ = "0.1.0"
