"""The book's notebooks keep the conventions readers and CI rely on."""

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())


def cells(path):
    return json.loads(path.read_text())["cells"]


def source(cell):
    return "".join(cell["source"])


def toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


def test_there_are_chapters():
    assert NOTEBOOKS, "no chapter notebooks found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_colab_install_cell_points_at_the_configured_repository(path):
    first_code = next(c for c in cells(path) if c["cell_type"] == "code")
    text = source(first_code)
    assert 'if "google.colab" in sys.modules' in text
    assert "remove-cell" in first_code["metadata"].get("tags", [])
    url = CONFIG["repository"]["url"].removeprefix("https://")
    branch = CONFIG["repository"]["branch"]
    assert f"git+https://{url}@{branch}" in text, "install cell and _config.yml disagree on the repository"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_profile_parameter_cell(path):
    code = [source(c) for c in cells(path) if c["cell_type"] == "code"]
    assert any('PROFILE = os.environ.get("AEGAN_PROFILE", "auto")' in text for text in code[:4])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_executed_in_order_with_outputs(path):
    code = [c for c in cells(path) if c["cell_type"] == "code" and source(c).strip()]
    counts = [c["execution_count"] for c in code]
    assert None not in counts, "a code cell was never executed: run `make notebooks`"
    assert counts == sorted(counts), "cells were executed out of order"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_machine_paths_or_stray_tracebacks(path):
    for cell in cells(path):
        text = json.dumps(cell.get("outputs", [])) + source(cell)
        assert not re.search(r"/(work|tmp|root|home)/[A-Za-z]", text), f"machine path in: {source(cell)[:80]}"
        if "raises-exception" not in cell.get("metadata", {}).get("tags", []):
            assert "Traceback" not in json.dumps(cell.get("outputs", []))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_has_summary_exercises_references(path):
    markdown = "\n".join(source(c) for c in cells(path) if c["cell_type"] == "markdown")
    for heading in ("## Summary", "## Exercises", "## References"):
        assert heading in markdown, f"missing {heading}"
    assert "{cite" in markdown


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_is_in_the_table_of_contents(path):
    assert f"chapters/{path.stem}" in toc_files()


def test_citations_exist_in_the_bibliography():
    keys = set(re.findall(r"@\w+\{([^,]+),", (ROOT / "references.bib").read_text()))
    for path in NOTEBOOKS:
        markdown = " ".join(source(c) for c in cells(path) if c["cell_type"] == "markdown")
        for group in re.findall(r"\{cite(?::[pt])?\}`([^`]+)`", markdown):
            for key in group.split(","):
                assert key.strip() in keys, f"{path.name} cites unknown key {key!r}"


def test_markdown_outputs_render_as_myst():
    """Tables shown with IPython.display.Markdown only become tables when myst-nb parses them as MyST."""
    uses_markdown = any("text/markdown" in output.get("data", {})
                        for path in NOTEBOOKS for cell in cells(path) for output in cell.get("outputs", []))
    if uses_markdown:
        assert CONFIG["sphinx"]["config"].get("nb_render_markdown_format") == "myst"
