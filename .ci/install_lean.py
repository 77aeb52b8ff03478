"""Install requirement files into a venv holding as little on disk at once as pip allows.

`make mincheck` installs the library's minimum versions, and PyPI's torch 2.2.0 for Linux is a
CUDA build: with its NVIDIA libraries about 2.8 GB of wheels that unpack to about 5 GB. One
`pip install` keeps every downloaded wheel (twice, with its cache) until the last one is
installed, and a CI run once ran out of disk there. So: resolve first (`--dry-run --report`,
which reads metadata, not wheels), then install the resolved distributions one download at a
time, exactly as resolved, without pip's cache.

Usage: python .ci/install_lean.py VENV_PYTHON -r requirements.txt [-r more.txt ...]
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path


def pip(python, *args):
    command = [python, "-m", "pip", "--quiet", *args]
    subprocess.run(command, check=True)


def main(argv):
    if len(argv) < 3 or "-r" not in argv[1:]:
        sys.exit("usage: install_lean.py VENV_PYTHON -r requirements.txt [-r ...]")
    python, requirements = argv[0], argv[1:]
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "plan.json"
        pip(
            python,
            "install",
            "--dry-run",
            "--ignore-installed",
            "--no-cache-dir",
            "--report",
            str(report),
            *requirements,
        )
        plan = json.loads(report.read_text())["install"]
    # Files already on this machine (a local index) cost no download: one call for all of them.
    urls = [item["download_info"]["url"] for item in plan]
    local = [url for url in urls if url.startswith("file:")]
    remote = [url for url in urls if not url.startswith("file:")]
    print(f"install_lean: {len(plan)} distributions, {len(remote)} downloaded one at a time")
    lean = ["install", "--no-deps", "--no-cache-dir"]
    if local:
        pip(python, *lean, *local)
    for url in remote:
        pip(python, *lean, url)
    # The resolver's view and the venv must agree: `pip check` fails on a missing dependency.
    pip(python, "check")


if __name__ == "__main__":
    main(sys.argv[1:])
