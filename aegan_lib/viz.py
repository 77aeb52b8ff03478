"""Figures: image grids, reconstructions, loss curves, latent scatters, 2D sample plots.

Every function draws on white (readable in the book's dark mode), labels its axes, and returns
the matplotlib Figure; end a notebook cell with `plt.show()`.

Taught in: chapter 1 (grids, reconstructions, latent scatter), chapter 2 (2D samples).
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch
from torch import Tensor


def _figure(width: float, height: float, ncols: int = 1, nrows: int = 1):
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), facecolor="white", squeeze=False)
    for ax in axes.flat:
        ax.set_facecolor("white")
    return fig, axes


def _grid_image(images: Tensor, ncols: int) -> Tensor:
    images = images.detach().float().cpu()
    if images.ndim != 4:
        raise ValueError(f"expected images shaped (N, C, H, W); got {tuple(images.shape)}")
    n, channels, height, width = images.shape
    nrows = math.ceil(n / ncols)
    canvas = torch.ones(channels, nrows * (height + 1) + 1, ncols * (width + 1) + 1)
    for index in range(n):
        row, col = divmod(index, ncols)
        top, left = 1 + row * (height + 1), 1 + col * (width + 1)
        canvas[:, top:top + height, left:left + width] = (images[index] + 1) / 2  # [-1, 1] → [0, 1]
    canvas = canvas.clamp(0, 1)
    return canvas[0] if channels == 1 else canvas.permute(1, 2, 0)


def image_grid(images: Tensor, ncols: int = 10, title: str | None = None, ax=None, scale: float = 0.5):
    """Show images in [-1, 1], shaped (N, C, H, W), as one grid (white lines between them)."""
    ncols = min(ncols, len(images))
    if ax is None:
        nrows = math.ceil(len(images) / ncols)
        fig, axes = _figure(scale * ncols + 0.2, scale * nrows + (0.4 if title else 0.1))
        ax = axes[0, 0]
    canvas = _grid_image(images, ncols)
    ax.imshow(canvas.numpy(), cmap="gray_r" if canvas.ndim == 2 else None, vmin=0, vmax=1,
              interpolation="nearest")
    ax.set_xticks([]), ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax.figure


def reconstructions(originals: Tensor, reconstructed: Tensor, n: int = 10, title: str | None = None):
    """Originals (top row) above their reconstructions (bottom row)."""
    n = min(n, len(originals))
    fig, axes = _figure(0.6 * n, 1.6, nrows=2)
    image_grid(originals[:n], ncols=n, ax=axes[0, 0])
    image_grid(reconstructed[:n], ncols=n, ax=axes[1, 0])
    axes[0, 0].set_ylabel("input", rotation=0, ha="right", va="center")
    axes[1, 0].set_ylabel("output", rotation=0, ha="right", va="center")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def loss_curves(history: dict, keys: list[str] | None = None, title: str | None = None,
                ax=None, logy: bool = False):
    """Plot logged losses against the training step."""
    keys = keys or [k for k in history if k != "step"]
    if ax is None:
        _, axes = _figure(6, 3.2)
        ax = axes[0, 0]
    for key in keys:
        ax.plot(history["step"], history[key], label=key)
    ax.set_xlabel("training step")
    ax.set_ylabel("loss (mean over the logging interval)")
    if logy:
        ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    return ax.figure


def latent_scatter(codes: Tensor, labels: Tensor, title: str | None = None, ax=None):
    """Scatter 2D codes coloured by class label, with a legend of the classes."""
    codes = codes.detach().float().cpu()
    labels = labels.detach().cpu()
    if codes.ndim != 2 or codes.shape[1] != 2:
        raise ValueError(f"expected 2D codes shaped (N, 2); got {tuple(codes.shape)}")
    if ax is None:
        _, axes = _figure(5, 4.5)
        ax = axes[0, 0]
    cmap = plt.get_cmap("tab10")
    for label in sorted(set(labels.tolist())):
        chosen = labels == label
        ax.scatter(codes[chosen, 0], codes[chosen, 1], s=6, color=cmap(label % 10), label=str(label), alpha=0.7)
    ax.set_xlabel("code dimension 1")
    ax.set_ylabel("code dimension 2")
    ax.legend(title="digit", markerscale=2, fontsize=8, bbox_to_anchor=(1.02, 1), loc="upper left")
    if title:
        ax.set_title(title)
    return ax.figure


def samples_2d(samples: Tensor, mixture=None, title: str | None = None, ax=None, limit: float | None = None):
    """Scatter 2D samples, with the mixture's mode means as crosses when given."""
    samples = samples.detach().float().cpu()
    if ax is None:
        _, axes = _figure(4, 4)
        ax = axes[0, 0]
    ax.scatter(samples[:, 0], samples[:, 1], s=3, alpha=0.4, color="tab:blue", label="samples")
    if mixture is not None:
        means = mixture.means.cpu()
        ax.scatter(means[:, 0], means[:, 1], marker="x", color="tab:red", s=30, label="mode means")
        if limit is None:
            limit = float(means.abs().max()) * 1.5
    if limit is not None:
        ax.set_xlim(-limit, limit), ax.set_ylim(-limit, limit)
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$"), ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title)
    return ax.figure
