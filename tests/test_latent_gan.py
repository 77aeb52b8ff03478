"""aegan_lib.algos.LatentGAN: each update's gradient contract, a frozen autoencoder in the GAN
phase, resume across the phase boundary, and clear errors (ENGINEERING.md pitfalls 1-4)."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import aegan_lib
from aegan_lib import algos, losses, nets

SHAPE, LATENT, NOISE = (1, 8, 8), 4, 3
HIDDEN = (16,)


def _make(seed: int = 0, pretrain_steps: int = 2, **kwargs) -> algos.LatentGAN:
    aegan_lib.seed_everything(seed)
    return algos.LatentGAN(
        nets.encoder(SHAPE, LATENT, hidden=HIDDEN), nets.decoder(LATENT, SHAPE, hidden=HIDDEN),
        nets.generator(NOISE, (LATENT,), hidden=HIDDEN), nets.discriminator((LATENT,), hidden=HIDDEN),
        LATENT, NOISE, pretrain_steps=pretrain_steps, **kwargs)


@pytest.fixture(scope="module")
def batch(digits_data):
    return digits_data.train.x[:32]


def _params(net) -> list[torch.Tensor]:
    return [p.detach().clone() for p in net.parameters()]


def _grads(net) -> list[torch.Tensor | None]:
    return [None if p.grad is None else p.grad.clone() for p in net.parameters()]


def _record_step(algo: algos.LatentGAN, x: torch.Tensor) -> dict:
    """One algo.step(x), recording at each optimizer's .step(): the grads it applies, copies of
    the nets, and every net's parameters (to check that an update touches only its own nets)."""
    record: dict = {"rng": torch.get_rng_state(), "before": copy.deepcopy(algo)}
    names = ("encoder", "decoder", "generator", "discriminator")

    def hook(name):
        def pre(optimizer, args, kwargs):
            record[name] = {"grads": [g for group in optimizer.param_groups for g in
                                      [None if p.grad is None else p.grad.clone() for p in group["params"]]],
                            "nets": copy.deepcopy(algo), "params": {n: _params(getattr(algo, n)) for n in names}}

        def post(optimizer, args, kwargs):
            record[name]["after"] = {n: _params(getattr(algo, n)) for n in names}
        return pre, post

    handles = []
    for name, optimizer in algo.optimizers.items():
        pre, post = hook(name)
        handles += [optimizer.register_step_pre_hook(pre), optimizer.register_step_post_hook(post)]
    record["out"] = algo.step(x)
    for handle in handles:
        handle.remove()
    record["after"] = copy.deepcopy(algo)
    return record


def _equal(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b))


def test_pretraining_step_is_the_autoencoders_update_and_leaves_the_gan_alone(batch):
    algo = _make(pretrain_steps=2, lr_ae=0.05)
    algo.step(batch)  # warm-up: Adam moments are non-trivial
    record = _record_step(algo, batch)
    assert set(record) >= {"autoencoder"} and "generator" not in record and "discriminator" not in record
    before = record["autoencoder"]["nets"]
    loss = losses.reconstruction_mse(before.decoder(before.encoder(batch)), batch)
    intended = torch.autograd.grad(loss, list(before.encoder.parameters()) + list(before.decoder.parameters()))
    torch.testing.assert_close(record["autoencoder"]["grads"], list(intended))
    assert record["out"]["reconstruction"].item() == pytest.approx(loss.item(), rel=1e-6)
    for name in ("generator", "discriminator"):
        assert _equal(_params(getattr(record["before"], name)), _params(getattr(algo, name)))
        assert all(p.grad is None for p in getattr(algo, name).parameters())
    # Same keys in both phases; the GAN's are zeros while it is not running.
    assert set(record["out"]) == {"reconstruction", "d_loss", "g_loss", "d_real", "d_fake", "d_fake_after"}
    assert all(record["out"][k].item() == 0 for k in record["out"] if k != "reconstruction")
    assert algo.steps_done == 2 and not algo.pretraining


def test_gan_phase_gradient_contract_and_a_frozen_autoencoder(batch):
    algo = _make(pretrain_steps=1, lr_d=0.1, lr_g=0.1)
    algo.step(batch)  # phase 1
    algo.step(batch)  # phase 2 warm-up: Adam moments are non-trivial
    record = _record_step(algo, batch)
    assert "autoencoder" not in record
    encoder, decoder = record["before"].encoder, record["before"].decoder
    codes = encoder(batch).detach()  # the "real data" of the GAN phase

    # The one noise draw of the step, replayed from the RNG state before it.
    z = torch.randn(len(batch), NOISE, generator=torch.Generator().set_state(record["rng"]))

    # Part 1 — D's applied gradient = ∇_D d_loss(D0(codes), D0(G0(z)) detached).
    G0, D0 = record["discriminator"]["nets"].generator, record["discriminator"]["nets"].discriminator
    d_loss = losses.gan_d_loss(D0(codes), D0(G0(z).detach()))
    intended_d = torch.autograd.grad(d_loss, list(D0.parameters()))
    torch.testing.assert_close(record["discriminator"]["grads"], list(intended_d))
    assert record["out"]["d_loss"].item() == pytest.approx(d_loss.item(), rel=1e-6)

    # Part 2 — G's applied gradient = ∇_G g_loss(D1(G0(z))), through the *updated* D1.
    D1 = record["generator"]["nets"].discriminator
    g_loss = losses.gan_g_loss(D1(G0(z)))
    intended_g = torch.autograd.grad(g_loss, list(G0.parameters()))
    torch.testing.assert_close(record["generator"]["grads"], list(intended_g))
    assert record["out"]["g_loss"].item() == pytest.approx(g_loss.item(), rel=1e-6)

    # Each update moves only its own net; the autoencoder is bit-identical throughout.
    d_update, g_update = record["discriminator"], record["generator"]
    for name in ("encoder", "decoder", "generator"):
        assert _equal(d_update["params"][name], d_update["after"][name]), f"D's update moved the {name}"
    for name in ("encoder", "decoder", "discriminator"):
        assert _equal(g_update["params"][name], g_update["after"][name]), f"G's update moved the {name}"
    for name in ("encoder", "decoder"):
        assert _equal(_params(getattr(record["before"], name)), _params(getattr(algo, name)))
    assert not _equal(_params(record["before"].generator), _params(algo.generator))
    assert record["out"]["reconstruction"].item() == 0


def test_gan_phase_does_not_change_the_autoencoders_mode_or_grads(batch):
    algo = _make(pretrain_steps=0)
    algo.train()
    algo.step(batch)
    assert algo.encoder.training and algo.decoder.training  # encode() restored the training mode
    assert all(p.grad is None for p in list(algo.encoder.parameters()) + list(algo.decoder.parameters()))


def test_resume_across_the_phase_boundary_is_bit_identical(digits_data, tmp_path, assert_same):
    data = digits_data.train.x[:256]
    straight = _make(seed=1, pretrain_steps=4)
    history = aegan_lib.fit(straight, data, steps=8, batch_size=32, log_every=1, progress=False)

    path = tmp_path / "latent_gan.pt"
    first = _make(seed=1, pretrain_steps=4)
    aegan_lib.fit(first, data, steps=3, batch_size=32, log_every=1, checkpoint=path, progress=False)
    resumed = _make(seed=7, pretrain_steps=4)  # other weights: everything must come from the file
    resumed_history = aegan_lib.fit(resumed, data, steps=8, batch_size=32, log_every=1, checkpoint=path,
                                    progress=False)

    assert resumed.steps_done == straight.steps_done == 8
    assert_same(straight.state_dict(), resumed.state_dict())
    for name in straight.optimizers:
        assert_same(straight.optimizers[name].state_dict(), resumed.optimizers[name].state_dict(), name)
    assert history == resumed_history
    # Steps 1-4 are the autoencoder's, 5-8 the GAN's: the counter survived the checkpoint.
    assert history["d_loss"][:4] == [0.0] * 4 and min(history["d_loss"][4:]) > 0
    assert min(history["reconstruction"][:4]) > 0 and history["reconstruction"][4:] == [0.0] * 4


def test_checkpoint_holds_the_phase_counter(tmp_path):
    algo = _make(pretrain_steps=5)
    algo.steps_done = 3
    path = tmp_path / "state.pt"
    torch.save(algo.state_dict(), path)
    fresh = _make(pretrain_steps=5)
    fresh.load_state_dict(torch.load(path, weights_only=True))
    assert fresh.steps_done == 3 and fresh.pretraining


@pytest.mark.filterwarnings("ignore:this LatentGAN has taken")
def test_sample_decodes_generated_codes_in_eval_mode():
    algo = _make()
    algo.train()
    samples = algo.sample(5, generator=torch.Generator().manual_seed(0))
    again = algo.sample(5, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (5, *SHAPE) and torch.equal(samples, again)
    assert not samples.requires_grad and algo.training and algo.generator.training
    z = torch.randn(5, NOISE, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(samples, algo.decoder(algo.generator(z)).detach())
    assert algo.data_range == (-1.0, 1.0)
    assert algo.reconstruct(torch.zeros(2, *SHAPE)).shape == (2, *SHAPE)


def test_bad_inputs(batch):
    encoder, decoder = nets.encoder(SHAPE, LATENT, hidden=HIDDEN), nets.decoder(LATENT, SHAPE, hidden=HIDDEN)
    generator, critic = nets.generator(NOISE, (LATENT,), hidden=HIDDEN), nets.discriminator((LATENT,), hidden=HIDDEN)
    # G producing images instead of codes: the seed post's mistake.
    with pytest.raises(ValueError, match="must produce codes of size latent_dim=4"):
        algos.LatentGAN(encoder, decoder, nets.generator(NOISE, SHAPE, hidden=HIDDEN), critic, LATENT, NOISE)
    with pytest.raises(ValueError, match="generator takes 3-dimensional input but latent_dim=5"):
        algos.LatentGAN(encoder, decoder, generator, critic, LATENT, 5)
    with pytest.raises(ValueError, match="decoder takes 4-dimensional input but latent_dim=6"):
        algos.LatentGAN(encoder, decoder, nets.generator(NOISE, (6,), hidden=HIDDEN), critic, 6, NOISE)
    with pytest.raises(ValueError, match="pretrain_steps"):
        algos.LatentGAN(encoder, decoder, generator, critic, LATENT, NOISE, pretrain_steps=-1)
    with pytest.raises(ValueError, match="expected loss in"):
        algos.LatentGAN(encoder, decoder, generator, critic, LATENT, NOISE, loss="wasserstein")
    # An encoder whose codes do not have latent_dim entries: caught in either phase.
    wide = nets.encoder(SHAPE, LATENT + 2, hidden=HIDDEN)
    with pytest.raises(ValueError, match="encoder outputs 6-dimensional codes"):
        algos.LatentGAN(wide, decoder, generator, critic, LATENT, NOISE, pretrain_steps=1).step(batch)
    with pytest.raises(ValueError, match=r"encoder outputs 6-dimensional codes but latent_dim=4"):
        algos.LatentGAN(wide, decoder, generator, critic, LATENT, NOISE, pretrain_steps=0).step(batch)
    # Data outside the decoder's range fails in fit, before any step.
    with pytest.raises(ValueError, match=r"in \[-1, 1\]"):
        aegan_lib.fit(_make(), batch * 4, steps=1, batch_size=8, progress=False)


def test_code_mixture_draws_come_in_random_order_and_reproducibly():
    """scikit-learn samples a mixture component by component; a figure showing the first few
    samples would then show one component. CodeMixture shuffles the draws (seeded)."""
    from aegan_lib.algos.latent_gan import CodeMixture

    torch.manual_seed(0)
    # Two far-apart clusters of 1-D "codes"; the identity encoder/decoder keeps them visible.
    x = torch.cat([torch.randn(200, 1) - 10, torch.randn(200, 1) + 10])
    identity = nn.Identity()
    mixture = CodeMixture.fit(identity, identity, x, components=(2,))
    first = mixture.sample(400, generator=torch.Generator().manual_seed(3))
    signs = (first[:40] > 0).float().mean().item()
    assert 0.2 < signs < 0.8, "the first 40 draws should mix both components"
    again = mixture.sample(400, generator=torch.Generator().manual_seed(3))
    assert torch.equal(first, again)
    assert sorted(first.flatten().tolist()) != sorted(
        mixture.sample(400, generator=torch.Generator().manual_seed(4)).flatten().tolist())
