"""aegan_lib.algos.BiGAN (BiGAN / ALI): the gradient contract of its two parts, the isolation of
the networks, clear errors, and resumable training through make() and fit()."""

from __future__ import annotations

import copy

import pytest
import torch

import aegan_lib
from aegan_lib import algos, checkpoint as ckpt, data, losses, nets
from aegan_lib.algos.bigan import JointDiscriminator


def _bigan(loss="nonsaturating", lr=0.1, seed=0):
    aegan_lib.seed_everything(seed)
    return algos.BiGAN(nets.encoder((2,), 3, hidden=(16,)), nets.generator(3, (2,), hidden=(16,)),
                       JointDiscriminator((2,), 3, hidden=(16,)), latent_dim=3, lr_g=lr, lr_d=lr, loss=loss)


def _capture(bigan, real, monkeypatch) -> dict:
    """One step, recording the noise and every network at each optimizer's .step()."""
    record: dict = {}
    original_noise = bigan.noise

    def noise(n, generator=None):
        record["z"] = original_noise(n, generator)
        return record["z"]

    monkeypatch.setattr(bigan, "noise", noise)
    grads = lambda net: [None if p.grad is None else p.grad.clone() for p in net.parameters()]
    params = lambda net: [p.detach().clone() for p in net.parameters()]

    def d_pre(*_):
        record.update(d_grads=grads(bigan.discriminator), d0=copy.deepcopy(bigan.discriminator),
                      g0=copy.deepcopy(bigan.generator), e0=copy.deepcopy(bigan.encoder))

    def d_post(*_):
        record.update(d1=copy.deepcopy(bigan.discriminator), g_after_d=params(bigan.generator),
                      e_after_d=params(bigan.encoder))

    def g_pre(*_):
        record.update(g_grads=grads(bigan.generator), e_grads=grads(bigan.encoder),
                      d_at_ge=params(bigan.discriminator))

    handles = [bigan.opt_d.register_step_pre_hook(d_pre), bigan.opt_d.register_step_post_hook(d_post),
               bigan.opt_g.register_step_pre_hook(g_pre)]
    record["out"] = bigan.step(real)
    for handle in handles:
        handle.remove()
    record["d_final"] = params(bigan.discriminator)
    return record


@pytest.mark.parametrize("loss", ["nonsaturating", "hinge"])
def test_bigan_gradient_contract(monkeypatch, loss):
    bigan = _bigan(loss)
    real = data.ring().sample(64, generator=torch.Generator().manual_seed(0))
    bigan.step(real)  # warm Adam's moments up
    r = _capture(bigan, real, monkeypatch)
    d_loss_fn = losses.ADVERSARIAL_LOSSES[loss][0]
    z, D0, D1, G0, E0 = r["z"], r["d0"], r["d1"], r["g0"], r["e0"]

    # Part 1: D's gradient is ∇_D of d_loss(D0(x, E0(x)), D0(G0(z), z)), nothing reaching G or E.
    d_loss = d_loss_fn(D0(real, E0(real).detach()), D0(G0(z).detach(), z))
    torch.testing.assert_close(r["d_grads"], list(torch.autograd.grad(d_loss, list(D0.parameters()))))
    assert r["out"]["d_loss"].item() == pytest.approx(d_loss.item(), rel=1e-6)
    assert all(torch.equal(a, b) for a, b in zip(r["g_after_d"], G0.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(r["e_after_d"], E0.parameters()))

    # Part 2: G and E follow ∇ of the swapped loss through the *updated* D1.
    ge_loss = d_loss_fn(D1(G0(z), z), D1(real, E0(real)))
    intended = torch.autograd.grad(ge_loss, [*G0.parameters(), *E0.parameters()])
    n_g = len(list(G0.parameters()))
    torch.testing.assert_close(r["g_grads"], list(intended[:n_g]))
    torch.testing.assert_close(r["e_grads"], list(intended[n_g:]))
    assert r["out"]["ge_loss"].item() == pytest.approx(ge_loss.item(), rel=1e-6)
    stale = torch.autograd.grad(d_loss_fn(D0(G0(z), z), D0(real, E0(real))), list(G0.parameters()))
    assert not all(torch.allclose(a, b, rtol=1e-3, atol=1e-6) for a, b in zip(r["g_grads"], stale))
    # G and E's update leaves D bit-identical.
    assert all(torch.equal(a, b) for a, b in zip(r["d_at_ge"], r["d_final"]))
    assert all(torch.equal(a, b) for a, b in zip(r["d_final"], D1.parameters()))


def test_bigan_errors_name_both_sizes():
    with pytest.raises(ValueError, match="encoder outputs 4-dimensional codes but latent_dim=3"):
        algos.BiGAN(nets.encoder((2,), 4), nets.generator(3, (2,)), JointDiscriminator((2,), 3), latent_dim=3)
    with pytest.raises(ValueError, match="joint discriminator was given 5-dimensional codes but latent_dim=3"):
        JointDiscriminator((2,), 3)(torch.zeros(4, 2), torch.zeros(4, 5))
    with pytest.raises(ValueError, match="expected loss in"):
        algos.BiGAN(nets.encoder((2,), 3), nets.generator(3, (2,)), JointDiscriminator((2,), 3), 3, loss="wgan")


def test_make_bigan_on_images_and_points_resumes_bit_exactly(checkpoint_path, assert_same):
    images = torch.rand(64, 1, 28, 28) * 2 - 1
    bigan = algos.make("bigan", images)
    assert any(isinstance(m, torch.nn.Conv2d) for m in bigan.discriminator.modules())
    assert bigan.sample(2).shape == (2, 1, 28, 28) and bigan.encode(images[:3]).shape == (3, 32)
    ring = data.ring()
    run = {"steps": 12, "batch_size": 16, "seed": 1, "log_every": 4, "progress": False}
    # A constant rate: a run that stops at step 8 of 8 then resumes to 12 is one run of 12 only
    # when no schedule depends on the total (a decaying one is refused on resume; test_sharp.py).
    constant = {"lr_schedule": "constant"}
    aegan_lib.seed_everything(0)
    whole = algos.make("bigan", ring, **constant)
    history = aegan_lib.fit(whole, ring, **run)
    aegan_lib.seed_everything(0)
    aegan_lib.fit(algos.make("bigan", ring, **constant), ring, checkpoint=checkpoint_path, **{**run, "steps": 8})
    aegan_lib.seed_everything(5)
    resumed = algos.make("bigan", ring, **constant)
    assert aegan_lib.fit(resumed, ring, checkpoint=checkpoint_path, **run) == history
    assert_same(resumed.state_dict(), whole.state_dict())
    assert set(ckpt.load(checkpoint_path)["optimizers"]) == {"encoder", "generator", "discriminator"}
    assert resumed.reconstruct(ring.sample(5)).shape == (5, 2)
