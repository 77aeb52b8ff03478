"""Interactive explorers for Jupyter and Colab (ipywidgets).

ipywidgets is imported inside each function, so `import aegan_lib` never needs it. Every
explorer has a static twin in `aegan_lib.viz` for the HTML book, where no kernel runs:
`latent_explorer` ↔ `viz.decoded_grid`.

Taught in: chapter 1, "Exploring the latent space".
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import torch

from .viz import _decode_images, _latent_size, _value_ranges


__all__ = ["decoded_image", "latent_explorer"]


def decoded_image(decoder_or_ae, code: Sequence[float] | torch.Tensor) -> np.ndarray:
    """The picture one code decodes to, as a NumPy array in [0, 1] (H×W, or H×W×C for colour).

    This is what `latent_explorer` shows; 1 is ink (drawn dark), 0 is background.

    Taught in: chapter 1, "Exploring the latent space".
    """
    codes = torch.as_tensor(code, dtype=torch.float32).reshape(1, -1)
    image = (_decode_images(decoder_or_ae, codes)[0].cpu() + 1) / 2  # [-1, 1] → [0, 1]
    return image[0].numpy() if image.shape[0] == 1 else image.permute(1, 2, 0).numpy()


def _png(array: np.ndarray, scale: int) -> bytes:
    import matplotlib.pyplot as plt

    # Nearest-neighbour upscaling, so an 8×8 digit shows as crisp blocks rather than a blur.
    big = array.repeat(scale, axis=0).repeat(scale, axis=1)
    buffer = io.BytesIO()
    plt.imsave(buffer, big, cmap="gray_r", vmin=0.0, vmax=1.0, format="png")
    return buffer.getvalue()


def latent_explorer(decoder_or_ae, latent_dim: int | None = None, value_range=(-3.0, 3.0),
                    initial: Sequence[float] | None = None, step: float | None = None,
                    size: int = 160):
    """One slider per latent dimension and the image the decoder makes from those values.

    Args:
        decoder_or_ae: an autoencoder (`algos.AE`: its `decode` is used), a GAN (its generator)
            or a decoder `nn.Module` that maps codes (N, latent_dim) to images (N, C, H, W).
        latent_dim: the code size; read from the model when left out. A value that disagrees
            with the model raises a ValueError.
        value_range: one (low, high) pair for every slider, or one pair per latent dimension
            (e.g. the spread of the encoder's codes on the training set).
        initial: starting slider values (default: the middle of each range).
        step: slider resolution (default: 1/100 of each range).
        size: width of the shown image in screen pixels.

    Returns:
        An `ipywidgets.HBox` (sliders | image). For tests and scripting it also carries
        `.sliders` (the FloatSliders), `.image` (the `ipywidgets.Image`), `.code()` (the current
        slider values) and `.current_image()` (the shown picture, from `decoded_image`).

    Taught in: chapter 1, "Exploring the latent space".
    """
    known = _latent_size(decoder_or_ae)
    if latent_dim is None:
        if known is None:
            raise ValueError("could not tell the latent size of this decoder (its first layer is not "
                             "Linear); pass latent_dim=... explicitly")
        latent_dim = known
    if not isinstance(latent_dim, int) or isinstance(latent_dim, bool) or latent_dim <= 0:
        raise ValueError(f"expected a positive int latent_dim; got {latent_dim!r}")
    if known is not None and known != latent_dim:
        raise ValueError(f"latent_dim={latent_dim}, but this decoder takes {known}-dimensional codes; "
                         f"leave latent_dim out (or pass {known})")
    ranges = _value_ranges(value_range, latent_dim)
    if initial is None:
        initial = [(low + high) / 2 for low, high in ranges]
    initial = [float(v) for v in initial]
    if len(initial) != latent_dim:
        raise ValueError(f"expected {latent_dim} initial values, one per slider; got {len(initial)}")

    first = decoded_image(decoder_or_ae, initial)  # fails early, and clearly, on a non-image decoder
    height, width = first.shape[:2]
    scale = max(1, round(size / max(height, width)))

    try:
        import ipywidgets as widgets
    except ImportError as error:
        raise ImportError("latent_explorer needs ipywidgets: pip install ipywidgets "
                          "(Colab and JupyterLab already have it)") from error

    sliders = [
        widgets.FloatSlider(value=min(max(value, low), high), min=low, max=high,
                            step=step or (high - low) / 100, description=f"z{i + 1}",
                            continuous_update=True, readout_format=".2f")
        for i, (value, (low, high)) in enumerate(zip(initial, ranges))
    ]
    image = widgets.Image(format="png", width=scale * width, height=scale * height)
    shown = {"array": first}

    def code() -> list[float]:
        return [slider.value for slider in sliders]

    def redraw(_change=None) -> None:
        shown["array"] = decoded_image(decoder_or_ae, code())
        image.value = _png(shown["array"], scale)

    for slider in sliders:
        slider.observe(redraw, names="value")
    redraw()

    explorer = widgets.HBox([widgets.VBox(sliders), image])
    explorer.sliders = sliders
    explorer.image = image
    explorer.code = code
    explorer.current_image = lambda: shown["array"]
    return explorer
