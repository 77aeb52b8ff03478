"""`fit`: the one training engine every algorithm uses — step-based, resumable, guarded.

Taught in: chapter 1, "Training" (first use) and chapter 2, "A training engine you can trust".
"""

from __future__ import annotations

import json
import math
import os
import signal
import threading
from pathlib import Path

import torch
from torch import Tensor
from tqdm.auto import tqdm

from . import checkpoint as ckpt
from . import data as datasets
from .algos.base import LR_SCHEDULES, Algorithm


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or Inf; the message names the step and the loss."""


def _plain(value):
    """Tuples → lists and so on, so a config compares equal to its saved-and-loaded self."""
    return json.loads(json.dumps(value))


class _History:
    """Loss history: per-step detached tensors pile up on the device and are read in one go."""

    def __init__(self, values: dict[str, list[float]] | None = None):
        self.values: dict[str, list[float]] = values if values is not None else {"step": []}
        self.pending: list[dict[str, Tensor]] = []
        self.first_pending_step = 0

    def add(self, step: int, losses: dict[str, Tensor]) -> None:
        if not self.pending:
            self.first_pending_step = step
        self.pending.append(losses)

    def flush(self) -> dict[str, float]:
        """Average the pending steps into one history row; raise on the first NaN/Inf."""
        if not self.pending:
            return {}
        names = list(self.pending[0])
        # One stack and one .tolist(): the only host sync in the loop, once per log interval.
        table = torch.stack([torch.stack([row[name].float() for name in names]) for row in self.pending])
        rows = table.tolist()
        for offset, row in enumerate(rows):
            for name, value in zip(names, row):
                if not math.isfinite(value):
                    self.pending = []
                    raise NonFiniteLossError(
                        f"loss {name!r} became {value} at step {self.first_pending_step + offset + 1}; "
                        "training stopped (the last checkpoint, if any, is untouched). Lower the "
                        "learning rate or check the data for outliers.")
        means = {name: sum(row[i] for row in rows) / len(rows) for i, name in enumerate(names)}
        self.values["step"].append(self.first_pending_step + len(rows))
        for name, mean in means.items():
            self.values.setdefault(name, []).append(mean)
        self.pending = []
        return means


def learning_rate_factor(schedule: str, step: int, total: int) -> float:
    """The multiplier of the base learning rate for the step that starts after `step` steps.

    constant: 1;  linear: 1 − t/T;  cosine: ½(1 + cos(π t/T)), with t = step and T = total.
    Both decays reach 0 at the end of the run; the factor depends on (t, T) only, so a run
    resumed from a checkpoint continues the same schedule bit for bit.

    Taught in: chapter 2, "Making it sharp" (learning rate decayed to zero).
    """
    if schedule not in LR_SCHEDULES:
        raise ValueError(f"expected a learning-rate schedule in {LR_SCHEDULES}; got {schedule!r}")
    if schedule == "constant":
        return 1.0
    progress = step / total
    if schedule == "linear":
        return 1.0 - progress
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def _set_learning_rates(algo: Algorithm, factor: float) -> None:
    """lr = base lr × factor in every optimizer's groups (a float per group: no device work)."""
    for optimizer in algo.optimizers.values():
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"] * factor


class _DeferredInterrupt:
    """Let a Ctrl-C (or Jupyter's / Colab's stop button) land between two steps, not inside one.

    A KeyboardInterrupt raised in the middle of `algo.step` could leave D updated and G not; a
    checkpoint of that state would not resume bit-exactly. While active, the first SIGINT is
    only recorded and `fit` raises KeyboardInterrupt after the step finishes; a second SIGINT
    interrupts at once (for a step that hangs). Signals can only be caught in the main thread:
    elsewhere this does nothing and an interrupt arrives wherever it arrives.
    """

    def __init__(self):
        self.requested = False
        self._installed = False
        self._previous = None

    def _handler(self, signum, frame):
        if self.requested:  # the second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            try:
                self._previous = signal.signal(signal.SIGINT, self._handler)
                self._installed = True
            except ValueError:  # e.g. an embedding interpreter that does not allow it
                pass
        return self

    def __exit__(self, *exc_info):
        if self._installed:
            # None means the previous handler was set outside Python: Python's default is the
            # closest we can restore.
            signal.signal(signal.SIGINT, self._previous if self._previous is not None else signal.default_int_handler)
        return False


def fit(algo: Algorithm, data, steps: int, batch_size: int | None = None, seed: int = 0,
        checkpoint: str | os.PathLike | None = None, checkpoint_every: int = 500,
        log_every: int = 50, progress: bool = True, callback=None,
        callback_every: int = 1000) -> dict[str, list[float]]:
    """Train `algo` for `steps` steps in total and return its loss history.

    Args:
        algo: any `aegan_lib.algos` object (its nets already on the device you want).
        data: a dataset from `aegan_lib.data` (its training split is used) or a float tensor
            shaped (N, ...). It is moved to the algorithm's device once.
        steps: total number of steps. With a checkpoint that already holds k steps, training
            continues from k to `steps` (re-running a notebook cell resumes the run).
        batch_size: samples per step (the last partial batch of an epoch is dropped); by
            default the algorithm's own (`algo.batch_size`: 64, or the recipe `make` chose).
        seed: seeds the noise stream and the batch order; same nets + same seed → same losses.
        checkpoint: a file path; saved atomically every `checkpoint_every` steps, at the end,
            and on KeyboardInterrupt (a Ctrl-C or the notebook's stop button lets the running
            step finish first, so the checkpoint resumes bit-exactly). An existing file with a
            different config raises an error naming the differing keys.
        log_every: steps per history row; losses are averaged over the row and shown in the
            progress bar. Losses reach the host only then (no per-step sync).

        callback: called as `callback(algo, step)` every `callback_every` steps and after
            the last one, e.g. to measure samples along the way (learning curves;
            `metrics.TrainingTrace` is one). It runs outside the step, so it may sync with
            the device; it should draw any noise from a torch.Generator of its own, so that
            training's random streams (and a resumed run) stay the same.

    The algorithm's `lr_schedule` ("linear", "cosine") scales its learning rates over these
    `steps`: the schedule is part of the run, so resume with the same `steps`.

    Returns:
        {"step": [...], "<loss name>": [...], ...}, one entry per logged row.

    Taught in: chapter 1, "Training"; chapter 2, "A training engine you can trust".
    """
    if not isinstance(algo, Algorithm):
        raise TypeError(f"expected an aegan_lib.algos algorithm; got {type(algo).__name__}")
    if batch_size is None:
        batch_size = algo.batch_size
    for name, value in (("steps", steps), ("log_every", log_every), ("checkpoint_every", checkpoint_every),
                        ("callback_every", callback_every)):
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"expected a positive int {name}; got {value!r}")

    device = algo.device
    source = datasets.training_tensor(data)
    source = source.to(device)
    if isinstance(source, Tensor):
        # One-time checks (each costs a host sync, so never inside the loop).
        datasets.check_finite(source, "the training data")
        if algo.data_range is not None:
            datasets.check_range(source, *algo.data_range, what="the training data")
    config = _plain({"algorithm": type(algo).__name__, **algo.config, "batch_size": batch_size,
                     "seed": seed, "data": datasets.describe(data)})
    if algo.lr_schedule != "constant":
        config["steps"] = steps  # a decaying schedule spans the whole run
    for optimizer in algo.optimizers.values():
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])  # the base rate the schedule scales
    stream = datasets.BatchStream(source, batch_size, seed=seed)

    history = _History()
    start = 0
    path = Path(checkpoint) if checkpoint is not None else None
    if path is not None and path.exists():
        state = ckpt.load(path, map_location=device)
        differences = ckpt.config_differences(state["config"], config)
        if differences:
            raise ValueError(f"checkpoint {path} was made with another configuration; differing keys: "
                             + "; ".join(differences) + ". Use a new checkpoint path or the old settings.")
        algo.load_state_dict(state["algorithm"])
        for name, optimizer in algo.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])
        ckpt.set_rng_state(state["rng"])
        stream.load_state_dict(state["data_stream"])
        history = _History(state["history"])
        start = int(state["step"])
    else:
        torch.manual_seed(seed)

    def save(step: int) -> None:
        if path is None:
            return
        ckpt.save_atomic({
            "format": ckpt.FORMAT_VERSION, "step": step, "config": config,
            "algorithm": algo.state_dict(),
            "optimizers": {name: opt.state_dict() for name, opt in algo.optimizers.items()},
            "rng": ckpt.rng_state(), "data_stream": stream.state_dict(),
            "history": history.values, "versions": ckpt.versions(),
        }, path)

    algo.train()
    bar = tqdm(total=steps, initial=start, desc=type(algo).__name__, disable=not progress,
               dynamic_ncols=True, leave=True)
    step = start
    interrupt = _DeferredInterrupt()
    try:
        with interrupt:
            while step < steps:
                if algo.lr_schedule != "constant":
                    _set_learning_rates(algo, learning_rate_factor(algo.lr_schedule, step, steps))
                history.add(step, algo.step(stream.next()))
                step += 1
                bar.update(1)
                if step % log_every == 0 or step == steps:
                    means = history.flush()
                    bar.set_postfix({name: f"{value:.3g}" for name, value in means.items()}, refresh=False)
                if step % checkpoint_every == 0 and step < steps:
                    history.flush()  # a checkpoint only ever holds steps that were checked finite
                    save(step)
                if callback is not None and (step % callback_every == 0 or step == steps):
                    callback(algo, step)
                if interrupt.requested:
                    raise KeyboardInterrupt
    except KeyboardInterrupt:
        history.flush()
        save(step)
        raise
    finally:
        bar.close()
    if start < steps:
        save(step)
    return {name: list(values) for name, values in history.values.items()}
