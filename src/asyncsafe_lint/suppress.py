"""Comments that silence a finding on their line: `# noqa`, `# noqa: ASF101`,
`# asyncsafe: ignore` and `# asyncsafe: ignore[ASF101, ASF102]`."""

from __future__ import annotations

import re

_DIRECTIVE = re.compile(
    r"#\s*(?:noqa(?::\s*(?P<noqa>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?"
    r"|asyncsafe:\s*ignore(?:\[(?P<ignore>[^\]]*)\])?)",
    re.IGNORECASE,
)


def comment(line: str) -> str | None:
    """The comment at the end of one physical line, ignoring `#` inside string literals."""
    quote: str | None = None
    index = 0
    while index < len(line):
        char = line[index]
        if quote is None:
            if char == "#":
                return line[index:]
            if char in "'\"":
                quote = line[index : index + 3] if line[index : index + 3] in ("'''", '"""') else char
                index += len(quote)
                continue
        elif char == "\\":
            index += 2
            continue
        elif line.startswith(quote, index):
            index += len(quote)
            quote = None
            continue
        index += 1
    return None


def is_suppressed(line: str, code: str) -> bool:
    text = comment(line)
    if text is None:
        return False
    for match in _DIRECTIVE.finditer(text):
        listed = match.group("noqa") or match.group("ignore")
        if listed is None:
            return True
        if code in re.split(r"[\s,]+", listed.strip()):
            return True
    return False
