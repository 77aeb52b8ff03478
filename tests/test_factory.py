"""`make(method, data)` (chapter 5): every method builds from the data alone and trains a step."""

import warnings

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
    if method == "ae":
        x = data.sample(5) if isinstance(data, ag.data.GaussianMixture2D) else data.test.x[:5]
        assert algo.reconstruct(x).shape == x.shape
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the latent GAN warns: 3 steps leave its GAN untrained
            samples = algo.sample(5)
        assert samples.shape == (5, *data.shape)
    assert algo.device == torch.device("cpu")


@pytest.mark.parametrize("method,override", [("gan", "noise_dim"), ("gan", "encoder_hidden"),
                                             ("aegan", "noise_dim"), ("bigan", "latent_discriminator_hidden"),
                                             ("ae", "discriminator_hidden")])
def test_overrides_that_would_do_nothing_are_refused(method, override):
    with pytest.raises(ValueError, match=rf"make\('{method}'\) got \['{override}'\], which '{method}' does not use"):
        make(method, ag.data.ring(), **{override: 4 if override == "noise_dim" else (8,)})


def test_a_table_of_ten_features_gets_a_code_that_fits_it():
    table = torch.randn(100, 10)
    ag.seed_everything(0)
    algo = make("aegan", table)
    assert algo.config["latent_dim"] == 5  # not the 2-d code of the 2D mixtures
    assert algo.batch_size == 100  # no larger than the table
    history = ag.fit(algo, table, steps=4, progress=False, log_every=2)
    assert history["step"] == [2, 4]
    assert make("gan", ag.data.ring()).config["latent_dim"] == 2


def test_make_ae_builds_an_autoencoder_from_the_data():
    digits = ag.data.digits()
    ag.seed_everything(0)
    ae = make("ae", digits, latent_dim=8)
    assert isinstance(ae, ag.algos.AE) and ae.config["latent_dim"] == 8
    assert make("ae", digits, reconstruction="bce").data_range == (-1.0, 1.0)


def test_latent_gan_warns_when_sampling_an_untrained_gan():
    ring = ag.data.ring()
    ag.seed_everything(0)
    algo = make("latent_gan", ring, pretrain_steps=4, lr_schedule="constant")  # so a run can continue
    ag.fit(algo, ring, steps=4, batch_size=16, progress=False)
    with pytest.warns(UserWarning, match="its GAN is untrained"):
        algo.sample(3)
    ag.fit(algo, ring, steps=6, batch_size=16, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        algo.sample(3)  # trained past the pretraining: no warning


def test_unknown_method_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown method 'vaegan'; known methods: ae, gan, latent_gan, aegan"):
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
    """Chapter 6 compares methods with the same widths, optimizer, schedule, batch and units."""
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
