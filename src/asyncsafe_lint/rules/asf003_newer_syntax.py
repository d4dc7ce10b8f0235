from asyncsafe_lint.rule import Rule


class NewerSyntax(Rule):
    code = "ASF003"
    name = "newer-syntax"
    summary = "The file uses syntax newer than the Python asyncsafe-lint runs on, and cannot be checked"
    message = (
        "This file uses Python {version} syntax ({what}); asyncsafe-lint runs on Python {running}: "
        "run it with Python {version}, e.g. pre-commit's `language_version: python{version}`"
    )
    docs = """
## What it does
Reports a file that is valid in a newer Python than the one asyncsafe-lint runs on,
in a way the linter cannot read, at the first construct of the newest release it uses.
It is always on, as `ASF001` is.

Most newer syntax is read anyway: the linter parses the file with libcst, whose parser
knows every release whatever Python runs it, and reads `except A, B:` (3.14), template
strings (3.14), `type` statements, type parameters and f-strings that reuse their
quotes (3.12) in the syntax of the Python it runs on, every finding on its real line
and column. This rule is for what is left (type parameters written over several lines,
say). A file no Python accepts is `ASF001`, and syntax newer than the project's
`target-version` (or `requires-python`) is `ASF001` too: the project's oldest Python
would reject it.

## Why is this bad?
Nothing in the file is checked: its blocking calls stay unreported until the linter
runs on a Python that reads it.

## Example
```python
def first[
    T,
](items: list[T]) -> T:
    ...
```

## Use instead
Run the hook with the Python the project runs on:

```yaml
- repo: https://github.com/asyncsafe/asyncsafe
  hooks:
    - id: asyncsafe-lint
      language_version: python3.14
```

## Fix safety
There is no fix.
"""
    valid = (
        # Read in older syntax: nothing to say.
        "try:\n    pass\nexcept ValueError, KeyError:\n    pass\n",
        "type Pair = tuple[int, int]\nclass Box[T]:\n    pass\n",
    )
