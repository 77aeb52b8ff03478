"""Checkpoints that survive a crash: tensors and primitives only, written atomically.

A checkpoint is a plain dict (format version, step, config, the algorithm's nets and buffers,
its optimizers, RNG states, the batch stream's state, the loss history, library and torch
versions) that loads with `torch.load(..., weights_only=True)`: no pickled code runs on load.

Taught in: chapter 2, "A training engine you can trust".
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

from . import __version__

FORMAT_VERSION = 1


def save_atomic(state: dict, path: str | os.PathLike) -> None:
    """Write `state` to a temp file in the same folder, fsync it, then `os.replace` it into place.

    A process killed at any moment leaves either the old file or the new one, never half of one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        # mkstemp creates the file readable by its owner only; give it the permissions any new
        # file gets here (umask), so a shared or shipped checkpoint stays readable.
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(handle, 0o666 & ~umask)
        with os.fdopen(handle, "wb") as file:
            torch.save(state, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp_name, path)
    except BaseException:
        _remove_if_present(temp_name)
        raise


def _remove_if_present(name: str) -> None:
    try:
        os.remove(name)
    except FileNotFoundError:
        pass


def load(path: str | os.PathLike, map_location=None) -> dict:
    """Load a checkpoint written by `save_atomic` (weights only: no code is unpickled)."""
    state = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path} is not an aegan_lib checkpoint of format {FORMAT_VERSION}")
    return state


def versions() -> dict:
    # str(): torch.__version__ is a TorchVersion object, which weights_only=True refuses to load.
    return {"aegan_lib": __version__, "torch": str(torch.__version__)}


def rng_state() -> dict:
    """The global torch RNG streams that `step` draws noise from (CPU, and CUDA when present)."""
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict) -> None:
    """Restore `rng_state()`. RNG states are CPU byte tensors even for CUDA generators, so they
    are moved back to the CPU: `load(..., map_location="cuda")` moves every tensor to the GPU."""
    torch.set_rng_state(state["torch"].cpu())
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([cuda_state.cpu() for cuda_state in state["cuda"]])


def config_differences(saved: dict, current: dict, prefix: str = "") -> list[str]:
    """Dotted names of the keys whose values differ between two nested config dicts."""
    differing = []
    for key in sorted(set(saved) | set(current)):
        name = f"{prefix}{key}"
        old, new = saved.get(key, "<missing>"), current.get(key, "<missing>")
        if isinstance(old, dict) and isinstance(new, dict):
            differing += config_differences(old, new, prefix=name + ".")
        elif old != new:
            differing.append(f"{name} (checkpoint: {old!r}, now: {new!r})")
    return differing
