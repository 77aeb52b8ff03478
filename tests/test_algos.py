"""aegan_lib.algos: the AE's loss and update, and the GAN's gradient contract (ENGINEERING.md
pitfalls 1-3) plus the clear errors both raise on misuse."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import aegan_lib
from aegan_lib import algos, data, losses, nets

# ================================================================= AE


def _hand_ae(**kwargs) -> algos.AE:
    """code = x₀; reconstruction = (code, code). Weights fixed so the loss is checkable by hand."""
    encoder, decoder = nn.Linear(2, 1), nn.Linear(1, 2)
    with torch.no_grad():
        encoder.weight.copy_(torch.tensor([[1.0, 0.0]]))
        encoder.bias.zero_()
        decoder.weight.copy_(torch.tensor([[1.0], [1.0]]))
        decoder.bias.zero_()
    return algos.AE(encoder, decoder, **kwargs)


def test_ae_loss_equals_reconstruction_mse_by_hand():
    ae = _hand_ae(lr=1e-3)
    x = torch.tensor([[1.0, 2.0], [3.0, -1.0]])
    # decoder(encoder(x)) = [[1, 1], [3, 3]]; squared errors 0, 1, 0, 16 → mean 17/4
    with torch.no_grad():
        assert losses.reconstruction_mse(ae.decoder(ae.encoder(x)), x).item() == pytest.approx(4.25)
    out = ae.step(x)
    assert set(out) == {"reconstruction"}
    assert out["reconstruction"].item() == pytest.approx(4.25)  # the loss before the update
    assert not out["reconstruction"].requires_grad
    assert not torch.equal(ae.encoder.weight, torch.tensor([[1.0, 0.0]]))  # and it did update


def test_ae_one_step_reduces_the_loss_on_a_fixed_batch(make_ae, digits_data):
    ae = make_ae((1, 8, 8), latent_dim=4, lr=1e-3)
    x = digits_data.train.x[:64]

    def loss_now():
        with aegan_lib.evaluating(ae):
            return losses.reconstruction_mse(ae.decoder(ae.encoder(x)), x).item()

    before = loss_now()
    assert ae.step(x)["reconstruction"].item() == pytest.approx(before, rel=1e-6)
    assert loss_now() < before


def test_ae_bce_needs_a_logits_decoder():
    encoder = nets.encoder((1, 8, 8), 4, hidden=(16,))
    with pytest.raises(ValueError, match="BCE reconstruction needs a decoder that returns logits"):
        algos.AE(encoder, nets.decoder(4, (1, 8, 8), hidden=(16,)), reconstruction="bce")
    ae = algos.AE(encoder, nets.decoder(4, (1, 8, 8), hidden=(16,), output="logits"), reconstruction="bce")
    assert ae.data_range == (-1.0, 1.0)
    x = torch.rand(8, 1, 8, 8) * 2 - 1
    with torch.no_grad():
        expected = losses.reconstruction_bce(ae.decoder(ae.encoder(x)), x)
    assert ae.step(x)["reconstruction"].item() == pytest.approx(expected.item(), rel=1e-6)
    decoded = ae.decode(torch.randn(16, 4) * 100)  # the image the logits stand for: tanh(a / 2)
    assert decoded.abs().max() <= 1.0


def test_ae_latent_mismatch_is_a_clear_error():
    ae = algos.AE(nets.encoder((2,), 4, hidden=(8,)), nets.decoder(3, (2,), hidden=(8,)))
    with pytest.raises(ValueError, match="encoder outputs 4-dimensional codes but latent_dim=3"):
        ae.step(torch.randn(8, 2))


def test_ae_decoder_output_shape_mismatch_is_a_clear_error():
    ae = algos.AE(nets.encoder((1, 8, 8), 4, hidden=(8,)), nets.decoder(4, (64,), hidden=(8,)))
    with pytest.raises(ValueError, match=r"decoder's output has per-sample shape \(64,\)"):
        ae.step(torch.zeros(8, 1, 8, 8))


def test_ae_validation():
    encoder, decoder = nets.encoder((2,), 2), nets.decoder(2, (2,))
    with pytest.raises(ValueError, match="reconstruction in"):
        algos.AE(encoder, decoder, reconstruction="l1")
    with pytest.raises(ValueError, match="noise_std >= 0"):
        algos.AE(encoder, decoder, noise_std=-0.1)
    with pytest.raises(ValueError, match="positive learning rate"):
        algos.AE(encoder, decoder, lr=0.0)


@pytest.mark.parametrize("noise_std", [0.0, 0.5])
def test_denoising_ae_corrupts_the_input_and_scores_against_the_clean_data(make_ae, noise_std):
    ae = make_ae((2,), latent_dim=2, noise_std=noise_std)
    before = copy.deepcopy(ae)
    x = torch.randn(256, 2)
    seen = []
    ae.encoder.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    loss = ae.step(x)["reconstruction"]
    corrupted = seen[0]
    if noise_std == 0:
        assert torch.equal(corrupted, x)
    else:
        assert (corrupted - x).std().item() == pytest.approx(noise_std, rel=0.15)
    with torch.no_grad():  # target is the clean x, input the corrupted one
        expected = losses.reconstruction_mse(before.decoder(before.encoder(corrupted)), x)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_ae_encode_decode_restore_training_mode(make_ae):
    ae = make_ae((2,), latent_dim=3)
    ae.train()
    x = torch.randn(5, 2, requires_grad=True)
    codes = ae.encode(x)
    assert codes.shape == (5, 3) and not codes.requires_grad
    assert ae.reconstruct(x).shape == (5, 2)
    assert ae.training and ae.encoder.training and ae.decoder.training


# ================================================================= GAN: gradient contract


def _capture_gan_step(gan: algos.GAN, real: torch.Tensor, monkeypatch) -> dict:
    """Run one gan.step(real), recording the noise and each optimizer's view at its .step()."""
    G, D = gan.generator, gan.discriminator
    record: dict = {"noise": []}
    original_noise = gan.noise

    def noise(n, generator=None):
        z = original_noise(n, generator)
        record["noise"].append(z.clone())
        return z

    monkeypatch.setattr(gan, "noise", noise)

    def params(net):
        return [p.detach().clone() for p in net.parameters()]

    def grads(net):
        return [None if p.grad is None else p.grad.clone() for p in net.parameters()]

    def d_pre(optimizer, args, kwargs):
        record["d_grads"], record["d_before"] = grads(D), copy.deepcopy(D)
        record["g_before"], record["g_at_d_step"] = copy.deepcopy(G), params(G)

    def d_post(optimizer, args, kwargs):
        record["g_after_d_step"], record["d_after"] = params(G), copy.deepcopy(D)

    def g_pre(optimizer, args, kwargs):
        record["g_grads"], record["d_at_g_step"], record["d_grads_at_g_step"] = grads(G), params(D), grads(D)

    def g_post(optimizer, args, kwargs):
        record["d_after_g_step"] = params(D)

    handles = [gan.opt_d.register_step_pre_hook(d_pre), gan.opt_d.register_step_post_hook(d_post),
               gan.opt_g.register_step_pre_hook(g_pre), gan.opt_g.register_step_post_hook(g_post)]
    record["out"] = gan.step(real)
    for handle in handles:
        handle.remove()
    return record


def _all_close(a, b, **tolerance) -> bool:
    return all(torch.allclose(x, y, **tolerance) for x, y in zip(a, b))


@pytest.mark.parametrize("loss", ["nonsaturating", "hinge"])
def test_gan_gradient_contract(make_gan, monkeypatch, loss):
    # A big lr_d makes D's update large, so "G's loss through D *after* its update" differs
    # clearly from "through D before" (pitfall 3) and the test can tell them apart.
    gan = make_gan((2,), latent_dim=3, lr_d=0.1, lr_g=0.1, loss=loss, hidden=(32,))
    real = data.ring().sample(64, generator=torch.Generator().manual_seed(0))
    gan.step(real)  # one warm-up step so Adam's moments are non-trivial
    record = _capture_gan_step(gan, real, monkeypatch)
    d_loss_fn, g_loss_fn = losses.ADVERSARIAL_LOSSES[loss]
    (z,) = record["noise"]  # exactly one noise draw per step
    G0, D0, D1 = record["g_before"], record["d_before"], record["d_after"]

    # Part 1: D's applied gradient = ∇_D of d_loss(D0(real), D0(G0(z).detach())).
    fake = G0(z).detach()
    d_loss = d_loss_fn(D0(real), D0(fake))
    intended_d = torch.autograd.grad(d_loss, list(D0.parameters()))
    assert all(g is not None for g in record["d_grads"])
    torch.testing.assert_close(record["d_grads"], list(intended_d))
    assert record["out"]["d_loss"].item() == pytest.approx(d_loss.item(), rel=1e-6)

    # Part 2: G's applied gradient = ∇_G of g_loss(D1(G0(z))), D1 = D after its update.
    g_loss = g_loss_fn(D1(G0(z)))
    intended_g = torch.autograd.grad(g_loss, list(G0.parameters()))
    torch.testing.assert_close(record["g_grads"], list(intended_g))
    assert record["out"]["g_loss"].item() == pytest.approx(g_loss.item(), rel=1e-6)
    stale = torch.autograd.grad(g_loss_fn(D0(G0(z))), list(G0.parameters()))
    assert not _all_close(record["g_grads"], stale, rtol=1e-3, atol=1e-6), "the test cannot see pitfall 3"

    # No cross-talk: G's backward left D's .grad exactly as D applied it.
    for before, after in zip(record["d_grads"], record["d_grads_at_g_step"]):
        assert after is None or torch.equal(before, after)


@pytest.mark.parametrize("loss", ["nonsaturating", "hinge"])
def test_gan_d_step_leaves_g_and_g_step_leaves_d_bit_identical(make_gan, monkeypatch, loss):
    gan = make_gan((2,), latent_dim=3, lr_d=0.1, lr_g=0.1, loss=loss)
    real = data.ring().sample(64, generator=torch.Generator().manual_seed(0))
    g_start = [p.detach().clone() for p in gan.generator.parameters()]
    record = _capture_gan_step(gan, real, monkeypatch)
    d_after = [p.detach() for p in record["d_after"].parameters()]
    for a, b, c in zip(g_start, record["g_at_d_step"], record["g_after_d_step"]):
        assert torch.equal(a, b) and torch.equal(b, c)  # D's step did not move G
    for a, b in zip(d_after, record["d_after_g_step"]):
        assert torch.equal(a, b)  # G's step did not move D
    # Both nets did move during the whole step (else the checks above prove nothing).
    assert not all(torch.equal(a, b) for a, b in zip(g_start, gan.generator.parameters()))
    assert not all(torch.equal(a, p) for a, p in zip(d_after, record["d_before"].parameters()))
    # And D's requires_grad flags are restored after the G step froze them.
    assert all(p.requires_grad for p in gan.discriminator.parameters())


def test_gan_step_returns_detached_statistics(make_gan):
    gan = make_gan((2,), latent_dim=2)
    out = gan.step(torch.randn(16, 2))
    assert set(out) == {"d_loss", "g_loss", "d_real", "d_fake", "d_fake_after"}
    for name, value in out.items():
        assert value.shape == () and not value.requires_grad, name
    for name in ("d_real", "d_fake", "d_fake_after"):
        assert 0.0 <= out[name].item() <= 1.0


# ================================================================= GAN: errors and sampling


def test_gan_wrong_latent_size_is_a_clear_error():
    generator, discriminator = nets.generator(4, (2,)), nets.discriminator((2,))
    with pytest.raises(ValueError, match="generator takes 4-dimensional input but latent_dim=3"):
        algos.GAN(generator, discriminator, latent_dim=3)
    for bad in (0, -2, "4", 4.0):
        with pytest.raises(ValueError, match="positive int latent_dim"):
            algos.GAN(generator, discriminator, latent_dim=bad)
    with pytest.raises(ValueError, match="loss in"):
        algos.GAN(generator, discriminator, latent_dim=4, loss="wasserstein")


def test_gan_generator_shape_mismatch_is_a_clear_error(digits_data):
    gan = algos.GAN(nets.generator(4, (1, 28, 28), hidden=(8,)), nets.discriminator((1, 8, 8), hidden=(8,)), 4)
    with pytest.raises(ValueError, match=r"generator's output has per-sample shape \(1, 28, 28\) but the data has \(1, 8, 8\)"):
        aegan_lib.fit(gan, digits_data, steps=2, batch_size=8, progress=False)


def test_gan_data_outside_the_generator_range(make_gan, digits_data):
    gan = make_gan((1, 8, 8), latent_dim=4)
    with pytest.raises(ValueError, match=r"expected the training data in \[-1, 1\].*range.*min -3, max 3"):
        aegan_lib.fit(gan, digits_data.train.x * 3, steps=2, batch_size=8, progress=False)


def test_gan_nan_and_non_tensor_data(make_gan, digits_data):
    gan = make_gan((1, 8, 8), latent_dim=4)
    x = digits_data.train.x.clone()
    x[3, 0, 2, 2] = float("nan")
    with pytest.raises(ValueError, match="training data contains 1 NaN/Inf"):
        aegan_lib.fit(gan, x, steps=2, batch_size=8, progress=False)
    with pytest.raises(TypeError, match="got list"):
        aegan_lib.fit(gan, digits_data.train.x.tolist(), steps=2, batch_size=8, progress=False)
    with pytest.raises(TypeError, match="expected float data .*got dtype int64.*Convert it first"):
        aegan_lib.fit(gan, digits_data.train.y.view(-1, 1), steps=2, batch_size=8, progress=False)


def test_gan_sample(make_gan):
    gan = make_gan((1, 8, 8), latent_dim=4)
    gan.train()
    first = gan.sample(6, generator=torch.Generator().manual_seed(1))
    second = gan.sample(6, generator=torch.Generator().manual_seed(1))
    assert first.shape == (6, 1, 8, 8) and torch.equal(first, second) and not first.requires_grad
    assert first.abs().max() <= 1.0
    assert gan.generator.training  # sampling restored the training mode
