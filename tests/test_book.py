"""The book's notebooks keep the conventions readers and CI rely on."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())

sys.path.insert(0, str(ROOT / ".ci"))
import citations  # noqa: E402  (the book's citation tool: .ci/citations.py)


def cells(path):
    return json.loads(path.read_text())["cells"]


def source(cell):
    return "".join(cell["source"])


def markdown(path):
    return "\n".join(source(c) for c in cells(path) if c["cell_type"] == "markdown")


LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")


def cited(path):
    urls = {entry.url for entry in citations.bibliography().values()}
    return [url for _, url in LINK.findall(markdown(path)) if url in urls]


def toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


def test_there_are_chapters():
    assert NOTEBOOKS, "no chapter notebooks found"


def install_cell(path):
    return next(c for c in cells(path) if c["cell_type"] == "code")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_cell_tells_colab_readers_to_pick_a_gpu_runtime(path):
    first = cells(path)[0]
    assert first["cell_type"] == "markdown" and "Change runtime type" in source(first)
    assert "remove-cell" in first["metadata"].get("tags", []), "the book page has its own launch button"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_install_cell_runs_wherever_the_library_is_missing(path):
    cell = install_cell(path)
    text = source(cell)
    assert 'importlib.util.find_spec("aegan_lib") is None' in text
    assert "google.colab" not in text, "Kaggle, Binder and a bare Jupyter need the install too"
    assert "remove-cell" in cell["metadata"].get("tags", [])
    url = CONFIG["repository"]["url"].removeprefix("https://")
    branch = CONFIG["repository"]["branch"]
    assert f'"aegan_lib @ git+https://{url}@{branch}"' in text, \
        "install cell and _config.yml disagree on the repository or the release"


def test_install_cell_is_the_same_in_every_chapter():
    assert len({source(install_cell(path)) for path in NOTEBOOKS}) == 1


def test_a_failed_install_raises_one_clear_sentence(tmp_path):
    """With the package unreachable, the cell must stop "Run all", not print and go on."""
    text = source(install_cell(NOTEBOOKS[0]))
    unreachable = (tmp_path / "no-such-package").as_uri()
    text = re.sub(r'AEGAN_LIB = "[^"]+"', f'AEGAN_LIB = "aegan_lib @ {unreachable}"', text)
    # -S: no site-packages, so aegan_lib is missing here, as on a fresh Colab runtime.
    run = subprocess.run([sys.executable, "-S", "-c", text], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode != 0
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("RuntimeError: Could not install aegan_lib @ file:"), run.stderr[-2000:]
    assert "run the cell again" in last


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
    for heading in ("## Summary", "## Exercises", "## References"):
        assert heading in markdown(path), f"missing {heading}"
    assert cited(path), "a chapter cites its sources"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_is_in_the_table_of_contents(path):
    assert f"chapters/{path.stem}" in toc_files()


# --- Markup that reads the same in the book, on Colab and in Jupyter ------------------------

# MyST-only syntax: roles ({cite:p}`k`), directives (```{note}, :::{dropdown}), targets ((x)=).
BOOK_ONLY = {
    "a MyST role": re.compile(r"\{[a-z][\w:-]*\}`"),
    "a MyST directive": re.compile(r"^\s*(```+|:::+)\s*\{", re.M),
    "a colon fence": re.compile(r"^\s*:::", re.M),
    "a MyST target": re.compile(r"^\([\w-]+\)=\s*$", re.M),
    "a substitution": re.compile(r"\{\{[^}]*\}\}"),
}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_markdown_uses_nothing_only_the_book_renders(path):
    for cell in cells(path):
        if cell["cell_type"] != "markdown":
            continue
        for what, pattern in BOOK_ONLY.items():
            match = pattern.search(source(cell))
            assert match is None, (f"{path.name} uses {what} ({match and match.group(0)!r}), which "
                                   "Colab and Jupyter show as raw text; see .ci/citations.py and <details>")


RELATIVE_LINK = re.compile(r"\]\((?!https?://|#)([^)\s]+)\)")
HELP = re.compile(r"`help\(((?:aegan_lib\.)?[A-Za-z_][A-Za-z_.]*)\)`")  # help(algos.GAN), help(aegan_lib.fit)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_link_to_another_page_has_a_way_in_on_colab(path):
    """A relative link works in the built book, not on Colab: the sentence names `help(...)`
    of a real library object as well, which prints the linked page's text in any notebook."""
    import aegan_lib

    for cell in cells(path):
        text = source(cell)
        if cell["cell_type"] != "markdown" or not RELATIVE_LINK.search(text):
            continue
        named = HELP.findall(text)
        assert named, f"{path.name}: {RELATIVE_LINK.search(text).group(0)!r} has no `help(...)` beside it"
        for dotted in named:
            obj = aegan_lib
            for part in dotted.removeprefix("aegan_lib.").split("."):
                obj = getattr(obj, part)
            assert obj.__doc__, f"{path.name}: help({dotted}) would print no docstring"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_solutions_are_folded_everywhere(path):
    """<details> folds in the book, on Colab and in Jupyter alike; a blank line after </summary>
    is what lets the Markdown inside render (an HTML block ends at the first blank line)."""
    text = markdown(path)
    opened, closed = text.count("<details>"), text.count("</details>")
    assert opened == closed and opened > 0, "every chapter's exercises have folded solutions"
    assert len(re.findall(r"<summary>[^<]+</summary>\n\n", text)) == opened


def test_citations_carry_the_label_of_their_bibliography_entry():
    entries = citations.bibliography()
    by_url = {entry.url: entry for entry in entries.values()}
    assert len(by_url) == len(entries), "two bibliography entries share a url"
    for path in NOTEBOOKS:
        for text, url in LINK.findall(markdown(path)):
            if url in by_url:
                allowed = {citations.label(by_url[url], kind) for kind in "tp"}
                assert text in allowed, f"{path.name}: [{text}]({url}) should read one of {allowed}"


def test_citation_tool_writes_author_year_links():
    entries = citations.bibliography()
    text = "as {cite:t}`che2017mrgan` showed {cite:p}`lin2018pacgan,kynkaanniemi2019precision`"
    assert citations.rewrite(text, entries) == (
        "as [Che et al. (2017)](https://arxiv.org/abs/1612.02136) showed "
        "([Lin et al., 2018](https://arxiv.org/abs/1712.04086); "
        "[Kynkäänniemi et al., 2019](https://arxiv.org/abs/1904.06991))")
    with pytest.raises(KeyError, match="no_such_key"):
        citations.rewrite("{cite:p}`no_such_key`", entries)


def test_markdown_outputs_render_as_myst():
    """Tables shown with IPython.display.Markdown only become tables when myst-nb parses them as MyST."""
    uses_markdown = any("text/markdown" in output.get("data", {})
                        for path in NOTEBOOKS for cell in cells(path) for output in cell.get("outputs", []))
    if uses_markdown:
        assert CONFIG["sphinx"]["config"].get("nb_render_markdown_format") == "myst"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_nbval_markers_are_tags_not_comments_the_reader_sees(path):
    for cell in cells(path):
        if cell["cell_type"] == "code":
            assert "# NBVAL_" not in source(cell), "use the nbval-ignore-output (or nbval-skip) cell tag"


# The text column shows about 80 characters of code at the book's code size (13 px), so lines
# beyond it scroll sideways and hide their ends (the browser check measures the boxes too).
CODE_COLUMNS = 79
OUTPUT_COLUMNS = 80


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_code_lines_fit_the_column(path):
    long = [(index, line) for index, cell in enumerate(cells(path)) if cell["cell_type"] == "code"
            for line in source(cell).splitlines() if len(line) > CODE_COLUMNS]
    assert not long, f"{len(long)} code line(s) longer than {CODE_COLUMNS} characters, first: {long[0]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_code_is_formatted(path):
    """The notebooks' code is what the formatter writes (ruff format, line length 79)."""
    pytest.importorskip("ruff", reason="ruff is in the pinned environment, not the minimum one")
    check = subprocess.run([sys.executable, "-m", "ruff", "format", "--check", "--diff",
                            "--line-length", str(CODE_COLUMNS), str(path)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout[-2000:] + check.stderr[-500:]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_printed_lines_fit_the_column(path):
    """Printed results fit the column; an error's message wraps (the book's CSS), so is exempt."""
    long = []
    for index, cell in enumerate(cells(path)):
        for output in cell.get("outputs", []):
            if output["output_type"] == "error" or "image/png" in output.get("data", {}):
                continue
            text = output.get("text") or output.get("data", {}).get("text/plain", "")
            long += [(index, line) for line in "".join(text).splitlines() if len(line) > OUTPUT_COLUMNS]
    assert not long, f"{len(long)} printed line(s) longer than {OUTPUT_COLUMNS} characters, first: {long[0]}"


def only_asserts(code: str) -> bool:
    import ast

    def is_check(node):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, (ast.If, ast.For)) and not getattr(node, "orelse", []):
            return all(is_check(child) for child in node.body)
        return False

    try:
        body = ast.parse(code).body
    except SyntaxError:   # IPython magics: not a check cell
        return False
    return bool(body) and all(is_check(node) for node in body)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_check_cells_are_folded_with_a_summary(path):
    """A cell that only asserts is a `checks` cell: folded in the book, and its first line says
    what it checks (the smoke run leaves these out: they hold at the book's budget only)."""
    for cell in cells(path):
        if cell["cell_type"] != "code":
            continue
        tags = set(cell.get("metadata", {}).get("tags", []))
        text = source(cell)
        if only_asserts(text):
            assert "checks" in tags, f"an assert-only cell is not tagged checks: {text[:80]!r}"
        if "checks" in tags:
            assert "hide-input" in tags, f"a checks cell is not folded: {text[:80]!r}"
            assert text.startswith("# Checks: "), f"a checks cell does not say what it checks: {text[:80]!r}"


reading_time = pytest.importorskip("reading_time")   # .ci/ is on sys.path (see the top)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_chapter_states_its_reading_time(path):
    notebook = json.loads(path.read_text())
    words, code, minutes = reading_time.measure(notebook)
    assert reading_time.stated(notebook) == minutes, (
        f"{path.name} reads in about {minutes} minutes ({words} words, {code} code lines): "
        "run `python .ci/reading_time.py --write`")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_figure_has_a_caption_and_alt_text(path):
    """myst-nb reads both from the cell's metadata (`mystnb.figure.caption`, `mystnb.image.alt`);
    the browser check then finds them on the page."""
    for cell in cells(path):
        if not any("image/png" in output.get("data", {}) for output in cell.get("outputs", [])):
            continue
        options = cell.get("metadata", {}).get("mystnb", {})
        caption = options.get("figure", {}).get("caption", "")
        alt = options.get("image", {}).get("alt", "")
        where = source(cell)[:60]
        assert caption.strip().endswith("."), f"figure without a one-sentence caption: {where!r}"
        assert len(alt.split()) >= 6, f"figure without real alt text: {where!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_captioned_cell_shows_one_figure_and_nothing_else_displayed(path):
    """myst-nb puts a captioned cell's caption under every display output it has: a second
    figure, or a table shown with `display(Markdown(...))`, gets the same numbered caption
    again. Printed text (a stream) is not captioned."""
    for cell in cells(path):
        if not cell.get("metadata", {}).get("mystnb", {}).get("figure", {}).get("caption"):
            continue
        displays = [output for output in cell.get("outputs", [])
                    if output.get("output_type") in ("display_data", "execute_result")]
        where = source(cell)[:60]
        assert len(displays) == 1, f"a captioned cell with {len(displays)} displays (split it): {where!r}"
        assert "image/png" in displays[0].get("data", {}), f"a captioned cell without a figure: {where!r}"


def test_the_step_methods_the_book_prints_fit_the_column():
    """Chapter 5 prints AEGAN.step and the appendix GAN.step, as they are in the library."""
    import inspect
    import textwrap

    from aegan_lib import algos

    for method in (algos.GAN.step, algos.AEGAN.step):
        lines = textwrap.dedent(inspect.getsource(method)).splitlines()
        long = [line for line in lines if len(line) > CODE_COLUMNS]
        assert not long, f"{method.__qualname__} has lines wider than the page: {long[:2]}"
