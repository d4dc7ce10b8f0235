from asyncsafe_lint.rule import Invalid, Rule


class SyntaxErrorRule(Rule):
    code = "ASF001"
    name = "syntax-error"
    summary = "The file does not parse as Python; nothing else in it can be checked"
    message = "SyntaxError: {reason}"
    docs = """
## What it does
Reports a file that does not parse, at the position where parsing failed. It is
always on: it cannot be selected away or ignored.

## Why is this bad?
Python will refuse to import the module, and no other rule can check it.

## Example
```python
async def handler(:
    ...
```

## Use instead
```python
async def handler():
    ...
```

## Fix safety
There is no fix.
"""
    invalid = (Invalid("async def handler(:  # expect: ASF001\n    pass\n", "SyntaxError: invalid syntax"),)
