"""Fault injection for `fit` and its checkpoints: does every fault leave a run you can trust?

Each scenario trains a tiny 2D GAN toward 12 steps with a checkpoint every 4, injects one
fault (a Ctrl-C between steps, two inside a step or a save, an exception inside a step, a
process killed mid-save, a damaged file, a loss or a parameter turning NaN), and then checks
two things:

- **loadable**: the checkpoint on disk loads (or, where the latest is damaged on purpose, the
  error names the file and the intact previous checkpoint, which loads);
- **correct**: resuming from it to 12 steps gives weights bit-identical to a run that never
  saw the fault (for divergence: the kept checkpoint's weights give a finite next loss).

    python bench/faults.py          # prints the table; exit status 1 if any fault fails

`tests/test_faults.py` runs the same scenarios.

Taught in: chapter 3, "A training engine you can trust".
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aegan_lib  # noqa: E402
from aegan_lib import algos, data, nets  # noqa: E402
from aegan_lib import checkpoint as ckpt  # noqa: E402

STEPS, EVERY = 12, 4
OPTIONS = {"batch_size": 16, "log_every": 2, "checkpoint_every": EVERY, "progress": False}


@dataclass
class Outcome:
    fault: str
    loadable: bool
    correct: bool
    detail: str

    @property
    def ok(self) -> bool:
        return self.loadable and self.correct


def tiny_gan(lr: float = 1e-3) -> algos.GAN:
    aegan_lib.seed_everything(0)
    return algos.GAN(nets.generator(2, (2,), hidden=(16,)), nets.discriminator((2,), hidden=(16,)), 2,
                     lr_g=lr, lr_d=lr)


def clean_weights() -> dict:
    gan = tiny_gan()
    aegan_lib.fit(gan, data.ring(), steps=STEPS, **{**OPTIONS, "checkpoint_every": 1000})
    return gan.state_dict()


def resumes_correctly(path: Path, reference: dict) -> tuple[bool, str]:
    """Resume a fresh object from `path` to STEPS; compare with the uninterrupted run."""
    resumed = tiny_gan()
    start = ckpt.load(path)["step"]
    aegan_lib.fit(resumed, data.ring(), steps=STEPS, checkpoint=path, **OPTIONS)
    same = all(torch.equal(value, reference[name]) for name, value in resumed.state_dict().items())
    return same, f"resumed from step {start}"


def _signal_twice() -> None:
    os.kill(os.getpid(), signal.SIGINT)
    os.kill(os.getpid(), signal.SIGINT)


def interrupted(path: Path, reference: dict, where: str) -> Outcome:
    """Ctrl-C once between steps, or twice inside a step (after D's update) or inside a save."""
    gan = tiny_gan()
    calls = {"d_steps": 0, "saves": 0}
    if where == "between steps":
        def callback(algo, step):
            if step == 6:
                os.kill(os.getpid(), signal.SIGINT)
        extra = {"callback": callback, "callback_every": 1}
    else:
        extra = {}
    if where == "inside a step":
        def after_d_update(optimizer, args, kwargs):
            calls["d_steps"] += 1
            if calls["d_steps"] == 7:  # D has taken its 7th update, G not yet
                _signal_twice()
        gan.optimizers["discriminator"].register_step_post_hook(after_d_update)
    real_write = ckpt._write_atomic
    if where == "inside a save":
        def write(content, target):
            calls["saves"] += 1
            if calls["saves"] == 2:  # the save of step 8
                _signal_twice()
            return real_write(content, target)
        ckpt._write_atomic = write
    try:
        aegan_lib.fit(gan, data.ring(), steps=STEPS, checkpoint=path, **OPTIONS, **extra)
        return Outcome(f"Ctrl-C {where}", False, False, "no KeyboardInterrupt reached the caller")
    except KeyboardInterrupt:
        pass
    finally:
        ckpt._write_atomic = real_write
    loadable = _loads(path)
    correct, detail = resumes_correctly(path, reference) if loadable else (False, "")
    return Outcome(f"Ctrl-C {where}", loadable, correct, detail)


def exception_in_step(path: Path, reference: dict) -> Outcome:
    gan = tiny_gan()
    calls = {"n": 0}

    def failing(optimizer, args, kwargs):
        calls["n"] += 1
        if calls["n"] == 10:
            raise RuntimeError("CUDA error: an illegal memory access (injected)")

    gan.optimizers["generator"].register_step_pre_hook(failing)
    try:
        aegan_lib.fit(gan, data.ring(), steps=STEPS, checkpoint=path, **OPTIONS)
    except RuntimeError:
        pass
    loadable = _loads(path)
    correct, detail = resumes_correctly(path, reference) if loadable else (False, "")
    return Outcome("exception inside a step", loadable, correct, detail)


_KILLED = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, sys.argv[3])
    from bench import faults
    from aegan_lib import checkpoint as ckpt
    path, stage = sys.argv[1], sys.argv[2]
    calls = {"n": 0}
    real_write, real_replace = ckpt._write_atomic, os.replace
    def write(content, target):
        calls["n"] += 1
        if calls["n"] == 2 and stage == "mid-write":
            target.with_name(target.name + ".crash.tmp").write_bytes(content[: len(content) // 2])
            os._exit(1)
        if calls["n"] == 2 and stage == "before rename":
            os.replace = lambda *a, **k: os._exit(1)
        return real_write(content, target)
    ckpt._write_atomic = write
    import aegan_lib
    from aegan_lib import data
    aegan_lib.fit(faults.tiny_gan(), data.ring(), steps=faults.STEPS, checkpoint=path, **faults.OPTIONS)
""")


def killed(path: Path, reference: dict, stage: str) -> Outcome:
    """The process dies (no cleanup, no finally) in the middle of the second save."""
    path.parent.mkdir(parents=True, exist_ok=True)
    child = subprocess.run([sys.executable, "-c", _KILLED, str(path), stage, str(ROOT)], capture_output=True,
                           text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if child.returncode != 1:
        return Outcome(f"process killed {stage}", False, False, f"exit {child.returncode}: {child.stderr[-300:]}")
    loadable = _loads(path)
    correct, detail = resumes_correctly(path, reference) if loadable else (False, "")
    return Outcome(f"process killed {stage}", loadable, correct, detail)


def damaged(path: Path, reference: dict, how: str) -> Outcome:
    """Damage the latest checkpoint; the error must name it and the intact previous one."""
    aegan_lib.fit(tiny_gan(), data.ring(), steps=8, checkpoint=path, **OPTIONS)
    content = path.read_bytes()
    broken = {"one flipped bit": lambda c: c[: len(c) // 2] + bytes([c[len(c) // 2] ^ 1]) + c[len(c) // 2 + 1:],
              "truncated": lambda c: c[: len(c) // 3],
              "zero bytes": lambda c: b"",
              "64 overwritten bytes": lambda c: c[:-200] + bytes(64) + c[-136:]}[how](content)
    path.write_bytes(broken)
    try:
        aegan_lib.fit(tiny_gan(), data.ring(), steps=STEPS, checkpoint=path, **OPTIONS)
        return Outcome(f"latest checkpoint: {how}", False, False, "the damaged file resumed")
    except ckpt.CheckpointError as error:
        message = str(error)
    names_both = str(path) in message and "previous.pt (step 4), is intact" in message
    os.replace(ckpt.previous_path(path), path)  # what the message says to do
    correct, detail = resumes_correctly(path, reference)
    return Outcome(f"latest checkpoint: {how}", names_both, correct, detail + "; error names both files")


def foreign(path: Path, reference: dict) -> Outcome:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"weights": torch.zeros(3)}, path)
    try:
        aegan_lib.fit(tiny_gan(), data.ring(), steps=STEPS, checkpoint=path, **OPTIONS)
        return Outcome("a foreign file at the path", False, False, "it resumed")
    except ckpt.CheckpointError as error:
        refused = "not an aegan_lib checkpoint" in str(error)
    return Outcome("a foreign file at the path", refused, refused, "refused, nothing overwritten")


def diverged(path: Path, reference: dict, what: str) -> Outcome:
    """A loss (after weights blown up to 1e30) or a parameter (inf) becomes non-finite."""
    gan = tiny_gan()
    factor = 1e30 if what == "loss" else math.inf
    calls = {"n": 0}

    def blow_up(optimizer, args, kwargs):
        calls["n"] += 1
        if calls["n"] == 6:
            with torch.no_grad():
                for parameter in gan.discriminator.parameters():
                    parameter.mul_(factor)

    gan.optimizers["generator"].register_step_post_hook(blow_up)
    try:
        aegan_lib.fit(gan, data.ring(), steps=STEPS, checkpoint=path, **{**OPTIONS, "checkpoint_every": 1,
                                                                           "log_every": 1})
        return Outcome(f"{what} becomes NaN/Inf", False, False, "no NonFiniteLossError")
    except aegan_lib.NonFiniteLossError as error:
        failed_at = error.step
    state = ckpt.load(path)
    kept = tiny_gan()
    kept.load_state_dict(state["algorithm"])
    finite = math.isfinite(sum(v.item() for v in kept.step(data.ring().sample(16)).values()))
    params = all(torch.isfinite(v).all() for v in state["algorithm"].values())
    return Outcome(f"{what} becomes NaN/Inf", True, finite and params,
                   f"stopped at step {failed_at}, kept step {state['step']}, its next loss finite")


def run_all() -> list[Outcome]:
    reference = clean_weights()
    scenarios = [
        lambda p: interrupted(p, reference, "between steps"),
        lambda p: interrupted(p, reference, "inside a step"),
        lambda p: interrupted(p, reference, "inside a save"),
        lambda p: exception_in_step(p, reference),
        lambda p: killed(p, reference, "mid-write"),
        lambda p: killed(p, reference, "before rename"),
        *[lambda p, how=how: damaged(p, reference, how)
          for how in ("one flipped bit", "truncated", "zero bytes", "64 overwritten bytes")],
        lambda p: foreign(p, reference),
        lambda p: diverged(p, reference, "loss"),
        lambda p: diverged(p, reference, "parameter"),
    ]
    outcomes = []
    for scenario in scenarios:
        with tempfile.TemporaryDirectory() as folder:
            outcomes.append(scenario(Path(folder) / "run" / "gan.pt"))
    return outcomes


def _loads(path: Path) -> bool:
    try:
        ckpt.load(path)
        return True
    except (ckpt.CheckpointError, FileNotFoundError):
        return False


def table(outcomes: list[Outcome]) -> str:
    lines = [f"{'fault':<40} {'loadable':<9} {'correct':<8} detail"]
    lines += [f"{o.fault:<40} {'yes' if o.loadable else 'NO':<9} {'yes' if o.correct else 'NO':<8} {o.detail}"
              for o in outcomes]
    good = sum(o.ok for o in outcomes)
    lines.append(f"{good} of {len(outcomes)} faults left a loadable, correct checkpoint")
    return "\n".join(lines)


if __name__ == "__main__":
    torch.set_num_threads(1)
    results = run_all()
    print(table(results))
    sys.exit(0 if all(o.ok for o in results) else 1)
