"""aegan_lib.checkpoint and fit's checkpointing: weights-only loading, config checks, atomic
saves that survive a killed process (pitfall 5), and saving on KeyboardInterrupt."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import aegan_lib
from aegan_lib import checkpoint as ckpt
from aegan_lib import data
from aegan_lib import algos
from aegan_lib.algos import AE

QUIET = {"progress": False}
ROOT = Path(__file__).resolve().parents[1]


def _fit(algo, path, steps=4, **kwargs):
    options = {"batch_size": 16, "log_every": 2, "checkpoint": path, **QUIET, **kwargs}
    return aegan_lib.fit(algo, data.ring(), steps=steps, **options)


def test_checkpoint_loads_weights_only_and_holds_everything(make_gan, checkpoint_path):
    gan = make_gan()
    history = _fit(gan, checkpoint_path)
    state = ckpt.load(checkpoint_path)  # torch.load(weights_only=True) after the checksum: no pickled code
    assert set(state) == {"format", "step", "config", "algorithm", "optimizers", "rng", "data_stream",
                          "history", "versions", "changes"}
    assert state["format"] == ckpt.FORMAT_VERSION and state["step"] == 4 and state["history"] == history
    assert state["config"]["algorithm"] == "GAN" and state["config"]["batch_size"] == 16
    assert state["config"]["data"] == data.describe(data.ring())
    assert state["config"]["data"]["name"] == "ring" and state["config"]["data"]["modes"] == 8
    assert set(state["config"]["nets"]) == {"generator", "discriminator"}
    assert set(state["optimizers"]) == {"generator", "discriminator"}
    assert state["versions"]["aegan_lib"] == aegan_lib.__version__
    assert isinstance(state["versions"]["torch"], str)
    for name, value in gan.state_dict().items():
        assert torch.equal(state["algorithm"][name], value)
    assert [p.name for p in checkpoint_path.parent.iterdir()] == [checkpoint_path.name]  # no temp files left


def test_load_rejects_a_file_that_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match="not an aegan_lib checkpoint"):
        ckpt.load(path)


@pytest.mark.parametrize("change,keys", [
    ({"batch_size": 8}, ["batch_size (checkpoint: 16, now: 8)"]),
    ({"seed": 3}, ["seed (checkpoint: 0, now: 3)"]),
    ({"lr": 2e-3}, ["lr (checkpoint: 0.001, now: 0.002)"]),
    ({"lr": 2e-3, "batch_size": 8}, ["batch_size", "lr"]),
])
def test_mismatched_config_names_the_differing_keys(make_ae, checkpoint_path, change, keys):
    _fit(make_ae(lr=1e-3), checkpoint_path)
    before = checkpoint_path.read_bytes()
    lr = change.pop("lr", 1e-3)
    with pytest.raises(ValueError, match="differing keys") as error:
        _fit(make_ae(lr=lr), checkpoint_path, steps=8, **change)
    for key in keys:
        assert key in str(error.value)
    assert "steps" not in str(error.value)  # a longer run is a continuation, not a new config
    assert checkpoint_path.read_bytes() == before  # and the old checkpoint is left alone


def test_another_algorithm_or_dataset_is_a_mismatch(make_ae, make_gan, checkpoint_path):
    _fit(make_ae(), checkpoint_path)
    with pytest.raises(ValueError, match=r"algorithm \(checkpoint: 'AE', now: 'GAN'\)"):
        _fit(make_gan(), checkpoint_path)
    with pytest.raises(ValueError, match=r"data\.name \(checkpoint: 'ring', now: 'grid'\)"):
        aegan_lib.fit(make_ae(), data.grid(), steps=4, batch_size=16, checkpoint=checkpoint_path, **QUIET)


def test_config_differences_nested():
    saved = {"a": 1, "data": {"name": "ring", "shape": [2]}, "gone": 0}
    current = {"a": 1, "data": {"name": "grid", "shape": [2]}, "new": [1]}
    assert ckpt.config_differences(saved, current) == [
        "data.name (checkpoint: 'ring', now: 'grid')",
        "gone (checkpoint: 0, now: '<missing>')",
        "new (checkpoint: '<missing>', now: [1])",
    ]
    assert ckpt.config_differences(saved, saved) == []


def test_save_atomic_failure_keeps_the_old_file_and_cleans_up(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    ckpt.save({"format": ckpt.FORMAT_VERSION, "step": 1}, path)

    def broken_write(file_descriptor, data):
        os.write(file_descriptor, data[: len(data) // 2])
        raise OSError("disk full")

    real_fdopen = os.fdopen

    def fdopen(handle, mode):  # a file whose write lands half the bytes, then fails
        file = real_fdopen(handle, mode)
        file.write = lambda data: broken_write(file.fileno(), data)
        return file

    monkeypatch.setattr(os, "fdopen", fdopen)
    with pytest.raises(OSError, match="disk full"):
        ckpt.save({"format": ckpt.FORMAT_VERSION, "step": 2}, path)
    monkeypatch.undo()
    assert ckpt.load(path)["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.previous.pt", "c.pt"]  # no temp file left


# A child process saves a checkpoint through fit, then dies (os._exit: no cleanup, no finally)
# in the middle of the next save, at the stage named by argv[2].
_KILLED_MID_SAVE = textwrap.dedent("""
    import os, sys
    import torch
    import aegan_lib
    from aegan_lib import algos, data, nets

    path, stage = sys.argv[1], sys.argv[2]

    def run(steps):
        aegan_lib.seed_everything(0)
        ae = algos.AE(nets.encoder((2,), 2, hidden=(8,)), nets.decoder(2, (2,), hidden=(8,)))
        return aegan_lib.fit(ae, data.ring(), steps=steps, batch_size=16, log_every=3,
                             checkpoint=path, progress=False)

    run(3)
    real_save = torch.save
    if stage == "replace":      # the temp file is complete; die before it is moved into place
        os.replace = lambda *args, **kwargs: os._exit(1)
    else:                       # die halfway through writing the bytes
        real_fdopen = os.fdopen
        def fdopen(handle, mode):
            file = real_fdopen(handle, mode)
            def write(data):
                os.write(file.fileno(), data[: len(data) // 2])
                os._exit(1)
            file.write = write
            return file
        os.fdopen = fdopen
    run(6)
    print("the second save did not crash")
""")


def test_process_killed_mid_save_leaves_the_previous_checkpoint(tmp_path, make_ae, assert_same):
    script = tmp_path / "killed.py"
    script.write_text(_KILLED_MID_SAVE)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    stages = ("replace", "write")
    paths = {stage: tmp_path / stage / "checkpoint.pt" for stage in stages}
    children = {stage: subprocess.Popen([sys.executable, str(script), str(paths[stage]), stage], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for stage in stages}  # both at once: each pays torch's import time
    for stage, child in children.items():
        out, err = child.communicate(timeout=120)
        assert child.returncode == 1, f"{stage}: {out}{err}"
        assert "did not crash" not in out

    for stage in stages:
        path = paths[stage]
        state = ckpt.load(path)  # still loads, weights only, and holds the first run's step
        assert state["step"] == 3 and state["history"]["step"] == [3]
        strays = [p for p in path.parent.iterdir() if p not in (path, ckpt.previous_path(path))]
        assert len(strays) == 1 and strays[0].name.endswith(".tmp"), strays  # the half-file is a temp file
        if stage == "write":
            with pytest.raises(ckpt.CheckpointError, match="truncated"):
                ckpt.load(strays[0])  # really half a file
        # fit resumes from the real checkpoint, not from the temp file, and matches a clean run.
        resumed = make_ae(hidden=(8,), seed=7)  # other initial weights: the checkpoint must override them
        resumed_history = _fit(resumed, path, steps=6, log_every=3)
        clean = make_ae(hidden=(8,))
        clean_history = _fit(clean, None, steps=6, log_every=3)
        assert resumed_history == clean_history and resumed_history["step"] == [3, 6]
        assert_same(resumed.state_dict(), clean.state_dict())


class InterruptedAE(AE):
    """An AE interrupted inside its step number `interrupt_at` (1-based, counted per object),
    after its optimizer has updated the weights and before the step returns to `fit`.

    `how="raise"`: KeyboardInterrupt raised there, as when the interrupt cannot be deferred
    (fit not in the main thread). `how="signal"`: the process sends itself SIGINT, which is what
    Ctrl-C, Jupyter's and Colab's stop buttons do; `how="two signals"`: Ctrl-C pressed twice.
    """

    interrupt_at: int | None = None
    how: str = "raise"

    def step(self, x):
        losses = super().step(x)
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls == self.interrupt_at:
            if self.how == "raise":
                raise KeyboardInterrupt
            os.kill(os.getpid(), signal.SIGINT)
            if self.how == "two signals":
                os.kill(os.getpid(), signal.SIGINT)
        return losses


def _interrupted_ae(seed, interrupt_at, how="raise"):
    aegan_lib.seed_everything(seed)
    ae = InterruptedAE(aegan_lib.nets.encoder((2,), 2, hidden=(8,)), aegan_lib.nets.decoder(2, (2,), hidden=(8,)))
    ae.interrupt_at, ae.how = interrupt_at, how
    return ae


def test_interrupt_raised_inside_a_step_keeps_the_last_good_checkpoint(checkpoint_path, assert_same):
    """A KeyboardInterrupt that cannot be deferred (fit outside the main thread, a second
    Ctrl-C) lands inside step 13, whose batch is drawn: that state is not saved."""
    ae = _interrupted_ae(seed=0, interrupt_at=13)
    with pytest.raises(KeyboardInterrupt):
        _fit(ae, checkpoint_path, steps=20, log_every=5, checkpoint_every=5)
    state = ckpt.load(checkpoint_path)
    assert state["step"] == 10 and state["history"]["step"] == [5, 10]

    rerun = _interrupted_ae(seed=1, interrupt_at=None)  # a fresh object, as after a kernel restart
    history = _fit(rerun, checkpoint_path, steps=20, log_every=5, checkpoint_every=5)
    assert rerun.calls == 10  # only the missing steps ran
    clean = _interrupted_ae(seed=0, interrupt_at=None)
    clean_history = _fit(clean, None, steps=20, log_every=5, checkpoint_every=5)
    assert history == clean_history
    assert_same(rerun.state_dict(), clean.state_dict())


def test_keyboard_interrupt_without_a_checkpoint_just_reraises(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        _fit(_interrupted_ae(seed=0, interrupt_at=2), None, steps=5)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name == "nt", reason="needs POSIX signals")
def test_a_second_ctrl_c_inside_a_step_never_saves_the_half_step(checkpoint_path, assert_same):
    """The weights were updated in step 13 but fit never counted it: saving that state as step
    12 or 13 would resume wrongly, so the checkpoint of step 10 stays."""
    ae = _interrupted_ae(seed=0, interrupt_at=13, how="two signals")
    with pytest.raises(KeyboardInterrupt):
        _fit(ae, checkpoint_path, steps=20, log_every=5, checkpoint_every=5)
    assert ckpt.load(checkpoint_path)["step"] == 10
    resumed = _interrupted_ae(seed=1, interrupt_at=None)
    _fit(resumed, checkpoint_path, steps=20, log_every=5, checkpoint_every=5)
    clean = _interrupted_ae(seed=0, interrupt_at=None)
    _fit(clean, None, steps=20, log_every=5, checkpoint_every=5)
    assert_same(resumed.state_dict(), clean.state_dict())


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name == "nt", reason="needs POSIX signals")
def test_ctrl_c_inside_a_step_stops_after_it_and_resumes_bit_exactly(checkpoint_path, assert_same):
    # Whatever handler the process started with (a shell's background job starts with SIGINT
    # ignored), fit must put it back.
    before = signal.getsignal(signal.SIGINT)
    ae = _interrupted_ae(seed=0, interrupt_at=13, how="signal")
    with pytest.raises(KeyboardInterrupt):
        _fit(ae, checkpoint_path, steps=20, log_every=5, checkpoint_every=100)
    assert ckpt.load(checkpoint_path)["step"] == 13  # the signalled step finished, then fit stopped
    assert signal.getsignal(signal.SIGINT) is before  # fit restored the handler

    resumed = _interrupted_ae(seed=1, interrupt_at=None)
    resumed_history = _fit(resumed, checkpoint_path, steps=20, log_every=5, checkpoint_every=100)
    assert resumed.calls == 7
    clean = _interrupted_ae(seed=0, interrupt_at=None)
    clean_history = _fit(clean, None, steps=20, log_every=5, checkpoint_every=100)
    assert_same(resumed.state_dict(), clean.state_dict())  # as if never interrupted
    assert resumed_history["reconstruction"][-1] == clean_history["reconstruction"][-1]



# --- Integrity: every damaged file is refused with one clear error, and never resumed --------

def _saved_run(make_ae, path, steps=6):
    aegan_lib.fit(make_ae(), data.ring(), steps=steps, batch_size=16, log_every=3, checkpoint=path,
                  checkpoint_every=3, progress=False)
    return path.read_bytes()


def _flip_bit(content: bytes, at: int) -> bytes:
    damaged = bytearray(content)
    damaged[at] ^= 0x10
    return bytes(damaged)


@pytest.mark.parametrize("damage,message", [
    (lambda c: _flip_bit(c, len(c) // 2), "damaged: its content does not match the sha256"),
    (lambda c: _flip_bit(c, 40), "damaged header|does not match the sha256"),
    (lambda c: c[: len(c) - 1000], "truncated or padded"),
    (lambda c: c[:-64] + bytes(64), "does not match the sha256"),
    (lambda c: b"", r"empty \(0 bytes\)"),
    (lambda c: b"step,loss\n1,0.5\n", "not an aegan_lib checkpoint"),
])
def test_a_damaged_checkpoint_raises_names_the_file_and_points_at_the_previous(
        make_ae, checkpoint_path, damage, message):
    content = _saved_run(make_ae, checkpoint_path)
    checkpoint_path.write_bytes(damage(content))
    with pytest.raises(ckpt.CheckpointError, match=message) as error:
        aegan_lib.fit(make_ae(), data.ring(), steps=9, batch_size=16, log_every=3, checkpoint=checkpoint_path,
                      progress=False)
    assert str(checkpoint_path) in str(error.value)
    assert "checkpoint.previous.pt (step 3), is intact: move it to checkpoint.pt" in str(error.value)
    # ... and the advice works: the previous checkpoint resumes.
    os.replace(ckpt.previous_path(checkpoint_path), checkpoint_path)
    history = aegan_lib.fit(make_ae(), data.ring(), steps=9, batch_size=16, log_every=3,
                            checkpoint=checkpoint_path, progress=False)
    assert history["step"] == [3, 6, 9]


def test_a_torch_file_of_another_program_is_refused(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"format": ckpt.FORMAT_VERSION, "step": 3}, path)
    with pytest.raises(ckpt.CheckpointError, match="not an aegan_lib checkpoint"):
        ckpt.load(path)


# --- Fingerprints: other data or another architecture is named, not silently loaded ----------

def test_resuming_on_other_data_names_the_difference(make_ae, checkpoint_path):
    _saved_run(make_ae, checkpoint_path)
    with pytest.raises(ValueError, match=r"differing keys: data\.means_sha1"):
        aegan_lib.fit(make_ae(), data.ring(radius=3.0), steps=9, batch_size=16, checkpoint=checkpoint_path,
                      progress=False)


def test_resuming_into_another_architecture_names_the_difference(checkpoint_path):
    def gan(output):
        aegan_lib.seed_everything(0)
        generator = aegan_lib.nets.generator(2, (2,), hidden=(8,), output=output)
        return algos.GAN(generator, aegan_lib.nets.discriminator((2,), hidden=(8,)), 2)

    aegan_lib.fit(gan(None), data.ring(), steps=4, batch_size=16, checkpoint=checkpoint_path, progress=False)
    with pytest.raises(ValueError, match=r"nets\.generator\.last_module \(checkpoint: 'Linear', now: 'Tanh'\)"):
        aegan_lib.fit(gan("tanh"), data.ring(), steps=8, batch_size=16, checkpoint=checkpoint_path,
                      progress=False)
