"""Checkpoints that survive a crash, a damaged disk and a second Ctrl-C.

A training checkpoint is a plain dict (format version, step, config with the data's and the
nets' fingerprints, the algorithm's nets and buffers, its optimizers, RNG states, the batch
stream's state, the loss history, library and torch versions) that loads with
`torch.load(..., weights_only=True)`: no pickled code runs on load.

On disk it is one line of header and that dict's bytes:

    aegan_lib checkpoint format 2 sha256 <64 hex digits> bytes <n>\\n<n bytes of torch.save>

`load` recomputes the checksum, so a flipped bit, a truncated copy, an empty file or a file
that is not a checkpoint each raise a `CheckpointError` that names the file and what is wrong,
and never resume. `save` writes atomically (temp file, fsync, rename) and first keeps the
current file as `<name>.previous.pt`, so a damaged latest checkpoint is not the end of a run.

Taught in: the appendix, "Runs you can trust: fit".
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import tempfile
from pathlib import Path

import torch

from . import __version__

__all__ = [
    "FORMAT_VERSION", "CheckpointError", "previous_path", "save_atomic", "save", "verify", "load",
    "versions", "rng_state", "set_rng_state", "config_differences"
]


FORMAT_VERSION = 2
_HEADER = re.compile(rb"aegan_lib checkpoint format (\d+) sha256 ([0-9a-f]{64}) bytes (\d+)\n")
_HEADER_MAX = 160  # bytes: the header line is about 110


class CheckpointError(ValueError):
    """A checkpoint file that must not be resumed; the message names the file and the fault."""


def previous_path(path: str | os.PathLike) -> Path:
    """Where `save` keeps the checkpoint it replaces: `run.pt` → `run.previous.pt`."""
    path = Path(path)
    return path.with_name(f"{path.stem}.previous{path.suffix}")


def _write_atomic(data: bytes, path: Path) -> None:
    """Write bytes to a temp file in the same folder, fsync it, then `os.replace` it into place.

    A process killed at any moment leaves either the old file or the new one, never half of one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        # mkstemp creates the file readable by its owner only; give it the permissions any new
        # file gets here (umask), so a shared or shipped checkpoint stays readable.
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(handle, 0o666 & ~umask)
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp_name, path)
    except BaseException:
        _remove_if_present(temp_name)
        raise


def _remove_if_present(name: str | Path) -> None:
    try:
        os.remove(name)
    except FileNotFoundError:
        pass


def _torch_bytes(state) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def save_atomic(state, path: str | os.PathLike) -> None:
    """`torch.save(state, path)`, atomically: for files other tools read with `torch.load`
    (the metrics' classifier, training traces). Training checkpoints use `save`."""
    _write_atomic(_torch_bytes(state), Path(path))


def save(state: dict, path: str | os.PathLike, keep_previous: bool = True) -> None:
    """Write a training checkpoint with its checksum, atomically, keeping the one it replaces.

    The file being replaced is first linked (or copied) to `previous_path(path)`, itself
    atomically; at every moment `path` holds a complete checkpoint.
    """
    path = Path(path)
    payload = _torch_bytes(state)
    digest = hashlib.sha256(payload).hexdigest()
    header = f"aegan_lib checkpoint format {FORMAT_VERSION} sha256 {digest} bytes {len(payload)}\n"
    if keep_previous and path.exists():
        previous = previous_path(path)
        temp = previous.with_name(previous.name + ".tmp")
        _remove_if_present(temp)
        try:
            os.link(path, temp)  # no copy of the bytes where the file system allows it
        except OSError:
            shutil.copyfile(path, temp)
        os.replace(temp, previous)
    _write_atomic(header.encode() + payload, path)


def verify(path: str | os.PathLike) -> bytes:
    """Check the header and the checksum; return the payload. Raises `CheckpointError`."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    data = path.read_bytes()
    if not data:
        raise CheckpointError(f"checkpoint {path} is empty (0 bytes): a write to it was cut off")
    match = _HEADER.match(data[:_HEADER_MAX])
    if match is None:
        if data.startswith(b"aegan_lib checkpoint"):
            raise CheckpointError(f"checkpoint {path} has a damaged header line")
        raise CheckpointError(f"{path} is not an aegan_lib checkpoint (it does not start with the "
                              "'aegan_lib checkpoint format' header; it may be another program's "
                              "file, or a checkpoint of aegan_lib before format 2)")
    version, digest, size = int(match[1]), match[2].decode(), int(match[3])
    if version != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {path} has format {version}; this aegan_lib reads format "
                              f"{FORMAT_VERSION}")
    payload = data[match.end():]
    if len(payload) != size:
        raise CheckpointError(f"checkpoint {path} is truncated or padded: its header promises {size} "
                              f"bytes of content and the file holds {len(payload)}")
    if hashlib.sha256(payload).hexdigest() != digest:
        raise CheckpointError(f"checkpoint {path} is damaged: its content does not match the sha256 "
                              "checksum written with it (a flipped bit or an overwritten block)")
    return payload


def _step_of(path: Path) -> int | None:
    try:
        return int(torch.load(io.BytesIO(verify(path)), weights_only=True)["step"])
    except (CheckpointError, KeyError, TypeError, RuntimeError):
        return None


def load(path: str | os.PathLike, map_location=None) -> dict:
    """Load a checkpoint written by `save` after verifying its checksum (weights only: no code
    is unpickled). When it is damaged and the previous one is intact, the error says so."""
    path = Path(path)
    try:
        payload = verify(path)
    except CheckpointError as error:
        previous = previous_path(path)
        step = _step_of(previous) if previous.exists() else None
        if step is not None:
            raise CheckpointError(f"{error}. The previous checkpoint, {previous} (step {step}), is "
                                  f"intact: move it to {path.name} to resume from step {step}.") from None
        raise
    try:
        state = torch.load(io.BytesIO(payload), map_location=map_location, weights_only=True)
    except Exception as error:  # a payload that checks out but is not a torch file
        raise CheckpointError(f"checkpoint {path} passed its checksum but does not load: {error}") from error
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {path} does not hold an aegan_lib training state")
    return state


def versions() -> dict:
    """The aegan_lib and torch versions a checkpoint was written with (kept for the record)."""
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
