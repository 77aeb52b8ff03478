"""aegan_lib.nets: output shapes, output activations, logits discriminators, clear errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from aegan_lib import algos, nets

SHAPES = [(2,), (1, 8, 8), (1, 28, 28)]


@pytest.mark.parametrize("shape", SHAPES)
def test_output_shapes(shape):
    torch.manual_seed(0)
    x = torch.rand(5, *shape) * 2 - 1
    z = torch.randn(5, 6)
    assert nets.encoder(shape, 6)(x).shape == (5, 6)
    assert nets.decoder(6, shape)(z).shape == (5, *shape)
    assert nets.generator(6, shape)(z).shape == (5, *shape)
    assert nets.discriminator(shape)(x).shape == (5, 1)


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32)])
def test_image_decoder_ends_in_tanh(shape):
    for net in (nets.decoder(4, shape), nets.generator(4, shape)):
        assert isinstance(list(net.modules())[-1], nn.Tanh)
        assert nets.output_range(net) == (-1.0, 1.0)
        out = net(torch.randn(64, 4) * 50)  # large codes saturate, but never leave [-1, 1]
        assert out.abs().max() <= 1.0


def test_vector_decoder_is_linear_and_logits_option_has_no_activation():
    assert nets.output_range(nets.decoder(2, (2,))) is None
    assert nets.output_range(nets.decoder(2, (2,), output="tanh")) == (-1.0, 1.0)
    logits = nets.decoder(4, (1, 8, 8), output="logits")
    assert nets.output_range(logits) is None
    assert not any(isinstance(m, (nn.Tanh, nn.Sigmoid)) for m in logits.modules())
    with pytest.raises(ValueError, match="expected output in"):
        nets.decoder(4, (2,), output="sigmoid")


@pytest.mark.parametrize("shape", SHAPES)
def test_discriminator_returns_unbounded_logits(shape):
    torch.manual_seed(0)
    net = nets.discriminator(shape)
    assert not any(isinstance(m, (nn.Sigmoid, nn.Tanh)) for m in net.modules())
    assert nets.output_range(net) is None
    logits = net(torch.randn(32, *shape) * 100)
    assert (logits < 0).any() or (logits > 1).any()  # not probabilities


@pytest.mark.parametrize("bad", [(1, 8), (), (0,), (1, -8, 8), (1, 2, 3, 4)])
def test_bad_data_shape_is_a_clear_error(bad):
    for build in (lambda: nets.encoder(bad, 2), lambda: nets.decoder(2, bad), lambda: nets.discriminator(bad)):
        with pytest.raises(ValueError, match=r"expected data_shape \(features,\) or \(channels, height, width\)"):
            build()


@pytest.mark.parametrize("bad", [2, None, ("a", 8)])
def test_data_shape_that_is_not_a_tuple_of_ints_is_a_clear_error(bad):
    with pytest.raises(TypeError, match="expected data_shape"):
        nets.encoder(bad, 2)


def test_bad_latent_dim():
    with pytest.raises(ValueError, match="positive latent_dim"):
        nets.encoder((2,), 0)
    with pytest.raises(ValueError, match="positive latent_dim"):
        nets.decoder(-1, (2,))


def _big_eps_norms(net: nn.Module) -> list[nn.Module]:
    """BatchNorm layers whose eps is a momentum-sized number (the `BatchNorm2d(c, 0.8)` bug)."""
    return [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._NormBase) and m.eps > 1e-3]


def test_the_big_eps_check_catches_the_bug():
    assert _big_eps_norms(nn.Sequential(nn.Conv2d(1, 8, 3), nn.BatchNorm2d(8, 0.8)))
    assert not _big_eps_norms(nn.Sequential(nn.Conv2d(1, 8, 3), nn.BatchNorm2d(8, momentum=0.8)))


def test_library_nets_have_no_batchnorm_and_so_no_big_eps():
    """The library's nets use no BatchNorm (a GAN's D sees real and fake batches separately, and
    a 2D MLP does not need it); if one is added, its eps must still be a small number."""
    built = []
    for shape in SHAPES + [(3, 32, 32)]:
        built += [nets.encoder(shape, 4), nets.decoder(4, shape), nets.discriminator(shape)]
    built += [algos.AE(nets.encoder((2,), 2), nets.decoder(2, (2,))),
              algos.GAN(nets.generator(2, (2,)), nets.discriminator((2,)), 2)]
    assert not any(nets.has_batchnorm(net) for net in built)
    assert not any(_big_eps_norms(net) for net in built)


def test_mlp_and_helpers():
    mlp = nets.mlp(3, 2, hidden=(5, 7), dropout=0.1)
    assert [m.out_features for m in mlp if isinstance(m, nn.Linear)] == [5, 7, 2]
    assert sum(isinstance(m, nn.Dropout) for m in mlp) == 2
    assert nets.count_parameters(mlp) == (3 * 5 + 5) + (5 * 7 + 7) + (7 * 2 + 2)
    assert nets.input_features(nets.decoder(9, (1, 28, 28))) == 9
    assert nets.input_features(nets.encoder((1, 28, 28), 9)) is None  # starts with a conv
