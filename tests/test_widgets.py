"""The latent explorer (aegan_lib.widgets) and its static twin (viz.decoded_grid)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

import aegan_lib
from aegan_lib import viz, widgets

pytest.importorskip("ipywidgets")


def tiny_decoder(latent_dim=2):
    """Codes (N, latent_dim) → 4×4 images in [-1, 1]."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(latent_dim, 16), nn.Tanh(), nn.Unflatten(1, (1, 4, 4)))


def test_moving_a_slider_changes_the_shown_image():
    decoder = tiny_decoder()
    explorer = widgets.latent_explorer(decoder, value_range=(-3, 3))
    assert len(explorer.sliders) == 2
    assert explorer.code() == [0.0, 0.0]
    before, png_before = explorer.current_image().copy(), explorer.image.value
    assert before.shape == (4, 4) and 0.0 <= before.min() and before.max() <= 1.0

    explorer.sliders[0].value = 2.5
    after = explorer.current_image()
    assert explorer.code() == [2.5, 0.0]
    assert not np.allclose(before, after)
    assert explorer.image.value != png_before  # the widget's PNG was redrawn too
    # What it shows is exactly the decoder's output for the slider values, mapped to [0, 1].
    expected = (decoder(torch.tensor([[2.5, 0.0]]))[0, 0] + 1) / 2
    np.testing.assert_allclose(after, expected.detach().numpy(), atol=1e-6)


def test_explorer_accepts_an_autoencoder_and_per_dimension_ranges(make_ae):
    ae = make_ae(data_shape=(1, 8, 8), latent_dim=3)
    explorer = widgets.latent_explorer(ae, value_range=[(-1, 1), (0, 4), (-2, 0)])
    assert [(s.min, s.max) for s in explorer.sliders] == [(-1, 1), (0, 4), (-2, 0)]
    assert explorer.code() == [0.0, 2.0, -1.0]  # the middle of each range
    assert explorer.current_image().shape == (8, 8)


def test_wrong_latent_dim_is_a_clear_error():
    with pytest.raises(ValueError, match=r"latent_dim=3, but this decoder takes 2-dimensional codes"):
        widgets.latent_explorer(tiny_decoder(2), latent_dim=3)


def test_other_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="one .low, high. pair or 2 pairs"):
        widgets.latent_explorer(tiny_decoder(), value_range=[(-1, 1)] * 3)
    with pytest.raises(ValueError, match="low < high"):
        widgets.latent_explorer(tiny_decoder(), value_range=(3, -3))
    with pytest.raises(ValueError, match="images shaped"):
        widgets.latent_explorer(nn.Linear(2, 2))  # a 2D-point generator: nothing to show as an image


def test_decoded_grid_lays_out_the_same_images():
    decoder = tiny_decoder()
    fig = viz.decoded_grid(decoder, value_range=(-2, 2), steps=3)
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == ["-2", "0", "2"]
    assert fig.axes[0].get_xlabel() == "code dimension 1"
    # The top-left cell is code (-2, +2): left = low dim 1, top = high dim 2.
    canvas = fig.axes[0].get_images()[0].get_array()
    top_left = np.asarray(canvas[1:5, 1:5])
    np.testing.assert_allclose(top_left, widgets.decoded_image(decoder, [-2.0, 2.0]), atol=1e-6)


def test_importing_aegan_lib_does_not_import_ipywidgets():
    code = "import sys, aegan_lib, aegan_lib.widgets; print('ipywidgets' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
    assert hasattr(aegan_lib, "widgets")


def test_image_rows_labels_one_row_per_entry():
    images = torch.rand(12, 1, 4, 4) * 2 - 1
    fig = viz.image_rows({"clean": images, "noisy": images.flip(0)}, n=5)
    assert [ax.get_ylabel() for ax in fig.axes] == ["clean", "noisy"]
    with pytest.raises(ValueError, match="at least one row"):
        viz.image_rows({})
