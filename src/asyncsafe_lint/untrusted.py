"""Text neither tool wrote, made safe to print: the file names and source lines of the
code asyncsafe-lint checks, and what pytest-asyncsafe reports of the app and the tests
(test ids, request paths, file and function names, source lines, the server's output,
what a saved baseline says).  Both come from the repository or the app.

A terminal acts on control characters instead of showing them: an app's log line or
a request path holding `ESC[2J` would clear the screen, one holding `ESC]8;;...` would
plant a link, and a carriage return or a newline lets text overwrite or forge a report
line.  Bidirectional overrides reorder what follows them on screen, so that a line
reads otherwise than it is (Trojan Source, CVE-2021-42574).  Every such character is
written out instead, as Python writes it in a string literal: ESC reads `\\x1b`, a
newline `\\n`, a right-to-left override `\\u202e`.  Other text, non-ASCII letters
included, is left as it is; so are backslashes, so a path that holds the four
characters `\\x1b` reads the same as one that holds an ESC: nothing runs either way.
"""

from __future__ import annotations

#: C0 controls (newline, tab and ESC among them), DEL, and C1 controls (CSI among
#: them: `\x9b` starts a control sequence alone on some terminals).
_CONTROLS = (*range(0x20), *range(0x7F, 0xA0))
#: The bidirectional marks, embeddings, overrides and isolates.
_BIDI = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
#: The Unicode line and paragraph separators: a viewer may break a line at either.
_SEPARATORS = (0x2028, 0x2029)
_NAMED = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}
_ESCAPES = {
    code: _NAMED.get(code, f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    for code in (*_CONTROLS, *_BIDI, *_SEPARATORS)
}


def printable(text: str) -> str:
    """`text` as one line that shows every character a terminal would act on as an
    escape, a newline too: a field of a report line cannot start another."""
    return text.translate(_ESCAPES)


def printable_lines(text: str) -> list[str]:
    """The lines of a block of text (a server's output, a traceback), each `printable`.
    Split at newlines only: `str.splitlines` also breaks at other controls (a vertical
    tab, NEL), which are to be shown, not obeyed."""
    return [printable(line) for line in text.split("\n")]
