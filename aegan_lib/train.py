"""`fit`: the one training engine every algorithm uses — step-based, resumable, guarded.

Taught in: chapter 1, "Training" (first use) and the appendix, "Runs you can trust: fit".
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
from . import nets
from .algos.base import LR_SCHEDULES, Algorithm


__all__ = ["NonFiniteLossError", "learning_rate_factor", "run_config", "fit"]


class NonFiniteLossError(FloatingPointError):
    """A loss (or, before a checkpoint, a parameter) became NaN or Inf.

    The message names the step, the loss and its value, the checkpoint kept and how to resume
    from it with other hyperparameters. `step`, `name` and `value` hold the same facts.
    """

    def __init__(self, message: str, step: int, name: str, value: float):
        super().__init__(message)
        self.step, self.name, self.value = step, name, value


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
                    step = self.first_pending_step + offset + 1
                    raise NonFiniteLossError(f"loss {name!r} became {value} at step {step}", step, name, value)
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

    Taught in: chapter 3, "Making it sharp" (learning rate decayed to zero).
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


def run_config(algo: Algorithm, data, batch_size: int, seed: int, steps: int,
               data_seed: int | None = None) -> dict:
    """What a run is, as a plain dict: the algorithm and its hyperparameters, the batch size,
    the seed of the noise stream and the seed of the data stream (`data_seed`; by default
    `data.stream_seed(seed)`), the data's fingerprint and each net's architecture
    (`nets.fingerprint`).

    `fit` stores it in every checkpoint and compares it on resume: a difference is an error
    that names the key, unless the key is one of `fit`'s `allow_changes`.
    """
    config = _plain({"algorithm": type(algo).__name__, **algo.config, "batch_size": batch_size,
                     "seed": seed, "data_seed": datasets.stream_seed(seed) if data_seed is None else data_seed,
                     "data": datasets.describe(data),
                     "nets": {name: nets.fingerprint(child) for name, child in algo.named_children()}})
    if algo.lr_schedule != "constant":
        config["steps"] = steps  # a decaying schedule spans the whole run
    return config


def _check_allowed_changes(allow_changes, algo: Algorithm) -> set[str]:
    allowed = set(allow_changes)
    unknown = allowed - set(algo.config)
    if unknown:
        raise ValueError(f"allow_changes names {sorted(unknown)}, which are not hyperparameters of "
                         f"{type(algo).__name__}; expected some of {sorted(algo.config)}")
    return allowed


def _parameters_are_finite(algo: Algorithm) -> bool:
    """One host sync: every parameter and buffer of every net is finite."""
    tensors = [t for t in (*algo.parameters(), *algo.buffers()) if torch.is_floating_point(t)]
    return bool(torch.stack([t.isfinite().all() for t in tensors]).all()) if tensors else True


def _optimizer_hyperparameters(optimizer: torch.optim.Optimizer) -> list[dict]:
    return [{key: group[key] for key in ("lr", "initial_lr", "betas") if key in group}
            for group in optimizer.param_groups]


def fit(algo: Algorithm, data, steps: int, batch_size: int | None = None, seed: int = 0,
        checkpoint: str | os.PathLike | None = None, checkpoint_every: int = 500,
        log_every: int = 50, progress: bool = True, callback=None,
        callback_every: int = 1000, allow_changes=(), data_seed: int | None = None) -> dict[str, list[float]]:
    """Train `algo` until it has taken `steps` steps in total and return its loss history.

    Args:
        algo: any `aegan_lib.algos` object (its nets already on the device you want).
        data: a dataset from `aegan_lib.data` (its training split is used) or a float tensor
            shaped (N, ...). It is moved to the algorithm's device once.
        steps: the total number of steps, never "more steps": a run continues from where it
            is to `steps`, from a checkpoint file if there is one, else from the object's own
            progress. `fit(algo, data, 1000)` then `fit(algo, data, 2000)` equals one
            `fit(algo, data, 2000)` bit for bit on the CPU (same batches, same noise, one
            history). Asking again for the steps already taken says so and returns.
        batch_size: samples per step (the last partial batch of an epoch is dropped); by
            default the algorithm's own (`algo.batch_size`: 64, or the recipe `make` chose).
        seed: seeds the run: same nets + same seed → same losses. It seeds the noise stream
            (torch's global generator, which the algorithms draw z from) directly, and the data
            stream (the batch order; a mixture's fresh samples) through `data.stream_seed(seed)`,
            a hash of it, so the two streams are independent: a 2D mixture's jitter never
            reappears as the generator's noise.
        data_seed: seed the data stream with this number instead (what runs before that rule
            did: seed for both). Resuming, the run keeps the data seed it was started with.
        checkpoint: a file path; saved atomically, with a checksum, every `checkpoint_every`
            steps, at the end, and on KeyboardInterrupt (a Ctrl-C or the notebook's stop
            button lets the running step finish first). The file it replaces is kept as
            `<name>.previous.pt`. A half-finished step is never saved. An existing file made
            with another configuration (hyperparameters, data, architecture) raises an error
            naming the differing keys.
        log_every: steps per history row; losses are averaged over the row and shown in the
            progress bar. Losses reach the host only then (no per-step sync).
        callback: called as `callback(algo, step)` every `callback_every` steps and after
            the last one, e.g. to measure samples along the way (learning curves;
            `metrics.TrainingTrace` is one). It runs outside the step, so it may sync with
            the device; it should draw any noise from a torch.Generator of its own, so that
            training's random streams (and a resumed run) stay the same.
        allow_changes: hyperparameter names (keys of `algo.config`, e.g. ["lr_d", "lr_g"])
            that may differ from the checkpoint's: resume a diverged run from its last good
            checkpoint with a lower learning rate by building the algorithm with it and
            passing the names here. The optimizers keep their state (Adam's moments) and take
            the new values; the change is recorded in the checkpoint's "changes".

    When a loss becomes NaN or Inf, `fit` raises `NonFiniteLossError` naming the step, the
    loss, and the checkpoint it kept: one whose weights gave finite losses (parameters are
    checked before every save, and a checkpoint whose next step diverged is replaced by the
    previous one).

    The algorithm's `lr_schedule` ("linear", "cosine") scales its learning rates over these
    `steps`: the schedule is part of the run, so continue it with the same `steps`.

    Returns:
        {"step": [...], "<loss name>": [...], ...}, one entry per logged row.

    Taught in: chapter 1, "Training"; the appendix, "Runs you can trust: fit".
    """
    if not isinstance(algo, Algorithm):
        raise TypeError(f"expected an aegan_lib.algos algorithm; got {type(algo).__name__}")
    if batch_size is None:
        batch_size = algo.batch_size
    for name, value in (("steps", steps), ("log_every", log_every), ("checkpoint_every", checkpoint_every),
                        ("callback_every", callback_every)):
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"expected a positive int {name}; got {value!r}")
    allowed = _check_allowed_changes(allow_changes, algo)

    device = algo.device
    data = datasets.as_training_data(data)
    source = datasets.training_tensor(data).to(device)
    if isinstance(source, Tensor):
        # One-time checks (each costs a host sync, so never inside the loop).
        datasets.check_finite(source, "the training data")
        if algo.data_range is not None:
            datasets.check_range(source, *algo.data_range, what="the training data")
    for optimizer in algo.optimizers.values():
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])  # the base rate the schedule scales

    path = Path(checkpoint) if checkpoint is not None else None
    state = ckpt.load(path, map_location=device) if path is not None and path.exists() else None  # checksum first
    previous = state if state is not None else getattr(algo, "_fit_progress", None)
    if data_seed is None and previous is not None:
        # A resumed run keeps its own data seed; runs saved before data seeds were recorded
        # seeded the data stream with `seed` itself.
        data_seed = previous["config"].get("data_seed", previous["config"].get("seed", seed))
    config = run_config(algo, data, batch_size, seed, steps, data_seed)
    stream = datasets.BatchStream(source, batch_size, seed=config["data_seed"])

    history = _History()
    changes: list[dict] = []
    start = 0
    if state is not None:
        if "data_seed" not in state["config"]:  # saved before it was recorded: seed fed both streams
            state["config"]["data_seed"] = state["config"].get("seed", seed)
        _check_config(state["config"], config, allowed, f"checkpoint {path}")
        fresh = {name: _optimizer_hyperparameters(opt) for name, opt in algo.optimizers.items()}
        algo.load_state_dict(state["algorithm"])
        for name, optimizer in algo.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])
            if allowed:  # the new hyperparameters win over the saved ones; Adam's moments stay
                for group, values in zip(optimizer.param_groups, fresh[name]):
                    group.update(values)
        resumed = state
        changes = list(state.get("changes", []))
    elif previous is not None:
        resumed = previous  # this object's own progress: its weights and optimizers are in place
        _check_config(resumed["config"], config, allowed, "this object's previous fit",
                      advice="To start a new run instead, build a new algorithm object.")
        changes = list(resumed.get("changes", []))
    else:
        resumed = None
        torch.manual_seed(seed)
    if resumed is not None:
        ckpt.set_rng_state(resumed["rng"])
        stream.load_state_dict(resumed["data_stream"])
        history = _History(_plain(resumed["history"]))
        start = int(resumed["step"])
        differing = ckpt.config_differences(resumed["config"], config)
        if differing:
            changes.append({"step": start, "changed": differing})
    if start > steps:
        raise ValueError(f"{type(algo).__name__} has already taken {start} steps, more than steps={steps}; "
                         "steps is the total to reach, not a number of steps to add")

    def progress_state(step: int) -> dict:
        return {"step": step, "config": config, "rng": ckpt.rng_state(),
                "data_stream": stream.state_dict(), "history": history.values, "changes": changes}

    def save(step: int) -> None:
        if path is None:
            return
        if not _parameters_are_finite(algo):
            raise NonFiniteLossError(
                f"the parameters of {type(algo).__name__} became NaN or Inf by step {step}; that state "
                f"was not saved, so {path} still holds the last good checkpoint",
                step, "parameters", math.nan)
        ckpt.save({"format": ckpt.FORMAT_VERSION, **progress_state(step),
                   "algorithm": algo.state_dict(),
                   "optimizers": {name: opt.state_dict() for name, opt in algo.optimizers.items()},
                   "versions": ckpt.versions()}, path)

    if start == steps:
        if progress:
            print(f"{type(algo).__name__} has already taken {steps} steps: nothing to train "
                  "(steps is the total; ask for more to continue)")
        return {name: list(values) for name, values in history.values.items()}

    algo.train()
    bar = tqdm(total=steps, initial=start, desc=type(algo).__name__, disable=not progress,
               dynamic_ncols=True, leave=True)
    step = start
    in_step = False  # True from the first random draw of a step to its count: never saved
    interrupt = _DeferredInterrupt()
    try:
        with interrupt:
            while step < steps:
                in_step = True
                if algo.lr_schedule != "constant":
                    _set_learning_rates(algo, learning_rate_factor(algo.lr_schedule, step, steps))
                history.add(step, algo.step(stream.next()))
                step += 1
                in_step = False
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
            save(step)
    except KeyboardInterrupt:
        if not in_step:  # a step cut in half (a second Ctrl-C) must not overwrite a good checkpoint
            history.flush()
            save(step)
        raise
    except NonFiniteLossError as error:
        raise _diverged(error, path, algo) from None
    finally:
        bar.close()
    algo._fit_progress = progress_state(step)
    return {name: list(values) for name, values in history.values.items()}


def _check_config(saved: dict, current: dict, allowed: set[str], where: str,
                  advice: str = "Use a new checkpoint path or the old settings") -> None:
    differences = [d for d in ckpt.config_differences(saved, current) if d.split(" ")[0] not in allowed]
    if differences:
        why = ""
        if any(d.startswith("steps ") for d in differences):
            why = (f" A run whose learning rate decays (lr_schedule={saved.get('lr_schedule')!r}) "
                   f"ends at the total it was started with ({saved.get('steps')} steps); to train "
                   "longer, start a new run with the larger total.")
        raise ValueError(f"{where} was made with another configuration; differing keys: "
                         + "; ".join(differences) + f".{why} {advice} (or, for hyperparameters "
                         "only, fit(..., allow_changes=[names])).")


def _diverged(error: NonFiniteLossError, path: Path | None, algo: Algorithm) -> NonFiniteLossError:
    """The full divergence message, after making sure the kept checkpoint is a good one.

    Losses at step t are computed with the weights after step t − 1, so a checkpoint saved at
    step t − 1 is the one that produced the first bad loss: it is replaced by the previous one.
    """
    kept = "no checkpoint was being written (pass checkpoint=... to keep one)"
    if path is not None and not path.exists():
        kept = f"no checkpoint had been saved to {path} yet"
    elif path is not None:
        kept_step = ckpt.load(path)["step"]
        if kept_step >= error.step - 1:
            previous = ckpt.previous_path(path)
            if previous.exists():
                os.replace(previous, path)
                kept_step = ckpt.load(path)["step"]
            else:
                os.replace(path, path.with_name(f"{path.stem}.diverged{path.suffix}"))
                kept_step = None
        if kept_step is not None:
            names = [key for key in algo.config if key.startswith("lr")]
            kept = (f"the checkpoint kept is {path} at step {kept_step}, whose weights gave finite losses. "
                    "To resume from it with a lower learning rate, build the algorithm with the new "
                    f"rate and call fit(algo, data, steps, checkpoint={str(path)!r}, "
                    f"allow_changes={names})")
        else:
            kept = (f"the only checkpoint, saved one step before, produced it; it was moved to "
                    f"{path.stem}.diverged{path.suffix} and no good checkpoint is left")
    message = f"{error}; training stopped. {kept[0].upper()}{kept[1:]}. Or check the data for outliers."
    return NonFiniteLossError(message, error.step, error.name, error.value)
