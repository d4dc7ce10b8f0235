from asyncsafe_lint.rule import Rule


class IOErrorRule(Rule):
    code = "ASF002"
    name = "io-error"
    summary = "The file cannot be read as Python source (missing, unreadable, binary, bad encoding)"
    message = "Cannot check this file: {reason}"
    docs = """
## What it does
Reports a path that cannot be checked: it does not exist, cannot be read, holds NUL
bytes (a binary file named `.py`), or is not valid in its declared encoding (UTF-8
unless a PEP 263 `# -*- coding: ... -*-` line says otherwise). It is always on.

## Why is this bad?
A file the linter cannot read is a file nobody checked; saying so beats passing it
over in silence.

## Example
A `module.py` saved as Latin-1 that contains `café` and no coding declaration.

## Use instead
Save the file as UTF-8, or declare its encoding on the first or second line:
```python
# -*- coding: latin-1 -*-
```

## Fix safety
There is no fix.
"""
