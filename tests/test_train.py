"""aegan_lib.fit: determinism, history rows, validation, resume equivalence (pitfall 4) and the
NaN guard."""

from __future__ import annotations

import math
import re

import pytest
import torch
from torch import nn

import aegan_lib
from aegan_lib import checkpoint as ckpt
from aegan_lib import data
from aegan_lib.algos import AE, GAN, Algorithm

QUIET = {"progress": False}


class Counter(Algorithm):
    """A stand-in algorithm whose step k (1-based) reports loss = k and twice_loss = 2k."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))
        self.optimizers = {}
        self.config = {}

    def step(self, x):
        self.calls += 1
        return {"loss": self.calls.float(), "twice_loss": 2 * self.calls.float()}


# ================================================================= history and validation


def test_history_rows_average_each_log_interval():
    history = aegan_lib.fit(Counter(), torch.zeros(10, 2), steps=23, batch_size=2, log_every=5, **QUIET)
    assert history["step"] == [5, 10, 15, 20, 23]
    assert history["loss"] == [3.0, 8.0, 13.0, 18.0, 22.0]  # mean of 1..5, 6..10, ..., 21..23
    assert history["twice_loss"] == [6.0, 16.0, 26.0, 36.0, 44.0]
    assert set(history) == {"step", "loss", "twice_loss"}


def test_fit_returns_the_algorithms_loss_keys(make_ae, make_gan, ring_data):
    ae_history = aegan_lib.fit(make_ae(), ring_data, steps=4, batch_size=8, log_every=2, **QUIET)
    assert set(ae_history) == {"step", "reconstruction"} and ae_history["step"] == [2, 4]
    gan_history = aegan_lib.fit(make_gan(), ring_data, steps=3, batch_size=8, log_every=1, **QUIET)
    assert set(gan_history) == {"step", "d_loss", "g_loss", "d_real", "d_fake", "d_fake_after"}
    assert gan_history["step"] == [1, 2, 3]
    assert all(isinstance(v, float) and math.isfinite(v) for v in gan_history["d_loss"])


@pytest.mark.parametrize("name,value", [("steps", 0), ("steps", -3), ("steps", 2.5), ("steps", "10"),
                                        ("log_every", 0), ("checkpoint_every", 0)])
def test_fit_validates_step_counts(make_ae, ring_data, name, value):
    kwargs = {"steps": 4, name: value}
    with pytest.raises(ValueError, match=f"positive int {name}"):
        aegan_lib.fit(make_ae(), ring_data, **kwargs, **QUIET)


def test_fit_validates_batch_size_and_algorithm(make_ae, ring_data):
    with pytest.raises(ValueError, match="positive int batch_size"):
        aegan_lib.fit(make_ae(), ring_data, steps=2, batch_size=0, **QUIET)
    with pytest.raises(ValueError, match="batch_size 11 is larger than the dataset"):
        aegan_lib.fit(make_ae(), torch.zeros(10, 2), steps=2, batch_size=11, **QUIET)
    with pytest.raises(TypeError, match="aegan_lib.algos algorithm"):
        aegan_lib.fit(nn.Linear(2, 2), ring_data, steps=2, **QUIET)


def test_ae_data_checks(make_ae, digits_data):
    ae = make_ae((1, 8, 8), latent_dim=4)
    with pytest.raises(ValueError, match=r"training data in \[-1, 1\].*range"):
        aegan_lib.fit(ae, digits_data.train.x * 3, steps=2, **QUIET)
    with pytest.raises(ValueError, match="NaN/Inf"):
        aegan_lib.fit(ae, torch.full((70, 1, 8, 8), math.nan), steps=2, **QUIET)
    with pytest.raises(TypeError, match="got list"):
        aegan_lib.fit(ae, [[0.0]], steps=2, **QUIET)


# ================================================================= determinism


@pytest.mark.parametrize("kind", ["ae", "gan"])
def test_same_seed_same_losses_twice(make_ae, make_gan, digits_data, kind):
    def run(seed):
        algo = make_ae((1, 8, 8), 4, noise_std=0.1) if kind == "ae" else make_gan((1, 8, 8), 4)
        return aegan_lib.fit(algo, digits_data, steps=20, batch_size=32, seed=seed, log_every=1, **QUIET)

    first, second, other = run(1), run(1), run(2)
    assert first == second  # exactly, every logged float
    assert first != other  # and the seed matters (batch order and noise)


# ================================================================= resume equivalence


def _optimizer_states(algo):
    return {name: optimizer.state_dict() for name, optimizer in algo.optimizers.items()}


@pytest.mark.parametrize("kind", ["ae", "gan"])
@pytest.mark.parametrize("dataset", ["digits", "ring"])
def test_resume_equals_uninterrupted(make_ae, make_gan, digits_data, checkpoint_path, assert_same, kind, dataset):
    """N steps + save + load into fresh objects + N more == 2N steps, bit for bit (pitfall 4)."""
    source = digits_data if dataset == "digits" else data.ring()
    shape = (1, 8, 8) if dataset == "digits" else (2,)
    # digits: 1438 rows / 64 = 22 batches an epoch, so 2N = 30 steps cross an epoch boundary.
    n = 15

    def build(seed):  # a denoising AE, so the AE draws noise from the RNG too
        return make_ae(shape, 3, seed=seed, noise_std=0.1) if kind == "ae" else make_gan(shape, 3, seed=seed)

    def run(algo, steps, checkpoint=None):
        return aegan_lib.fit(algo, source, steps=steps, batch_size=64, seed=5, log_every=5,
                             checkpoint=checkpoint, **QUIET)

    whole = build(seed=0)
    whole_history = run(whole, 2 * n)
    whole_rng = torch.get_rng_state()

    first = build(seed=0)
    run(first, n, checkpoint_path)
    assert ckpt.load(checkpoint_path)["step"] == n
    resumed = build(seed=123)  # fresh objects, different initial weights and RNG state
    assert not torch.equal(next(resumed.parameters()), next(whole.parameters()))
    resumed_history = run(resumed, 2 * n, checkpoint_path)

    assert resumed_history == whole_history
    assert whole_history["step"] == [5, 10, 15, 20, 25, 30]
    assert_same(resumed.state_dict(), whole.state_dict())
    assert_same(_optimizer_states(resumed), _optimizer_states(whole))
    assert torch.equal(torch.get_rng_state(), whole_rng)  # the noise stream continued identically
    saved = ckpt.load(checkpoint_path)
    assert saved["step"] == 2 * n and saved["history"] == whole_history


def test_rerunning_a_finished_fit_is_a_no_op(make_ae, ring_data, checkpoint_path, assert_same):
    ae = make_ae()
    history = aegan_lib.fit(ae, ring_data, steps=6, batch_size=8, log_every=2, checkpoint=checkpoint_path, **QUIET)
    before = {k: v.clone() for k, v in ae.state_dict().items()}
    again = aegan_lib.fit(ae, ring_data, steps=6, batch_size=8, log_every=2, checkpoint=checkpoint_path, **QUIET)
    assert again == history
    assert_same(ae.state_dict(), before)


# ================================================================= NaN guard


_NONFINITE = re.compile(r"loss '(\w+)' became (nan|inf|-inf) at step (\d+)")


class ExplodingAE(AE):
    """An AE whose decoder weights are scaled by 1e30 right after update number `explode_at`:
    still finite (so that checkpoint is written), but the next loss overflows to inf."""

    explode_at = 6
    blow_up = 1e30

    def step(self, x):
        losses = super().step(x)
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls == self.explode_at:
            with torch.no_grad():
                for p in self.decoder.parameters():
                    p.mul_(self.blow_up)
        return losses


def _exploding_ae(lr=1e-3, explode_at=6, blow_up=1e30):
    aegan_lib.seed_everything(0)
    ae = ExplodingAE(aegan_lib.nets.encoder((2,), 2, hidden=(8,)), aegan_lib.nets.decoder(2, (2,), hidden=(8,)), lr=lr)
    ae.explode_at, ae.blow_up = explode_at, blow_up
    return ae


def test_divergence_keeps_a_checkpoint_whose_weights_give_finite_losses(ring_data, checkpoint_path):
    with pytest.raises(aegan_lib.NonFiniteLossError) as error:
        aegan_lib.fit(_exploding_ae(), ring_data, steps=50, batch_size=32, log_every=1,
                      checkpoint=checkpoint_path, checkpoint_every=1, **QUIET)
    match = _NONFINITE.search(str(error.value))
    assert match, str(error.value)
    assert match.group(1) == "reconstruction" and int(match.group(3)) == 7 == error.value.step
    # The checkpoint of step 6 holds the weights that computed the inf of step 7: step 5's is kept.
    state = ckpt.load(checkpoint_path)
    assert state["step"] == 5
    assert f"{checkpoint_path} at step 5" in str(error.value)
    assert all(math.isfinite(v) for v in state["history"]["reconstruction"])
    fresh = _exploding_ae(explode_at=None)
    fresh.load_state_dict(state["algorithm"])
    assert math.isfinite(fresh.step(ring_data.sample(32))["reconstruction"].item()), "its weights give a finite loss"

    # The advice in the message works: resume from that checkpoint with a lower learning rate.
    assert "allow_changes=['lr']" in str(error.value)
    calm = _exploding_ae(lr=1e-4, explode_at=None)
    history = aegan_lib.fit(calm, ring_data, steps=30, batch_size=32, log_every=1,
                            checkpoint=checkpoint_path, allow_changes=["lr"], **QUIET)
    assert calm.calls == 25 and history["step"][-1] == 30
    assert all(math.isfinite(v) for v in history["reconstruction"])
    saved = ckpt.load(checkpoint_path)
    assert saved["changes"] == [{"step": 5, "changed": ["lr (checkpoint: 0.001, now: 0.0001)"]}]
    assert all(group["lr"] == 1e-4 for group in calm.optimizers["autoencoder"].param_groups)


def test_divergence_right_after_the_only_checkpoint_keeps_none(ring_data, checkpoint_path):
    with pytest.raises(aegan_lib.NonFiniteLossError, match="no good checkpoint is left"):
        aegan_lib.fit(_exploding_ae(explode_at=1), ring_data, steps=50, batch_size=32, log_every=1,
                      checkpoint=checkpoint_path, checkpoint_every=1, **QUIET)
    assert not checkpoint_path.exists()
    assert ckpt.load(checkpoint_path.with_name("checkpoint.diverged.pt"))["step"] == 1


def test_nonfinite_parameters_are_never_saved(ring_data, checkpoint_path):
    """inf × 0 weights: the losses so far are finite, the parameters are not; no save."""
    with pytest.raises(aegan_lib.NonFiniteLossError, match="parameters .* became NaN or Inf by step 4"):
        aegan_lib.fit(_exploding_ae(explode_at=4, blow_up=math.inf), ring_data, steps=50, batch_size=32,
                      log_every=2, checkpoint=checkpoint_path, checkpoint_every=2, **QUIET)
    state = ckpt.load(checkpoint_path)
    assert state["step"] == 2 and all(torch.isfinite(v).all() for v in state["algorithm"].values())


def test_allow_changes_names_only_hyperparameters(make_ae, ring_data, checkpoint_path):
    with pytest.raises(ValueError, match=r"allow_changes names \['nets'\].*expected some of"):
        aegan_lib.fit(make_ae(), ring_data, steps=2, allow_changes=["nets"], **QUIET)


class PoisonedGAN(GAN):
    """A GAN whose generator turns into NaN at the start of step `poison_at` (1-based)."""

    poison_at = 7

    def step(self, real):
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls == self.poison_at:
            with torch.no_grad():
                for p in self.generator.parameters():
                    p.fill_(math.nan)
        return super().step(real)


def test_nan_gan_names_step_and_loss_and_keeps_the_earlier_checkpoint(checkpoint_path):
    aegan_lib.seed_everything(0)
    gan = PoisonedGAN(aegan_lib.nets.generator(2, (2,), hidden=(8,)), aegan_lib.nets.discriminator((2,), hidden=(8,)), 2)
    with pytest.raises(aegan_lib.NonFiniteLossError, match="loss 'd_loss' became nan at step 7;"):
        aegan_lib.fit(gan, data.ring(), steps=20, batch_size=16, log_every=10, checkpoint=checkpoint_path,
                      checkpoint_every=5, **QUIET)
    state = ckpt.load(checkpoint_path)
    assert state["step"] == 5 and state["history"]["step"] == [5]
    assert all(math.isfinite(v[0]) for k, v in state["history"].items() if k != "step")
    assert all(torch.isfinite(v).all() for v in state["algorithm"].values())


# --- fit continues: steps is the total, in memory as from a checkpoint -----------------------

def test_a_second_fit_on_the_same_object_continues_bit_exactly(make_gan, assert_same):
    options = {"batch_size": 16, "log_every": 5, **QUIET}
    twice = make_gan()
    aegan_lib.fit(twice, data.ring(), steps=10, **options)
    torch.randn(100)  # the caller uses the global RNG between the calls
    history = aegan_lib.fit(twice, data.ring(), steps=20, **options)
    once = make_gan()
    once_history = aegan_lib.fit(once, data.ring(), steps=20, **options)
    assert history == once_history and history["step"] == [5, 10, 15, 20]
    assert_same(twice.state_dict(), once.state_dict())


def test_asking_again_for_the_same_total_says_so_and_returns(make_ae, capsys):
    ae = make_ae()
    first = aegan_lib.fit(ae, data.ring(), steps=6, batch_size=16, log_every=3, progress=False)
    weights = {k: v.clone() for k, v in ae.state_dict().items()}
    again = aegan_lib.fit(ae, data.ring(), steps=6, batch_size=16, log_every=3, progress=True)
    assert again == first and "already taken 6 steps: nothing to train" in capsys.readouterr().out
    assert all(torch.equal(v, ae.state_dict()[k]) for k, v in weights.items())
    with pytest.raises(ValueError, match="already taken 6 steps, more than steps=4; steps is the total"):
        aegan_lib.fit(ae, data.ring(), steps=4, batch_size=16, progress=False)


def test_continuing_in_memory_with_other_settings_names_them(make_ae):
    ae = make_ae()
    aegan_lib.fit(ae, data.ring(), steps=4, batch_size=16, progress=False)
    with pytest.raises(ValueError, match=r"previous fit was made with another configuration; differing keys: "
                                         r"batch_size.*build a new algorithm object"):
        aegan_lib.fit(ae, data.ring(), steps=8, batch_size=8, progress=False)


def test_numpy_float64_data_trains_like_float32(make_ae, assert_same):
    x = torch.randn(64, 2)
    from_numpy = make_ae()
    aegan_lib.fit(from_numpy, x.double().numpy(), steps=4, batch_size=16, progress=False)
    from_tensor = make_ae()
    aegan_lib.fit(from_tensor, x, steps=4, batch_size=16, progress=False)
    assert_same(from_numpy.state_dict(), from_tensor.state_dict())


# --- Two streams: the noise from `seed`, the data from data.stream_seed(seed) ----------------

def test_stream_seed_is_the_documented_hash_and_differs_from_the_seed():
    import hashlib
    expected = int.from_bytes(hashlib.sha256(b"aegan_lib data stream 7").digest()[:8], "big") % 2**63
    assert data.stream_seed(7) == expected
    seeds = [data.stream_seed(s) for s in range(1000)]
    assert len(set(seeds)) == 1000 and not set(seeds) & set(range(10**6))
    with pytest.raises(ValueError, match="non-negative int seed"):
        data.stream_seed(-1)


def test_fit_seeds_the_data_stream_apart_from_the_noise(make_gan, checkpoint_path):
    aegan_lib.fit(make_gan(), data.ring(), steps=4, batch_size=16, seed=3, checkpoint=checkpoint_path, **QUIET)
    config = ckpt.load(checkpoint_path)["config"]
    assert config["seed"] == 3 and config["data_seed"] == data.stream_seed(3)


def test_a_run_saved_before_data_seeds_resumes_as_it_was_made(make_gan, checkpoint_path, assert_same):
    """Checkpoints without a data seed (the shipped chapter 3 runs) seeded both streams with
    `seed`; resuming one must continue that stream, not switch rules halfway."""
    aegan_lib.fit(make_gan(), data.ring(), steps=4, batch_size=16, data_seed=0, checkpoint=checkpoint_path,
                  **QUIET)
    state = ckpt.load(checkpoint_path)
    del state["config"]["data_seed"]
    ckpt.save(state, checkpoint_path, keep_previous=False)
    resumed = make_gan()
    aegan_lib.fit(resumed, data.ring(), steps=8, batch_size=16, checkpoint=checkpoint_path, **QUIET)
    clean = make_gan()
    aegan_lib.fit(clean, data.ring(), steps=8, batch_size=16, data_seed=0, **QUIET)
    assert_same(resumed.state_dict(), clean.state_dict())
    assert ckpt.load(checkpoint_path)["config"]["data_seed"] == 0
    with pytest.raises(ValueError, match=r"differing keys: data_seed \(checkpoint: 0, now: 5\)"):
        aegan_lib.fit(make_gan(), data.ring(), steps=12, batch_size=16, data_seed=5, checkpoint=checkpoint_path,
                      **QUIET)
