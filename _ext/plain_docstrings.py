"""Sphinx extension: read aegan_lib's docstrings as the plain text they are written as.

The library's docstrings are written for `help()` and for readers of the source: Markdown-ish
backticks for code, indented blocks for commands and examples, `*` in shapes and products.
reStructuredText reads those as emphasis, block quotes and definition lists (and warns). This
hook rewrites each docstring before autodoc parses it, for the API reference page only:

- `name` becomes ``name`` (code, as the author meant);
- an indented block after a paragraph becomes a literal block (commands, examples);
- a lone `*` is escaped (2*k, (N, *shape)).
"""
from __future__ import annotations

import re

CODE = re.compile(r"(?<![`\w])`([^`\n]+)`(?![`_\w])")
STAR = re.compile(r"(?<!^)(?<!\\)\*")
BULLET = re.compile(r"^\s*(?:[-*] |\d+[.)] )")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def plain_to_rest(lines: list[str]) -> list[str]:
    out: list[str] = []
    in_block, block_indent = False, 0
    for index, line in enumerate(lines):
        previous = next((l for l in reversed(out) if l.strip()), "")
        if in_block:
            if not line.strip() or _indent(line) >= block_indent:
                out.append(line)
                continue
            in_block = False
            out.append("")
        starts_block = (line.strip() and previous.strip() and _indent(line) > _indent(previous)
                        and not BULLET.match(previous) and not previous.rstrip().endswith("::")
                        and not _inside_bullet(out))
        if starts_block:
            if out and out[-1].strip():
                out.append("")
            out.extend(["::", ""])
            in_block, block_indent = True, _indent(line)
            out.append(line)
            continue
        text = CODE.sub(r"``\1``", line)
        if not line.lstrip().startswith(("* ", "- ")):
            text = STAR.sub(r"\\*", text)
        else:
            head, rest = text[:_indent(text) + 2], text[_indent(text) + 2:]
            text = head + STAR.sub(r"\\*", rest)
        out.append(text)
    return out


def _inside_bullet(out: list[str]) -> bool:
    """True when the paragraph being written is a bullet item (its continuation lines indent)."""
    for line in reversed(out):
        if not line.strip():
            return False
        if BULLET.match(line):
            return True
    return False


def _process(app, what, name, obj, options, lines):
    lines[:] = plain_to_rest(list(lines))


def setup(app):
    app.connect("autodoc-process-docstring", _process)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
