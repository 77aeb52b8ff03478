"""AEGAN (chapter 5): every update gets exactly its own loss's gradient, touches only its own nets,
its losses match their formulas, and a resumed run equals an uninterrupted one."""

import copy
import math

import pytest
import torch
from torch import nn

import aegan_lib as ag
from aegan_lib import losses, nets
from aegan_lib.algos import AEGAN

LATENT = 3

# name → (latent critic?, λ, μ, adversarial_reconstructions)
CONFIGS = {
    "gan_plus_recon": (False, 1.5, 0.0, False),
    "plus_latent_critic": (True, 1.5, 0.0, False),
    "plus_latent_recon": (True, 1.5, 0.7, False),
    "full_lazarou": (True, 1.5, 0.7, True),
    "recon_and_latent_recon_no_critic": (False, 0.5, 2.0, True),
}


def build(config, seed=0, **kwargs):
    critic, lam, mu, adversarial_reconstructions = CONFIGS[config]
    torch.manual_seed(seed)
    return AEGAN(
        encoder=nets.encoder((2,), LATENT, hidden=(16,)),
        generator=nets.generator(LATENT, (2,), hidden=(16,)),
        discriminator=nets.discriminator((2,), hidden=(16,)),
        latent_dim=LATENT,
        latent_discriminator=nets.discriminator((LATENT,), hidden=(16,)) if critic else None,
        reconstruction_weight=lam, latent_reconstruction_weight=mu,
        adversarial_reconstructions=adversarial_reconstructions, lr_g=1e-2, lr_d=1e-2, **kwargs)


def snapshot(algo):
    return {name: value.detach().clone() for name, value in algo.state_dict().items()}


def record_steps(algo):
    """For each optimizer: the grads it applies and the nets' state just before and after its step."""
    records = {}
    for name, optimizer in algo.optimizers.items():
        def before(opt, args, kwargs, name=name):
            params = [p for group in opt.param_groups for p in group["params"]]
            records[name] = {"grads": [None if p.grad is None else p.grad.clone() for p in params],
                             "before": snapshot(algo)}

        def after(opt, args, kwargs, name=name):
            records[name]["after"] = snapshot(algo)

        optimizer.register_step_pre_hook(before)
        optimizer.register_step_post_hook(after)
    return records


def nets_at(algo, state):
    """A copy of the algorithm holding the parameters of a recorded moment."""
    copied = copy.deepcopy(algo)
    copied.load_state_dict(state)
    return copied


def intended_losses(algo, records, real, z):
    """Each update's loss written out from the formulas, on the nets as they were at that update."""
    critic = algo.latent_discriminator is not None
    mu, lam = algo.latent_reconstruction_weight, algo.reconstruction_weight
    both = algo.adversarial_reconstructions
    intended = {}

    at = nets_at(algo, records["discriminator"]["before"])
    fakes = at.generator(z).detach()
    if both:
        fakes = torch.cat([fakes, at.generator(at.encoder(real)).detach()])
    d_loss = losses.gan_d_loss(at.discriminator(real), at.discriminator(fakes))
    intended["discriminator"] = (d_loss, list(at.discriminator.parameters()))

    if critic:
        at = nets_at(algo, records["latent_discriminator"]["before"])
        codes = at.encoder(real).detach()
        if both:
            codes = torch.cat([codes, at.encoder(at.generator(z)).detach()])
        dz_loss = losses.gan_d_loss(at.latent_discriminator(z), at.latent_discriminator(codes))
        intended["latent_discriminator"] = (dz_loss, list(at.latent_discriminator.parameters()))

    at = nets_at(algo, records["generator_encoder"]["before"])
    fake, code = at.generator(z), at.encoder(real)
    reconstruction = at.generator(code)
    image_fakes = torch.cat([fake, reconstruction]) if both else fake
    g_loss = losses.gan_g_loss(at.discriminator(image_fakes)) + lam * losses.reconstruction_mse(reconstruction, real)
    if critic:
        codes = torch.cat([code, at.encoder(fake)]) if both else code
        g_loss = g_loss + losses.gan_g_loss(at.latent_discriminator(codes))
    if mu > 0:
        g_loss = g_loss + mu * losses.reconstruction_mse(at.encoder(fake), z)
    intended["generator_encoder"] = (g_loss, list(at.generator.parameters()) + list(at.encoder.parameters()))
    return intended


def fixed_batch(seed=1):
    generator = torch.Generator().manual_seed(seed)
    real = ag.data.ring().sample(16, generator=generator)
    z = torch.randn(16, LATENT, generator=generator)
    return real, z


@pytest.mark.parametrize("config", list(CONFIGS))
def test_every_optimizer_applies_exactly_the_gradient_of_its_own_loss(config):
    algo = build(config)
    real, z = fixed_batch()
    algo.noise = lambda n, generator=None: z  # the step's z, known to the test
    for _ in range(2):  # the second step runs with non-trivial Adam state and moved nets
        records = record_steps(algo)
        algo.step(real)
        expected_names = ["generator_encoder", "discriminator"] + (
            ["latent_discriminator"] if algo.latent_discriminator is not None else [])
        assert sorted(records) == sorted(expected_names)
        for name, (loss, params) in intended_losses(algo, records, real, z).items():
            expected = torch.autograd.grad(loss, params, allow_unused=True)
            applied = records[name]["grads"]
            assert len(applied) == len(expected)
            for got, want in zip(applied, expected):
                if want is None:
                    assert got is None or torch.all(got == 0), f"{name}: a param outside its loss got a gradient"
                else:
                    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7, msg=f"{name} gradient")
        for optimizer in algo.optimizers.values():  # drop this round's hooks
            optimizer._optimizer_step_pre_hooks.clear()
            optimizer._optimizer_step_post_hooks.clear()


OWNERS = {"discriminator": ("discriminator.",), "latent_discriminator": ("latent_discriminator.",),
          "generator_encoder": ("generator.", "encoder.")}


@pytest.mark.parametrize("config", list(CONFIGS))
def test_each_update_moves_only_its_own_nets(config):
    algo = build(config)
    real, _ = fixed_batch()
    records = record_steps(algo)
    algo.step(real)
    for name, record in records.items():
        moved = {key for key in record["before"] if not torch.equal(record["before"][key], record["after"][key])}
        assert moved, f"the {name} update changed nothing"
        assert all(key.startswith(OWNERS[name]) for key in moved), f"the {name} update moved {sorted(moved)}"
        untouched = [key for key in record["before"] if not key.startswith(OWNERS[name])]
        assert untouched and all(torch.equal(record["before"][k], record["after"][k]) for k in untouched)


def test_updates_run_in_the_documented_order():
    algo = build("full_lazarou")
    order = []
    for name, optimizer in algo.optimizers.items():
        optimizer.register_step_pre_hook(lambda opt, args, kwargs, name=name: order.append(name))
    algo.step(fixed_batch()[0])
    assert order == ["discriminator", "latent_discriminator", "generator_encoder"]


def linear(weight, bias):
    layer = nn.Linear(len(weight[0]), len(weight))
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight))
        layer.bias.copy_(torch.tensor(bias))
    return layer


@pytest.mark.parametrize("adversarial_reconstructions", [False, True])
def test_losses_equal_their_formulas_on_hand_computed_numbers(adversarial_reconstructions):
    # E(x) = x, G(c) = 2c, both critics output the constant logit 0: every number is known by hand.
    algo = AEGAN(encoder=linear([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]),
                 generator=linear([[2.0, 0.0], [0.0, 2.0]], [0.0, 0.0]),
                 discriminator=linear([[0.0, 0.0]], [0.0]), latent_dim=2,
                 latent_discriminator=linear([[0.0, 0.0]], [0.0]),
                 reconstruction_weight=2.0, latent_reconstruction_weight=0.4,
                 adversarial_reconstructions=adversarial_reconstructions, lr_g=0.0, lr_d=0.0)
    real = torch.tensor([[1.0, 2.0], [3.0, -1.0]])
    z = torch.tensor([[1.0, 0.0], [0.0, -2.0]])
    algo.noise = lambda n, generator=None: z
    out = algo.step(real)
    log2 = math.log(2.0)
    # ‖x − G(E(x))‖² averaged over elements: x − 2x = −x → (1 + 4 + 9 + 1) / 4 = 3.75
    assert out["reconstruction"].item() == pytest.approx(3.75)
    # ‖z − E(G(z))‖²: z − 2z = −z → (1 + 0 + 0 + 4) / 4 = 1.25
    assert out["latent_reconstruction"].item() == pytest.approx(1.25)
    # critics' losses: −log σ(0) − log(1 − σ(0)) = 2 log 2; the adversarial terms: −log σ(0) = log 2
    assert out["d_loss"].item() == pytest.approx(2 * log2)
    assert out["dz_loss"].item() == pytest.approx(2 * log2)
    assert out["g_adversarial"].item() == pytest.approx(log2)
    assert out["latent_adversarial"].item() == pytest.approx(log2)
    # G/E's loss: log 2 + λ·3.75 + log 2 + μ·1.25 with λ = 2, μ = 0.4
    assert out["g_loss"].item() == pytest.approx(2 * log2 + 2.0 * 3.75 + 0.4 * 1.25)
    assert out["d_real"].item() == pytest.approx(0.5) and out["d_fake"].item() == pytest.approx(0.5)


def test_the_terms_switch_on_and_off_by_argument():
    plain = build("gan_plus_recon")
    assert plain.latent_discriminator is None and list(plain.optimizers) == ["generator_encoder", "discriminator"]
    assert set(plain.step(fixed_batch()[0])) == {"d_loss", "d_real", "d_fake", "g_adversarial",
                                                "reconstruction", "g_loss"}
    full = build("full_lazarou")
    assert set(full.step(fixed_batch()[0])) == {"d_loss", "d_real", "d_fake", "dz_loss", "g_adversarial",
                                               "reconstruction", "latent_adversarial",
                                               "latent_reconstruction", "g_loss"}
    assert full.config["latent_critic"] is True and full.config["latent_reconstruction_weight"] == 0.7


def test_resume_through_fit_equals_an_uninterrupted_run(tmp_path):
    ring = ag.data.ring()
    straight = build("full_lazarou", seed=3)
    ag.fit(straight, ring, steps=12, batch_size=16, seed=5, progress=False, log_every=4)

    path = tmp_path / "aegan.pt"
    first = build("full_lazarou", seed=3)
    ag.fit(first, ring, steps=6, batch_size=16, seed=5, checkpoint=path, progress=False, log_every=4)
    resumed = build("full_lazarou", seed=99)  # fresh objects, other weights: the checkpoint must restore all
    history = ag.fit(resumed, ring, steps=12, batch_size=16, seed=5, checkpoint=path, progress=False, log_every=4)

    for key, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
    for name, optimizer in straight.optimizers.items():
        want, got = optimizer.state_dict()["state"], resumed.optimizers[name].state_dict()["state"]
        for index in want:
            for field in want[index]:
                assert torch.equal(want[index][field], got[index][field]), (name, index, field)
    assert history["step"][-1] == 12 and "latent_reconstruction" in history


def test_same_seed_gives_the_same_losses_twice():
    runs = []
    for _ in range(2):
        algo = build("full_lazarou", seed=2)
        runs.append(ag.fit(algo, ag.data.ring(), steps=8, batch_size=16, seed=4, progress=False, log_every=4))
    assert runs[0] == runs[1]


def test_latent_discriminator_with_batchnorm_is_rejected():
    critic = nn.Sequential(nn.Linear(LATENT, 8), nn.BatchNorm1d(8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
    with pytest.raises(ValueError, match="BatchNorm"):
        AEGAN(nets.encoder((2,), LATENT), nets.generator(LATENT, (2,)), nets.discriminator((2,)), LATENT,
              latent_discriminator=critic)


def test_bad_inputs_raise_clear_errors():
    encoder, generator, discriminator = nets.encoder((2,), 4), nets.generator(LATENT, (2,)), nets.discriminator((2,))
    with pytest.raises(ValueError, match="encoder outputs 4-dimensional codes but latent_dim=3"):
        AEGAN(encoder, generator, discriminator, LATENT)
    encoder = nets.encoder((2,), LATENT)
    with pytest.raises(ValueError, match="reconstruction_weight to be a number >= 0"):
        AEGAN(encoder, generator, discriminator, LATENT, reconstruction_weight=-0.1)
    with pytest.raises(ValueError, match="latent_reconstruction_weight to be a number >= 0"):
        AEGAN(encoder, generator, discriminator, LATENT, latent_reconstruction_weight=-1.0)
    with pytest.raises(ValueError, match="latent discriminator takes 5-dimensional input"):
        AEGAN(encoder, generator, discriminator, LATENT, latent_discriminator=nets.discriminator((5,)))
    with pytest.raises(ValueError, match="expected loss in"):
        AEGAN(encoder, generator, discriminator, LATENT, loss="wasserstein")
    # An encoder whose code size is only known when it runs: caught at the first step.
    shapeless = AEGAN(nn.Identity(), nets.generator(LATENT, (2,)), discriminator, LATENT)
    with pytest.raises(ValueError, match=r"encoder outputs 2-dimensional codes but latent_dim=3"):
        shapeless.step(torch.zeros(4, 2))


def test_sample_encode_reconstruct_shapes_range_and_mode():
    torch.manual_seed(0)
    digits_shape = (1, 8, 8)
    algo = AEGAN(nets.encoder(digits_shape, 5), nets.generator(5, digits_shape), nets.discriminator(digits_shape),
                 5, latent_discriminator=nets.discriminator((5,)))
    assert algo.data_range == (-1.0, 1.0)
    x = torch.rand(6, *digits_shape) * 2 - 1
    algo.train()
    assert algo.sample(7).shape == (7, *digits_shape)
    assert algo.encode(x).shape == (6, 5)
    assert algo.reconstruct(x).shape == x.shape
    assert algo.training and algo.generator.training and algo.encoder.training
    same = algo.sample(3, generator=torch.Generator().manual_seed(1))
    assert torch.equal(same, algo.sample(3, generator=torch.Generator().manual_seed(1)))
    assert not algo.sample(3).requires_grad
    assert build("gan_plus_recon").data_range is None  # 2D points: a linear output


def test_the_placebo_arm_is_the_plain_gan_step_for_step():
    """λ = 0, no latent critic, μ = 0: the joint loop's code path trains G and D exactly like
    algos.GAN (the encoder gets no gradient), so chapter 6's placebo isolates the code path."""
    from aegan_lib.algos import GAN, make

    ring = ag.data.ring()
    ag.seed_everything(0)
    placebo = make("aegan", ring, reconstruction_weight=0.0, latent_discriminator=None,
                         latent_reconstruction_weight=0.0)
    gan = GAN(copy.deepcopy(placebo.generator), copy.deepcopy(placebo.discriminator), placebo.latent_dim,
              lr_g=placebo.config["lr_g"], lr_d=placebo.config["lr_d"], betas=placebo.config["betas"])
    encoder_before = copy.deepcopy(placebo.encoder.state_dict())
    for step in range(5):
        batch = ring.sample(64, generator=torch.Generator().manual_seed(step))
        torch.manual_seed(100 + step)
        placebo.step(batch)
        torch.manual_seed(100 + step)
        gan.step(batch)
    for mine, theirs in zip(placebo.generator.parameters(), gan.generator.parameters()):
        assert torch.equal(mine, theirs)
    for mine, theirs in zip(placebo.discriminator.parameters(), gan.discriminator.parameters()):
        assert torch.equal(mine, theirs)
    for name, value in placebo.encoder.state_dict().items():
        assert torch.equal(value, encoder_before[name])
