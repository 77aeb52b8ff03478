"""The figures in aegan_lib.viz: what each one draws, and clear errors for the wrong shapes."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from aegan_lib import data, viz


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_panels_wraps_rows_hides_the_unused_cells_and_fits_the_column():
    fig, axes = viz.panels(5, ncols=3, panel_height=2.0)
    assert len(axes) == 5 and len(fig.axes) == 6 and not fig.axes[5].get_visible()
    assert tuple(fig.get_size_inches()) == pytest.approx((viz.COLUMN_INCHES, 4.0))
    assert [ax.get_subplotspec().colspan.start for ax in axes] == [0, 1, 2, 0, 1]
    fig, axes = viz.panels(2, ncols=4)
    assert len(fig.axes) == 2  # two panels never leave two empty cells
    with pytest.raises(ValueError, match="positive whole numbers"):
        viz.panels(0)


def test_image_grid_maps_minus_one_to_white_and_one_to_black():
    images = torch.stack([torch.full((1, 2, 2), -1.0), torch.full((1, 2, 2), 1.0)])
    fig = viz.image_grid(images, ncols=2, title="two")
    shown = fig.axes[0].images[0].get_array()
    # 2 images of 2×2 with 1-pixel separators: 3 + 2·2 = 7 wide, 1 + 2 + 1 = 4 tall.
    assert shown.shape == (4, 7)
    assert np.allclose(shown[1:3, 1:3], 0.0) and np.allclose(shown[1:3, 4:6], 1.0)
    assert fig.axes[0].get_title() == "two"


def test_image_grid_wraps_rows_and_rejects_flat_input():
    fig = viz.image_grid(torch.zeros(5, 1, 3, 3), ncols=2)
    assert fig.axes[0].images[0].get_array().shape == (3 * 4 + 1, 2 * 4 + 1)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        viz.image_grid(torch.zeros(5, 9))


def test_reconstructions_puts_inputs_above_outputs():
    x = torch.rand(12, 1, 4, 4) * 2 - 1
    fig = viz.reconstructions(x, -x, n=6)
    top, bottom = fig.axes
    assert (top.get_ylabel(), bottom.get_ylabel()) == ("input", "output")
    assert top.images[0].get_array().shape == (6, 6 * 5 + 1)


def test_loss_curves_draws_one_line_per_logged_loss():
    history = {"step": [10, 20, 30], "loss_d": [1.0, 0.9, 0.8], "loss_g": [0.7, 0.8, 0.9]}
    fig = viz.loss_curves(history, logy=True)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["loss_d", "loss_g"]
    assert list(ax.get_lines()[1].get_ydata()) == [0.7, 0.8, 0.9]
    assert ax.get_yscale() == "log"
    only_d = viz.loss_curves(history, keys=["loss_d"])
    assert len(only_d.axes[0].get_lines()) == 1


def test_latent_scatter_colours_by_class_and_needs_2d_codes():
    codes = torch.randn(30, 2)
    labels = torch.arange(30) % 3
    fig = viz.latent_scatter(codes, labels)
    legend = fig.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["0", "1", "2"]
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        viz.latent_scatter(torch.randn(30, 3), labels)


def test_samples_2d_marks_the_mode_means():
    ring = data.ring()
    fig = viz.samples_2d(ring.sample(100, generator=torch.Generator().manual_seed(0)), ring)
    ax = fig.axes[0]
    samples, means = ax.collections
    assert samples.get_offsets().shape == (100, 2)
    assert means.get_offsets().shape == (8, 2)
    assert ax.get_xlim() == pytest.approx((-1.5, 1.5))


def test_a_long_sample_title_is_wrapped_to_its_panel_so_the_figure_keeps_its_width():
    """Chapter 6's panels, three to a row, carry arm names longer than a panel is wide."""
    fig, axes = viz.panels(3, ncols=3)
    title = "Gaussian mixture on codes E(x), decoded (no GAN)\n(seed 100)"
    viz.samples_2d(torch.randn(50, 2), data.grid(), title=title, ax=axes[0], title_size=8)
    viz.samples_2d(torch.randn(50, 2), data.grid(), title="plain GAN", ax=axes[1])
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    wrapped = axes[0].title
    assert wrapped.get_text().split() == title.split() and wrapped.get_text().count("\n") >= 2
    assert wrapped.get_fontsize() == 8
    assert wrapped.get_window_extent(renderer).width <= axes[0].get_window_extent(renderer).width * 1.15
    assert axes[1].get_title() == "plain GAN"  # a short title is left as it is
    plt.close(fig)


def test_samples_over_training_has_one_panel_per_step_in_order():
    grid = data.grid()
    snapshots = {500: torch.randn(50, 2), 0: torch.randn(50, 2), 100: torch.randn(50, 2)}
    fig = viz.samples_over_training(snapshots, grid, title="grid")
    assert [ax.get_title() for ax in fig.axes] == ["step 0", "step 100", "step 500"]
    assert fig.axes[1].get_ylabel() == ""  # only the first panel repeats the axis label
    assert fig.axes[-1].get_legend() is not None
    with pytest.raises(ValueError, match="at least one"):
        viz.samples_over_training({})


def test_every_comparison_arm_has_its_own_colour_and_marker_whatever_the_order():
    from aegan_lib import comparison

    styles = [viz.arm_style(arm) for arm in viz.ARM_STYLES]
    assert len({s["color"] for s in styles}) == len({s["marker"] for s in styles}) == len(styles)
    for name in ("ring", "grid", "digits", "grid_confirm"):
        for arm in comparison.load(name).labels:
            assert arm in viz.ARM_STYLES, (name, arm)
    # An arm a reader adds gets a spare style no listed arm uses, the same one each time.
    spare = viz.arm_style("r1")
    assert spare == viz.arm_style("r1") and spare["color"] not in {s["color"] for s in styles}
    viz.arm_style("gan")["color"] = "red"  # a copy: the table itself is unchanged
    assert viz.ARM_STYLES["gan"]["color"] == "tab:blue"
    with pytest.raises(ValueError, match="arm's name"):
        viz.arm_style("")
