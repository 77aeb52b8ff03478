"""`make(method, data)` (chapter 4): every method builds from the data alone and trains a step."""

import pytest
import torch

import aegan_lib as ag
from aegan_lib.algos import AEGAN, GAN, make
from aegan_lib.algos.factory import METHODS

DATASETS = {"ring": ag.data.ring, "digits": ag.data.digits}


@pytest.mark.parametrize("dataset", list(DATASETS))
@pytest.mark.parametrize("method", METHODS)
def test_each_method_builds_and_trains_on_ring_and_digits(method, dataset):
    data = DATASETS[dataset]()
    ag.seed_everything(0)
    algo = make(method, data)
    history = ag.fit(algo, data, steps=3, batch_size=16, progress=False, log_every=3)
    assert history["step"] == [3]
    assert all(torch.isfinite(torch.tensor(values)).all() for values in history.values())
    samples = algo.sample(5)
    assert samples.shape == (5, *data.shape)
    assert algo.device == torch.device("cpu")


def test_unknown_method_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown method 'vaegan'; known methods: gan, latent_gan, aegan"):
        make("vaegan", ag.data.ring())


def test_unknown_override_is_an_error_that_names_the_accepted_keys():
    with pytest.raises(ValueError, match=r"unknown overrides \['lamda'\].*reconstruction_weight"):
        make("aegan", ag.data.ring(), lamda=2.0)


def test_data_must_be_a_dataset_or_tensor():
    with pytest.raises(TypeError, match="expected data to be an aegan_lib dataset"):
        make("gan", [[0.0, 1.0]])


def test_overrides_reach_the_nets_and_the_constructor():
    algo = make("aegan", ag.data.grid(), latent_dim=5, hidden=(32,), reconstruction_weight=0.25,
                latent_discriminator=None)
    assert isinstance(algo, AEGAN) and algo.latent_discriminator is None
    assert algo.config["latent_dim"] == 5
    # λ is given in standardised units; the loss is taken in data units, so λ/s² reaches AEGAN
    assert algo.config["reconstruction_weight"] == pytest.approx(0.25 / ag.data.grid().scale ** 2)
    assert algo.encoder(torch.zeros(2, 2)).shape == (2, 5)
    assert [m.out_features for m in algo.generator.modules() if isinstance(m, torch.nn.Linear)] == [32, 2]
    gan = make("gan", ag.data.digits(), generator_hidden=(20, 30), lr_d=1e-3)
    assert isinstance(gan, GAN) and gan.config["lr_d"] == 1e-3
    assert [m.out_features for m in gan.generator.modules() if isinstance(m, torch.nn.Linear)] == [20, 30, 64]


def test_images_of_28_by_28_get_convnets_and_tensors_are_accepted():
    images = torch.rand(32, 1, 28, 28) * 2 - 1
    algo = make("aegan", images)
    assert any(isinstance(m, torch.nn.Conv2d) for m in algo.discriminator.modules())
    assert algo.sample(2).shape == (2, 1, 28, 28)
    assert algo.data_range == (-1.0, 1.0)
    points = make("gan", torch.randn(100, 2))
    assert points.sample(3).shape == (3, 2)


@pytest.mark.parametrize("dataset, kind", [("grid", "points"), ("digits", "small_images")])
def test_the_default_lambda_is_the_one_chapter_4s_rule_chose(dataset, kind):
    """make("aegan")'s λ is what the comparison's rule picked on development seeds."""
    from aegan_lib import comparison
    from aegan_lib.algos.factory import KIND_DEFAULTS

    chosen = comparison.load(dataset).chosen
    assert chosen is not None, f"no λ chosen for {dataset} yet (python bench/compare.py select)"
    assert KIND_DEFAULTS[kind]["reconstruction_weight"] == chosen["reconstruction_weight"]


@pytest.mark.parametrize("method", ["aegan", "bigan", "latent_gan"])
def test_every_method_on_points_follows_chapter_2s_recipe(method):
    """Chapter 4 compares methods with the same widths, optimizer, schedule, batch and units."""
    from aegan_lib.algos.factory import GAN_POINTS_RECIPE as recipe
    grid = ag.data.grid()
    algo = make(method, grid)
    assert algo.batch_size == recipe["batch_size"] and algo.lr_schedule == recipe["lr_schedule"]
    assert algo.config["betas"] == list(recipe["betas"]) and algo.config["lr_g"] == recipe["lr"]
    widths = [m.out_features for m in algo.generator.modules() if isinstance(m, torch.nn.Linear)]
    assert widths[:-1] == list(recipe["hidden"])
    # standardised units: a code of the grid's corner point is the code of a standardised input
    encoder = algo.encoder
    corner = grid.means[:1]
    assert isinstance(encoder[0], ag.nets.Rescale)
    assert torch.allclose(encoder[0](corner), (corner - grid.center) / grid.scale)
    assert isinstance(algo.decoder[-1] if method == "latent_gan" else algo.generator[-1], ag.nets.Rescale)
