"""Citations that read the same in the book, on Colab and in a plain Jupyter.

A MyST role such as {cite:t}`che2017mrgan` only means something to Jupyter Book: on Colab it
shows as literal text with no bibliography to look it up. So the chapters cite with ordinary
Markdown links whose text is the author-year label and whose target is the paper
(`[Che et al. (2017)](https://arxiv.org/abs/1612.02136)`); `references.bib` stays the one
source of truth, and the book's bibliography page still lists every entry.

Authors may keep writing roles; this script turns them into links:

    python .ci/citations.py chapters/*.ipynb      # rewrite {cite:t} / {cite:p} roles in place

`tests/test_book.py` imports `bibliography()` and `label()` to check that every link to a
paper carries exactly the label this script would write.
"""

from __future__ import annotations

import codecs
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import latexcodec  # noqa: F401  (registers the "ulatex" codec; a dependency of pybtex)
from pybtex.database import parse_file

ROOT = Path(__file__).resolve().parents[1]
ROLE = re.compile(r"\{cite(?::(?P<kind>[pt]))?\}`(?P<keys>[^`]+)`")


@dataclass(frozen=True)
class Entry:
    key: str
    surnames: tuple[str, ...]
    year: str
    url: str


def _plain(latex: str) -> str:
    """`Kynk{\\"a}{\\"a}nniemi` → `Kynkäänniemi`."""
    return codecs.decode(latex, "ulatex").replace("{", "").replace("}", "")


def bibliography(path: Path = ROOT / "references.bib") -> dict[str, Entry]:
    entries = {}
    for key, entry in parse_file(str(path)).entries.items():
        if "url" not in entry.fields:
            raise ValueError(f"{path.name}: entry {key!r} has no url field; every entry needs one "
                             "so that its citations can link to it")
        surnames = tuple(_plain(" ".join(person.last_names)) for person in entry.persons["author"])
        entries[key] = Entry(key, surnames, entry.fields["year"], entry.fields["url"])
    return entries


def authors(entry: Entry) -> str:
    """One author: `Hinton`; two: `Hinton and Salakhutdinov`; more: `Che et al.`."""
    names = entry.surnames
    if len(names) == 1:
        return names[0]
    if len(names) == 2:
        return f"{names[0]} and {names[1]}"
    return f"{names[0]} et al."


def label(entry: Entry, kind: str) -> str:
    """The link text: `Che et al. (2017)` in a sentence (t), `Che et al., 2017` in brackets (p)."""
    return f"{authors(entry)} ({entry.year})" if kind == "t" else f"{authors(entry)}, {entry.year}"


def link(entry: Entry, kind: str) -> str:
    return f"[{label(entry, kind)}]({entry.url})"


def rewrite(markdown: str, entries: dict[str, Entry]) -> str:
    """Replace every {cite:t}/{cite:p} role in `markdown` by author-year links."""

    def replace(match: re.Match) -> str:
        kind = match["kind"] or "p"
        keys = [key.strip() for key in match["keys"].split(",")]
        unknown = [key for key in keys if key not in entries]
        if unknown:
            raise KeyError(f"cited keys not in references.bib: {unknown}")
        links = "; ".join(link(entries[key], kind) for key in keys)
        return links if kind == "t" else f"({links})"

    return ROLE.sub(replace, markdown)


def main(paths: list[str]) -> None:
    entries = bibliography()
    for name in paths:
        path = Path(name)
        notebook = json.loads(path.read_text())
        changed = 0
        for cell in notebook["cells"]:
            if cell["cell_type"] != "markdown":
                continue
            text = "".join(cell["source"])
            new = rewrite(text, entries)
            if new != text:
                cell["source"] = new.splitlines(keepends=True)
                changed += 1
        if changed:
            path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
        print(f"{path.name}: {changed} cells rewritten")


if __name__ == "__main__":
    main(sys.argv[1:])
