"""Open every page of the built book in headless Chromium and fail on what a reader would see.

`make browser` (part of `make test`) runs this after the book build. Each page of
`_build/html` is served from localhost, opened at a laptop's width with every request to
another host refused (the book must read offline), and checked for:

- raw TeX: `$$`, a stray `$`, or TeX commands left in the rendered text, and MathJax errors;
- console errors and uncaught page errors (except the known harmless ones in ALLOWED_CONSOLE);
- requests that leave the machine (a CDN on the page's critical path);
- images that fail to load, figures drawn at less than 85% of their intended size, and
  figures without a caption or without real alt text (a file name is not alt text);
- code, output, table and display-equation boxes wider than the text column (they scroll
  sideways and hide what is on the right);
- empty widget areas (a widget view with nothing drawn).

A full-page screenshot of every page goes to `_build/browser/<page>.png`, and the findings to
`_build/browser/report.txt` (also printed). The exit status is the number of pages with
findings, so `make` stops on the first bad build.

    .venv/bin/python .ci/browser_check.py                # every page of _build/html
    .venv/bin/python .ci/browser_check.py --pages chapters/04_latent_gan.html
"""
from __future__ import annotations

import argparse
import functools
import http.server
import json
import re
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlparse

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
# Flags that keep Chromium from calling home on a machine without a network (each refused
# connection would otherwise show as an error) and let it run as root in a container.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}   # a laptop; the theme shows its sidebar and text column

# Console messages known to be harmless, each with the reason.
ALLOWED_CONSOLE = {
    # sphinx-thebe's configuration script is emitted twice by Jupyter Book 1.x; the second
    # `const` declaration fails, the first already did the work (and the book has no live code).
    "THEBE_JS_URL": re.compile(r"THEBE_JS_URL.*already been declared"),
}

# Runs in the page: every measurement the checks need, as plain data.
MEASURE = r"""
() => {
  const article = document.querySelector("article.bd-article") || document.querySelector("main")
                  || document.body;   // a redirect page has neither
  const column = article.getBoundingClientRect();
  const style = getComputedStyle(article);
  const left = column.left + parseFloat(style.paddingLeft);
  const right = column.right - parseFloat(style.paddingRight);
  const describe = (el) => {
    const cell = el.closest(".cell");
    const heading = [...document.querySelectorAll("h1, h2, h3")]
      .filter(h => h.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING).pop();
    const text = (el.innerText || el.getAttribute("alt") || "").trim().split("\n")[0].slice(0, 60);
    return `${heading ? heading.innerText.replace(/[¶#]/g, "").trim() : "(top)"} › ${text}`;
  };
  const wide = [];
  const boxes = [
    ["code", "div.cell_input pre, div.highlight:not(.cell_output div.highlight) pre"],
    ["output", "div.cell_output pre, div.output pre"],
    ["table", "table"],
    ["equation", "mjx-container[display='true']"],
  ];
  for (const [kind, selector] of boxes) {
    for (const el of article.querySelectorAll(selector)) {
      if (el.closest("details:not([open])")) continue;          // folded: not drawn
      const box = el.getBoundingClientRect();
      if (box.width === 0 && box.height === 0) continue;         // hidden (collapsed cell)
      const overflow = Math.max(el.scrollWidth - el.clientWidth, box.right - right);
      if (overflow > 2) wide.push({kind, px: Math.round(overflow), where: describe(el)});
    }
  }
  const images = [...article.querySelectorAll("img")].map(img => {
    const box = img.getBoundingClientRect();
    // A 2× PNG is meant at half its natural width, which the page gives as a width attribute
    // (IPython) or style (myst-nb); an image with neither is meant at its natural size.
    const intended = parseFloat(img.getAttribute("width")) || parseFloat(img.style.width) || img.naturalWidth;
    const figure = img.closest("figure");
    const caption = figure ? figure.querySelector("figcaption") : null;
    return {src: img.getAttribute("src"), loaded: img.complete && img.naturalWidth > 0,
            shown: box.width, intended, alt: img.getAttribute("alt") || "",
            caption: caption ? caption.innerText.trim() : "", where: describe(img)};
  });
  // The reader's text: no code, no typeset math, no hidden parts.
  const clone = article.cloneNode(true);
  clone.querySelectorAll("pre, code, mjx-container, script, style, .MathJax, details:not([open])")
       .forEach(el => el.remove());
  const widgets = [...article.querySelectorAll(
      "script[type='application/vnd.jupyter.widget-view+json']")].map(s => {
    const area = s.parentElement;
    return {height: area.getBoundingClientRect().height, where: describe(area)};
  });
  return {
    text: clone.innerText,
    wide,
    images,
    widgets,
    mathErrors: [...article.querySelectorAll("mjx-merror, .MathJax_Error")].map(describe),
    mathCount: article.querySelectorAll("mjx-container").length,
    columnWidth: Math.round(right - left),
  };
}
"""

TEX_LEFT_IN_TEXT = re.compile(r"\$\$|(?<![\w$])\$(?=\S)[^$\n]{1,80}\$|\\(?:frac|mathbb|mathcal|begin|end|sum|log|lambda|mathrm|left|right)\b")


def pages_of(html: Path) -> list[str]:
    """Every page a reader can open, less Sphinx's search and index pages and redirects."""
    skip = {"search.html", "genindex.html", "py-modindex.html"}
    return sorted(str(p.relative_to(html)) for p in html.rglob("*.html")
                  if p.name not in skip and not {"_static", "_sources", "reports", "_modules"} & set(p.parts)
                  and 'http-equiv="Refresh"' not in p.read_text(errors="replace")[:500])


def serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:   # one line per file would bury the report
        pass


def check_page(context, base: str, page: str, shots: Path) -> tuple[list[str], dict]:
    findings: list[str] = []
    tab = context.new_page()
    console: list[str] = []
    tab.on("console", lambda msg: console.append(msg.text) if msg.type == "error" else None)
    tab.on("pageerror", lambda error: console.append(f"uncaught: {error}"))
    external: list[str] = []

    def refuse_other_hosts(route):
        host = urlparse(route.request.url).hostname
        if host in ("127.0.0.1", "localhost", None):
            route.continue_()
        else:
            external.append(route.request.url)
            route.abort()

    tab.route("**/*", refuse_other_hosts)
    tab.goto(base + page, wait_until="load")
    # MathJax typesets after load: evaluate awaits its startup promise where the page has one.
    tab.evaluate("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
    tab.wait_for_timeout(300)
    seen = tab.evaluate(MEASURE)
    shots.joinpath(page).with_suffix(".png").parent.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(shots.joinpath(page).with_suffix(".png")), full_page=True)
    tab.close()

    for url in sorted(set(external)):
        findings.append(f"request to another host (the page must work offline): {url}")
    for message in console:
        if not any(rule.search(message) for rule in ALLOWED_CONSOLE.values()) \
                and not any(url in message for url in external):
            findings.append(f"console error: {message[:200]}")
    for match in TEX_LEFT_IN_TEXT.finditer(seen["text"]):
        context_text = seen["text"][max(0, match.start() - 40): match.end() + 40].replace("\n", " ")
        findings.append(f"raw TeX in the text: …{context_text}…")
    for where in seen["mathErrors"]:
        findings.append(f"MathJax error: {where}")
    for box in seen["wide"]:
        findings.append(f"{box['kind']} wider than the {seen['columnWidth']} px column by {box['px']} px: {box['where']}")
    for image in seen["images"]:
        if not image["loaded"]:
            findings.append(f"image did not load: {image['src']}")
        elif image["intended"] and image["shown"] < 0.85 * image["intended"]:
            findings.append(f"figure shrunk to {image['shown'] / image['intended']:.0%} of its size "
                            f"({image['intended']:.0f} → {image['shown']:.0f} px): {image['where']}")
        if len(image["alt"].split()) < 4 or re.search(r"\.(png|svg|jpe?g)$|_images/", image["alt"]):
            findings.append(f"figure without real alt text (alt={image['alt'][:40]!r}): {image['where']}")
        if not image["caption"]:
            findings.append(f"figure without a caption: {image['where']}")
    for widget in seen["widgets"]:
        if widget["height"] < 20:
            findings.append(f"empty widget area: {widget['where']}")
    summary = {"page": page, "math": seen["mathCount"], "images": len(seen["images"]),
               "column": seen["columnWidth"], "findings": len(findings)}
    return findings, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--html", default="_build/html")
    parser.add_argument("--out", default="_build/browser")
    parser.add_argument("--pages", nargs="*", help="pages relative to --html (default: all)")
    args = parser.parse_args()
    html, out = Path(args.html), Path(args.out)
    if not html.joinpath("index.html").exists():
        sys.exit(f"No built book at {html}: run `make book` first.")
    if not Path(CHROMIUM).exists():
        sys.exit(f"No Chromium at {CHROMIUM}: `apt-get install chromium` (the Makefile does this).")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    server, base = serve(html)
    report: list[str] = []
    summaries = []
    bad_pages = 0
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        browser = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
            viewport=VIEWPORT, device_scale_factor=1)
        for page in args.pages or pages_of(html):
            findings, summary = check_page(browser, base, page, out)
            summaries.append(summary)
            bad_pages += bool(findings)
            status = "ok" if not findings else f"{len(findings)} finding(s)"
            report.append(f"{page}: {status} ({summary['math']} equations, {summary['images']} images, "
                          f"column {summary['column']} px)")
            report.extend(f"  - {finding}" for finding in findings)
        browser.close()
    server.shutdown()
    report.append(f"{len(summaries) - bad_pages} of {len(summaries)} pages clean; "
                  f"screenshots in {out}/ (open them in any image viewer)")
    text = "\n".join(report)
    print(text)
    out.joinpath("report.txt").write_text(text + "\n")
    out.joinpath("report.json").write_text(json.dumps(summaries, indent=1) + "\n")
    return min(bad_pages, 100)


if __name__ == "__main__":
    sys.exit(main())
