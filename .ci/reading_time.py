"""Each chapter's reading time, computed from its text and code, and stated under its title.

The story of a chapter is every Markdown cell and every code cell a reader sees, up to its
"Exercises" heading (exercises, references and cells hidden in the book are left out). Prose
reads at 200 words a minute (MyST's own estimate), code at 20 lines a minute. The time is
rounded up to 5 minutes and written as the title cell's second line:

    *Reading time: about 35 minutes (exercises apart).*

    python .ci/reading_time.py           # print each chapter's count and time
    python .ci/reading_time.py --write   # write the line into every chapter
    python .ci/reading_time.py --check   # exit 1 if a chapter states another time

tests/test_book.py runs the check, so a chapter that grows states its new time.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path

WORDS_PER_MINUTE = 200
CODE_LINES_PER_MINUTE = 20
TARGET_MINUTES = 45   # issue: a chapter's story should read in at most this long
LINE = re.compile(r"^\*Reading time: about (\d+) minutes \(exercises apart\)\.\*$", re.M)
HIDDEN = {"remove-cell", "remove-input", "checks"}


def story_cells(notebook: dict) -> list[dict]:
    cells = []
    for cell in notebook["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and re.match(r"#+\s+Exercises", text):
            break
        if HIDDEN & set(cell.get("metadata", {}).get("tags", [])):
            continue
        cells.append(cell)
    return cells


def measure(notebook: dict) -> tuple[int, int, int]:
    """(words of prose, lines of code, minutes rounded up to 5)."""
    words = code = 0
    for cell in story_cells(notebook):
        text = LINE.sub("", "".join(cell["source"]))
        if cell["cell_type"] == "markdown":
            words += len(re.findall(r"[^\s$|]+", text))
        elif cell["cell_type"] == "code":
            code += sum(1 for line in text.splitlines() if line.strip())
    minutes = words / WORDS_PER_MINUTE + code / CODE_LINES_PER_MINUTE
    return words, code, 5 * max(1, math.ceil(minutes / 5))


def title_cell(notebook: dict) -> dict:
    return next(cell for cell in notebook["cells"]
                if cell["cell_type"] == "markdown" and "".join(cell["source"]).startswith("# "))


def stated(notebook: dict) -> int | None:
    match = LINE.search("".join(title_cell(notebook)["source"]))
    return int(match.group(1)) if match else None


def write(path: Path, minutes: int) -> None:
    notebook = json.loads(path.read_text())
    cell = title_cell(notebook)
    lines = LINE.sub("", "".join(cell["source"])).split("\n")
    while len(lines) > 1 and not lines[1].strip():
        del lines[1]
    lines[1:1] = ["", f"*Reading time: about {minutes} minutes (exercises apart).*", ""]
    text = "\n".join(lines)
    cell["source"] = [line + "\n" for line in text.split("\n")[:-1]] + [text.split("\n")[-1]]
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    paths = args.notebooks or sorted(Path(__file__).resolve().parents[1].glob("chapters/*.ipynb"))
    wrong = 0
    for path in paths:
        notebook = json.loads(path.read_text())
        words, code, minutes = measure(notebook)
        said = stated(notebook)
        print(f"{path.name:<28} {words:6,d} words  {code:4d} code lines  → {minutes} min"
              f"  (stated: {said}){'  over the target' if minutes > TARGET_MINUTES else ''}")
        if args.write and said != minutes:
            write(path, minutes)
        wrong += said != minutes
    return 1 if args.check and wrong else 0


if __name__ == "__main__":
    sys.exit(main())
