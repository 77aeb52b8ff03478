"""The browser check (.ci/browser_check.py) finds each fault it claims to, on a page made to have it.

Needs Debian's Chromium (`make chromium` installs it; `make test` does so first).
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / ".ci"))
browser_check = pytest.importorskip("browser_check")

pytestmark = pytest.mark.skipif(not Path(browser_check.CHROMIUM).exists(),
                                reason="no Chromium here: `make chromium` installs it")

# One tiny PNG (1×1, white) to show as a figure that loads.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c"
                    "4944415408d763f8ffff3f0005fe02fea7d6a4a00000000049454e44ae426082")

BAD = """<!doctype html><html><head><meta charset="utf-8">
<script src="https://cdn.example.org/lib.js"></script></head>
<body><main><article class="bd-article" style="width: 600px">
<h2>Maths</h2><p>The loss is $$\\frac{1}{2}$$ here.</p>
<h2>Code</h2><div class="cell_input"><pre>{long}</pre></div>
<h2>Table</h2><table><tr>{cells}</tr></table>
<h2>Figures</h2><img src="missing.png" alt="a plot of the loss over the steps">
<figure><img src="dot.png" alt="dot.png" width="1"></figure>
<script>console.error("boom")</script>
</article></main></body></html>"""

GOOD = """<!doctype html><html><head><meta charset="utf-8"></head>
<body><main><article class="bd-article" style="width: 600px">
<h2>Figures</h2><p>Plain text with a price of 5 dollars.</p>
<figure><img src="dot.png" alt="a white dot on a white background" width="1">
<figcaption>One white pixel.</figcaption></figure>
</article></main></body></html>"""


@pytest.fixture(scope="module")
def findings(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    site = tmp_path_factory.mktemp("site")
    site.joinpath("dot.png").write_bytes(PNG)
    site.joinpath("bad.html").write_text(
        BAD.replace("{long}", "x" * 300).replace("{cells}", "<td>column</td>" * 60))
    site.joinpath("good.html").write_text(GOOD)
    server, base = browser_check.serve(site)
    shots = tmp_path_factory.mktemp("shots")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=browser_check.CHROMIUM,
                                                 args=browser_check.CHROMIUM_ARGS)
            context = browser.new_context(viewport=browser_check.VIEWPORT)
            found = {page: browser_check.check_page(context, base, page, shots)[0]
                     for page in ("bad.html", "good.html")}
            browser.close()
    finally:
        server.shutdown()
    assert shots.joinpath("bad.png").exists(), "a screenshot of every page"
    return found


@pytest.mark.parametrize("fault", [
    "request to another host", "console error: boom", "raw TeX in the text",
    "code wider than", "table wider than", "image did not load: missing.png",
    "without real alt text (alt='dot.png')", "figure without a caption",
])
def test_the_check_finds(findings, fault):
    assert any(fault in finding for finding in findings["bad.html"]), findings["bad.html"]


def test_a_clean_page_has_no_findings(findings):
    assert findings["good.html"] == []
