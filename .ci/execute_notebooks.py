"""Re-execute chapter notebooks in place under the quick profile.

Usage: python .ci/execute_notebooks.py chapters/01_autoencoders.ipynb [...]

Each notebook runs top to bottom in a fresh kernel with its own folder as the working
directory, so the committed outputs are exactly what a reader's clean run prints.
"""

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

os.environ.setdefault("AEGAN_PROFILE", "quick")


def execute(path: Path) -> float:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        # No widget state in the committed notebooks: the book shows a static figure
        # beside each widget, and the state would pull widget scripts from a CDN.
        store_widget_state=False,
    )
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    nbformat.write(notebook, path)
    return elapsed


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: execute_notebooks.py NOTEBOOK.ipynb [...]")
    for name in sys.argv[1:]:
        seconds = execute(Path(name))
        print(f"{name}: executed in {seconds:.1f} s (profile {os.environ['AEGAN_PROFILE']})")
