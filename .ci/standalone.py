"""Run each chapter the way a Colab reader does: the notebook alone, the library installed.

Colab opens one notebook from GitHub with no repository around it, so a chapter that reads a
file from the checkout, or imports the checkout's `aegan_lib`, works in CI and fails there.
This script copies each notebook alone into an empty folder, runs it top to bottom with nbclient
under the quick profile, and checks that `aegan_lib` came from the installed package (a wheel),
never from the checkout:

    python .ci/standalone.py --site _build/standalone/site chapters/*.ipynb  # a wheel installed with --target
    .venv-min/bin/python .ci/standalone.py chapters/01_autoencoders.ipynb    # a wheel installed in that venv

The same runner exercises the `full` profile's code path on a CPU (`make smoke`):

    python .ci/standalone.py --site _build/standalone/site --profile full --budget smoke \
        --skip-tag checks --keep _build/smoke chapters/*.ipynb

runs every chapter with AEGAN_BUDGET=smoke (step counts cut to a handful, MNIST replaced by the
offline 5,000-image subset: see `aegan_lib.budget_for`), so convnets, the 28×28 classifier, the
metrics and every figure run as notebooks. Cells tagged `checks` hold the chapter's claims,
which are about the book's budget and cannot hold after 20 steps: those are left out, and
everything else runs. `--keep` writes the executed notebooks for a person to look at.

It prints one line per chapter (result, seconds, warnings printed by the code) and exits
non-zero if any chapter fails. The committed outputs are not compared here (nbval does that
against the pinned environment); what counts is that every cell, and so every `assert` the
chapter makes about its results, runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

CHECKOUT = Path(__file__).resolve().parents[1]
WHERE_IS_THE_LIBRARY = "import aegan_lib, sys; print(aegan_lib.__file__); print(sys.version.split()[0])"


def run(path: Path, site: Path | None, timeout: int, profile: str = "quick", budget: str = "book",
        skip_tags: tuple[str, ...] = (), keep: Path | None = None) -> tuple[str, float, str]:
    """Run one notebook alone; return (result, seconds, detail)."""
    notebook = nbformat.read(path, as_version=4)
    skipped = [cell for cell in notebook.cells if set(cell.metadata.get("tags", [])) & set(skip_tags)]
    notebook.cells = [cell for cell in notebook.cells if cell not in skipped]
    notebook.cells.append(nbformat.v4.new_code_cell(WHERE_IS_THE_LIBRARY))
    with tempfile.TemporaryDirectory(prefix=f"standalone-{path.stem}-") as folder:
        shutil.copy(path, folder)  # the notebook alone, as Colab has it
        # One thread per kernel: on a 2-core machine, two OpenMP threads that compete with
        # anything else spin and wait; a 28×28 Jacobian took 25.9 s that way in a kernel and
        # 0.9 s with one thread.
        environment = {"AEGAN_PROFILE": profile, "AEGAN_BUDGET": budget, "OMP_NUM_THREADS": "1",
                       "PYDEVD_DISABLE_FILE_VALIDATION": "1",
                       "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
        if site is not None:
            environment["PYTHONPATH"] = str(site.resolve())  # the kernel runs in another folder
        saved = {key: os.environ.get(key) for key in environment}
        os.environ.update(environment)  # the kernel inherits this process's environment
        started = time.perf_counter()
        try:
            NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                           resources={"metadata": {"path": folder}}).execute()
        except CellExecutionError as error:
            first_line = next((line for line in str(error).splitlines() if "Error" in line), str(error))
            return "FAIL", time.perf_counter() - started, first_line.strip()[:200]
        finally:
            if keep is not None:  # also a failed run: its last outputs show where it stopped
                keep.mkdir(parents=True, exist_ok=True)
                nbformat.write(notebook, keep / path.name)
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        seconds = time.perf_counter() - started
    library, python = notebook.cells[-1].outputs[0]["text"].split()
    if Path(library).resolve().is_relative_to(CHECKOUT / "aegan_lib"):
        return "FAIL", seconds, f"aegan_lib was imported from the checkout ({library}), not the installed package"
    warnings = sum(1 for cell in notebook.cells if cell.cell_type == "code"
                   for output in cell.get("outputs", [])
                   if output.get("name") == "stderr" and "Warning" in output.get("text", ""))
    figures = sum(1 for cell in notebook.cells for output in cell.get("outputs", [])
                  if "image/png" in output.get("data", {}))
    left_out = f"{len(skipped)} cells tagged {'/'.join(skip_tags)} left out; " if skip_tags else ""
    return "ok", seconds, (f"{left_out}{figures} figures, {warnings} warnings; "
                           f"aegan_lib from {Path(library).parent.parent.name}/, Python {python}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--site", type=Path, help="a folder the wheel was installed into with pip --target")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--profile", default="quick", choices=["quick", "full"])
    parser.add_argument("--budget", default="book", choices=["book", "smoke"])
    parser.add_argument("--skip-tag", action="append", default=[], help="leave out cells with this tag")
    parser.add_argument("--keep", type=Path, help="write the executed notebooks into this folder")
    args = parser.parse_args()
    if args.site is not None and not (args.site / "aegan_lib").is_dir():
        parser.error(f"--site {args.site} holds no aegan_lib: install the wheel there with pip --target")
    import numpy, torch  # noqa: E401  (only to print the stack the chapters ran on)
    print(f"standalone chapters, profile {args.profile}, budget {args.budget}: torch {torch.__version__}, "
          f"numpy {numpy.__version__}, Python {sys.version.split()[0]}")
    results = {}
    for path in args.notebooks:
        result, seconds, detail = run(path, args.site, args.timeout, args.profile, args.budget,
                                      tuple(args.skip_tag), args.keep)
        results[path.name] = {"result": result, "seconds": round(seconds, 1), "detail": detail}
        print(f"  {path.name:<28} {result:<4} {seconds:6.1f} s  {detail}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    failed = [name for name, row in results.items() if row["result"] != "ok"]
    if failed:
        print(f"{len(failed)} of {len(results)} chapters failed standalone: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
