"""Figures: image grids, reconstructions, loss curves, latent scatters, 2D sample plots.

Every function draws on white (readable in the book's dark mode), labels its axes, and returns
the matplotlib Figure; end a notebook cell with `plt.show()`.

Taught in: chapter 1 (grids, reconstructions, latent scatter), chapter 2 (2D samples).
"""

from __future__ import annotations

import math
import textwrap
import zlib

import matplotlib.pyplot as plt
from matplotlib.font_manager import FontProperties
import torch
from torch import Tensor


__all__ = [
    "COLUMN_INCHES", "book_style", "image_grid", "reconstructions", "loss_curves", "latent_scatter", "samples_2d",
    "samples_over_training", "image_rows", "decoded_grid", "panels", "ARM_STYLES", "arm_style"
]


# The book's text column is 688 px wide at a laptop's width; at matplotlib's 100 dpi a figure
# up to this many inches wide is shown at its own size (wider ones are scaled down, and their
# ticks and legends with them).
COLUMN_INCHES = 6.8

# Sizes in points at 100 dpi: 9 pt is 12.5 px on the page, the size of a figure caption.
BOOK_RC = {
    "figure.dpi": 100,
    "figure.figsize": (COLUMN_INCHES, 3.4),
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
}


# One colour and one marker per arm of chapter 6's comparison (`aegan_lib.comparison`, arms
# named as in bench/compare.py), fixed so that an arm looks the same in every figure, and keeps
# its look when another arm joins a results file (colours from the default cycle would shift).
ARM_STYLES = {
    "gan": {"color": "tab:blue", "marker": "o"},
    "pacgan2": {"color": "tab:orange", "marker": "s"},
    "placebo": {"color": "tab:green", "marker": "D"},
    "latent_gan": {"color": "tab:red", "marker": "^"},
    "recon": {"color": "tab:purple", "marker": "v"},
    "latent_critic": {"color": "tab:brown", "marker": "P"},
    "latent_recon": {"color": "tab:pink", "marker": "*"},
    "bigan": {"color": "tab:gray", "marker": "X"},
    "code_mixture": {"color": "tab:olive", "marker": "h"},
    "lazarou": {"color": "tab:cyan", "marker": "<"},
}
# For arms a reader adds (chapter 6's exercise): none of these is used above, nor black, which
# chapter 6 keeps for reference lines and the goal.
_SPARE_STYLES = [{"color": "gold", "marker": "d"}, {"color": "teal", "marker": "p"},
                 {"color": "navy", "marker": ">"}, {"color": "magenta", "marker": "H"}]


def arm_style(arm: str) -> dict:
    """The colour and marker of a comparison arm, as keyword arguments for `plot`/`scatter`.

    Arms in `ARM_STYLES` get their own; any other arm gets one of a few spare styles, the same
    one in every figure and every session (chosen by a checksum of its name, not by order).

    Taught in: chapter 6 (its figures of every arm).
    """
    if not isinstance(arm, str) or not arm:
        raise ValueError(f"expected an arm's name, a non-empty string such as 'gan'; got {arm!r}")
    style = ARM_STYLES.get(arm) or _SPARE_STYLES[zlib.crc32(arm.encode()) % len(_SPARE_STYLES)]
    return dict(style)


def book_style(retina: bool = True) -> None:
    """Figures sized and typed for the book's text column, drawn at 2× density in notebooks.

    Call once in a notebook's set-up cell. Outside IPython only the sizes are set.
    """
    plt.rcParams.update(BOOK_RC)
    if retina:
        try:
            from matplotlib_inline.backend_inline import set_matplotlib_formats
        except ImportError:   # plain Python: no inline backend to configure
            return
        set_matplotlib_formats("retina")


def _figure(width: float, height: float, ncols: int = 1, nrows: int = 1):
    if width > COLUMN_INCHES:   # keep the proportions, fit the column
        width, height = COLUMN_INCHES, height * COLUMN_INCHES / width
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), facecolor="white", squeeze=False)
    for ax in axes.flat:
        ax.set_facecolor("white")
    return fig, axes


def panels(n: int, ncols: int = 3, panel_height: float = 2.6):
    """A figure the width of the text column with `n` panels, `ncols` to a row (fewer when
    n is smaller); returns (figure, list of the n axes). Unused cells of the last row are hidden.

    Taught in: chapter 6 (one panel per arm of the comparison).
    """
    if not (isinstance(n, int) and n >= 1 and isinstance(ncols, int) and ncols >= 1):
        raise ValueError(f"expected positive whole numbers of panels and columns; got n={n!r}, ncols={ncols!r}")
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = _figure(COLUMN_INCHES, panel_height * nrows, ncols=ncols, nrows=nrows)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def _grid_image(images: Tensor, ncols: int) -> Tensor:
    images = images.detach().float().cpu()
    if images.ndim != 4:
        raise ValueError(f"expected images shaped (N, C, H, W); got {tuple(images.shape)}")
    n, channels, height, width = images.shape
    nrows = math.ceil(n / ncols)
    # Grey images are drawn with gray_r (0 = white), colour ones as RGB (1 = white): either way
    # the lines between images come out white.
    canvas = torch.full((channels, nrows * (height + 1) + 1, ncols * (width + 1) + 1),
                        0.0 if channels == 1 else 1.0)
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


def samples_2d(samples: Tensor, mixture=None, title: str | None = None, ax=None, limit: float | None = None,
               title_size: float | None = None):
    """Scatter 2D samples, with the mixture's mode means as crosses when given.

    A title too long for the panel is wrapped at word breaks to the panel's width (at
    `title_size` points, default the style's), so that a row of small panels keeps the figure
    the width of the text column.
    """
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
        size = title_size if title_size is not None else plt.rcParams["axes.titlesize"]
        ax.set_title(_wrapped_to_panel(title, ax, size), fontsize=size)
    return ax.figure


def _wrapped_to_panel(text: str, ax, size) -> str:
    """`text` with each line wrapped to the width of `ax` in characters of `size` points (a
    character of the default sans-serif font is about 0.55 of its size wide on average), into
    lines of even length: as few lines as the width allows, then the narrowest such wrapping,
    so that no line is left with a word or two."""
    points = FontProperties(size=size).get_size_in_points()
    width = ax.get_position().width * ax.figure.get_figwidth() * 72
    characters = max(8, int(width / (0.55 * points)))
    whole_words = {"break_long_words": False, "break_on_hyphens": False}
    wrapped = []
    for line in text.split("\n"):
        lines = len(textwrap.wrap(line, characters, **whole_words)) or 1
        even = next(w for w in range(1, characters + 1) if len(textwrap.wrap(line, w, **whole_words)) <= lines)
        wrapped.append(textwrap.fill(line, even, **whole_words) if lines > 1 else line)
    return "\n".join(wrapped)


def samples_over_training(snapshots: dict, mixture=None, title: str | None = None, limit: float | None = None):
    """One `samples_2d` panel per training step, left to right: {step: samples (N, 2)}.

    Pass samples of the same fixed noise batch at every step, so the panels show how the
    generator moved rather than a fresh random draw.

    Taught in: chapter 2, "The library's GAN".
    """
    if not snapshots:
        raise ValueError("expected at least one {step: samples} entry")
    steps = sorted(snapshots)
    fig, axes = _figure(2.6 * len(steps) + 1.2, 2.9, ncols=len(steps))
    for ax, step in zip(axes[0], steps):
        samples_2d(snapshots[step], mixture, title=f"step {step}", ax=ax, limit=limit)
        if ax is not axes[0, 0]:
            ax.set_ylabel("")
    # One legend, right of the last panel, where it covers no mode markers.
    axes[0, -1].legend(loc="center left", bbox_to_anchor=(1.03, 0.5), fontsize=8, markerscale=2)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def image_rows(rows: dict, n: int = 10, title: str | None = None):
    """One labelled row of images per entry: {"clean": x, "noisy": x_noisy, "denoised": ...}.

    Taught in: chapter 1, "One reconstruction loss" and "Denoising".
    """
    if not rows:
        raise ValueError("expected at least one row: a dict of label → images (N, C, H, W)")
    n = min([n] + [len(images) for images in rows.values()])
    fig, axes = _figure(0.6 * n + 1.0, 0.75 * len(rows) + (0.4 if title else 0.1), nrows=len(rows))
    for ax, (label, images) in zip(axes[:, 0], rows.items()):
        image_grid(images[:n], ncols=n, ax=ax)
        ax.set_ylabel(label, rotation=0, ha="right", va="center")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


# --- Decoding codes into pictures (shared with aegan_lib.widgets.latent_explorer) -----------

def _latent_size(decoder_or_ae) -> int | None:
    """The code size an autoencoder, a GAN or a decoder net takes (None when it cannot tell)."""
    from torch import nn

    from . import nets

    config = getattr(decoder_or_ae, "config", None)
    if isinstance(config, dict) and isinstance(config.get("latent_dim"), int):
        return config["latent_dim"]
    if isinstance(getattr(decoder_or_ae, "latent_dim", None), int):
        return decoder_or_ae.latent_dim
    for name in ("decoder", "generator"):
        if isinstance(getattr(decoder_or_ae, name, None), nn.Module):
            return nets.input_features(getattr(decoder_or_ae, name))
    if isinstance(decoder_or_ae, nn.Module):
        return nets.input_features(decoder_or_ae)
    return None


def _decode_images(decoder_or_ae, codes: Tensor) -> Tensor:
    """Images in [-1, 1], shaped (N, C, H, W), for codes (N, latent_dim).

    Uses the object's `decode` when it has one (an AE: also right for a BCE decoder), else its
    generator or the net itself, in eval mode without gradients.
    """
    from torch import nn

    from .runtime import evaluating

    decode = getattr(decoder_or_ae, "decode", None)
    if callable(decode):
        net = decoder_or_ae
    else:
        net = getattr(decoder_or_ae, "generator", decoder_or_ae)
        if not isinstance(net, nn.Module):
            raise TypeError("expected an autoencoder (with .decode), a GAN (with .generator) or a decoder "
                            f"nn.Module; got {type(decoder_or_ae).__name__}")
        decode = net
    parameter = next(net.parameters(), None)
    codes = codes.to(parameter.device if parameter is not None else codes.device)
    with evaluating(net):
        images = decode(codes)
    if images.ndim != 4:
        raise ValueError(f"expected the decoder to output images shaped (N, C, H, W); got shape "
                         f"{tuple(images.shape)} (for 2D points, plot with viz.samples_2d instead)")
    return images.detach().float().clamp(-1, 1)


def _value_ranges(value_range, latent_dim: int) -> list[tuple[float, float]]:
    """One (low, high) pair per latent dimension, from one pair or a list of pairs."""
    def pair(item):
        low, high = (float(v) for v in item)
        if not low < high:
            raise ValueError(f"expected each value range as (low, high) with low < high; got {tuple(item)}")
        return low, high

    items = list(value_range)
    if len(items) == 2 and all(isinstance(v, (int, float)) for v in items):
        return [pair(items)] * latent_dim
    if len(items) != latent_dim or not all(hasattr(v, "__len__") and len(v) == 2 for v in items):
        raise ValueError(f"expected value_range as one (low, high) pair or {latent_dim} pairs, one per "
                         f"latent dimension; got {value_range!r}")
    return [pair(v) for v in items]


def decoded_grid(decoder_or_ae, value_range=(-3.0, 3.0), steps: int = 9, dims: tuple[int, int] = (0, 1),
                 base=None, title: str | None = None, scale: float = 0.45):
    """Decode a steps × steps grid of codes that sweep two latent dimensions; show the images.

    Columns move `dims[0]` from low to high (left to right), rows move `dims[1]` from low to
    high (bottom to top); every other dimension stays at `base` (default: zeros). The static
    twin of `aegan_lib.widgets.latent_explorer`, for pages read without a running kernel.
    `value_range` is one (low, high) pair or one pair per latent dimension.

    Taught in: chapter 1, "Exploring the latent space".
    """
    latent_dim = _latent_size(decoder_or_ae)
    if latent_dim is None:
        raise ValueError("could not tell the latent size of this decoder (its first layer is not Linear)")
    if not isinstance(steps, int) or steps < 2:
        raise ValueError(f"expected an int steps >= 2; got {steps!r}")
    first, second = dims
    if not (0 <= first < latent_dim and 0 <= second < latent_dim and first != second):
        raise ValueError(f"expected two different dims in 0..{latent_dim - 1}; got {dims!r}")
    ranges = _value_ranges(value_range, latent_dim)
    codes = torch.zeros(steps, steps, latent_dim) if base is None else \
        torch.as_tensor(base, dtype=torch.float32).reshape(1, 1, latent_dim).repeat(steps, steps, 1)
    across = torch.linspace(*ranges[first], steps)
    up = torch.linspace(*ranges[second], steps)
    codes[:, :, first] = across.view(1, steps)
    codes[:, :, second] = up.flip(0).view(steps, 1)  # top row = highest value
    images = _decode_images(decoder_or_ae, codes.view(-1, latent_dim))
    _, channels, height, width = images.shape
    fig, axes = _figure(scale * steps + 1.2, scale * steps + (0.9 if title else 0.6))
    ax = axes[0, 0]
    image_grid(images, ncols=steps, ax=ax)
    centres_x = [1 + j * (width + 1) + (width - 1) / 2 for j in range(steps)]
    centres_y = [1 + i * (height + 1) + (height - 1) / 2 for i in range(steps)]
    every = max(1, steps // 5)
    ax.set_xticks(centres_x[::every], [f"{v:.2g}" for v in across.tolist()[::every]])
    ax.set_yticks(centres_y[::every], [f"{v:.2g}" for v in up.flip(0).tolist()[::every]])
    ax.set_xlabel(f"code dimension {first + 1}")
    ax.set_ylabel(f"code dimension {second + 1}")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
