"""Sample quality for images (digits, MNIST) from a small classifier trained on the real data.

`image_quality` scores samples with the features of `classifier_for(dataset)`: a Fréchet
distance (`frechet_distance`, printed beside its real-vs-real floor), improved precision and
recall (`precision_recall`), classes covered and KL(p̂(y) ‖ uniform) of the predicted labels.

Taught in: chapter 4, "Measuring image quality".
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import data as datasets
from .. import nets
from ..data import ImageDataset
from ..runtime import evaluating
from .points import kl_to_uniform


__all__ = [
    "CLASSIFIER_FORMAT", "ASSETS", "CACHE", "CLASSIFIER_RECIPE", "Classifier", "train_classifier",
    "classifier_accuracy", "save_classifier", "load_classifier", "classifier_for",
    "frechet_distance", "precision_recall", "COVERED_SHARE", "image_quality"
]


CLASSIFIER_FORMAT = 1
#: The digits classifier ships with the package, so Fréchet distances agree on every machine.
ASSETS = Path(__file__).resolve().parents[1] / "assets"
CACHE = Path(os.path.expanduser("~/.cache/aegan_lib"))
#: Training recipe of the classifiers (fixed: the same recipe gives the same net on one machine).
CLASSIFIER_RECIPE = {"steps": 2000, "batch_size": 128, "lr": 1e-3, "seed": 0}


class Classifier(nn.Module):
    """A small image classifier; `features(x)` is its penultimate layer, `forward(x)` the logits.

    8×8 images: an MLP (64 → 256 → 64 → classes). 28×28 and up: two strided convolutions and
    a 128-wide layer. Features are the ReLU outputs of the last hidden layer.

    Taught in: chapter 4, "Measuring image quality".
    """

    def __init__(self, image_shape, num_classes: int = 10):
        super().__init__()
        shape = tuple(int(s) for s in image_shape)
        if len(shape) != 3 or min(shape) <= 0:
            raise ValueError(f"expected image_shape (channels, height, width); got {image_shape!r}")
        channels, height, width = shape
        self.image_shape, self.num_classes = shape, int(num_classes)
        if nets.uses_convnets(shape):  # the same rule as the generators and critics
            self.feature_dim = 128
            self.body = nn.Sequential(
                nn.Conv2d(channels, 32, 3, stride=2, padding=1), nn.ReLU(),
                nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
                nn.Flatten(), nn.Linear(64 * (height // 4) * (width // 4), 128), nn.ReLU(),
            )
        else:
            self.feature_dim = 64
            self.body = nn.Sequential(nn.Flatten(), nn.Linear(channels * height * width, 256), nn.ReLU(),
                                      nn.Linear(256, 64), nn.ReLU())
        self.head = nn.Linear(self.feature_dim, self.num_classes)

    def features(self, x: Tensor) -> Tensor:
        """Penultimate-layer features, shaped (N, feature_dim)."""
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))


def train_classifier(dataset: ImageDataset, steps: int = CLASSIFIER_RECIPE["steps"],
                     batch_size: int = CLASSIFIER_RECIPE["batch_size"], lr: float = CLASSIFIER_RECIPE["lr"],
                     seed: int = CLASSIFIER_RECIPE["seed"], device=None) -> Classifier:
    """Train the feature classifier on `dataset.train`: seeded init and batch order, fixed steps.

    Deterministic on a given machine (the global RNG is left untouched). The shipped digits
    classifier was made with
    `save_classifier(train_classifier(data.digits()), "aegan_lib/assets/digits_classifier.pt", data.digits())`
    on a CPU (a few seconds), and the MNIST subset's the same way with `data.mnist_5k()` and
    "mnist_5k_classifier.pt" (about ten minutes on a 2-core CPU).

    Taught in: chapter 4, "Measuring image quality".
    """
    if not isinstance(dataset, ImageDataset):
        raise TypeError(f"expected an ImageDataset (data.digits(), data.mnist()); got {type(dataset).__name__}")
    if not isinstance(steps, int) or steps <= 0:
        raise ValueError(f"expected a positive int steps; got {steps!r}")
    device = torch.device(device) if device is not None else dataset.train.x.device
    with torch.random.fork_rng(devices=[]):  # seeded init without disturbing the caller's RNG
        torch.manual_seed(seed)
        model = Classifier(dataset.shape, dataset.num_classes)
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    images, labels = dataset.train.x.to(device), dataset.train.y.to(device)
    batches = datasets.BatchStream(images, batch_size, seed=seed)  # the batch order `fit` uses
    for _ in range(steps):
        rows = batches.next_rows()
        loss = F.cross_entropy(model(images[rows]), labels[rows])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    model.eval().requires_grad_(False)
    model.recipe = {"steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed}
    return model


def classifier_accuracy(classifier: Classifier, split) -> float:
    """Fraction of a split's images (e.g. `dataset.test`) the classifier labels correctly.

    Taught in: chapter 4, "Measuring image quality".
    """
    with evaluating(classifier):
        predictions = _batched(classifier, split.x.to(nets.device_of(classifier))).argmax(dim=1)
    return float((predictions == split.y.to(predictions.device)).float().mean())


def save_classifier(classifier: Classifier, path: str | os.PathLike, dataset: ImageDataset) -> None:
    """Write a classifier as tensors and primitives (loads with `weights_only=True`), atomically.

    Taught in: chapter 4, "Measuring image quality".
    """
    from ..checkpoint import save_atomic

    save_atomic({
        "format": CLASSIFIER_FORMAT, "dataset": dataset.name, "data": _fingerprint(dataset),
        "image_shape": list(classifier.image_shape),
        "num_classes": classifier.num_classes, "recipe": dict(getattr(classifier, "recipe", {})),
        "test_accuracy": classifier_accuracy(classifier, dataset.test), "torch": str(torch.__version__),
        "state_dict": {k: v.detach().cpu() for k, v in classifier.state_dict().items()},
    }, path)


def load_classifier(path: str | os.PathLike, device=None) -> Classifier:
    """Load a classifier written by `save_classifier` (no pickled code runs).

    Taught in: chapter 4, "Measuring image quality".
    """
    return _classifier_from(_read_classifier_file(path), device)


def _is_classifier_state(state) -> bool:
    return isinstance(state, dict) and state.get("format") == CLASSIFIER_FORMAT


def _read_classifier_file(path) -> dict:
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not _is_classifier_state(state):
        raise ValueError(f"{path} is not an aegan_lib classifier file of format {CLASSIFIER_FORMAT}")
    return state


def _classifier_from(state: dict, device) -> Classifier:
    model = Classifier(state["image_shape"], state["num_classes"])
    model.load_state_dict(state["state_dict"])
    model.recipe = dict(state.get("recipe", {}))
    return model.to(device).eval().requires_grad_(False)


_CLASSIFIERS: dict[tuple, Classifier] = {}


def _fingerprint(dataset: ImageDataset) -> dict:
    described = datasets.describe(dataset)
    return {"name": dataset.name, "shape": list(dataset.shape), "content_sha1": described["content_sha1"]}


def classifier_for(dataset: str | ImageDataset, device=None) -> Classifier:
    """The feature classifier of a dataset ("digits", "mnist", ... or the dataset itself), cached.

    Digits and the offline MNIST subset (`data.mnist_5k`): the classifiers shipped in
    `aegan_lib/assets` (identical everywhere). Others (MNIST, the full profile): trained with
    `train_classifier` on first use (seconds on a GPU) and cached in ~/.cache/aegan_lib. The
    model is frozen (no gradients) and in eval mode.

    The cache (in memory and on disk) is keyed by the data's name, image shape and a hash of
    its training images (`data.describe`), so a stand-in with MNIST's name and shape, or a
    subset, never reuses the classifier of another data set: a file whose recorded data differ
    is ignored and a new classifier is trained.

    Taught in: chapter 4, "Measuring image quality".
    """
    if isinstance(dataset, str):
        if dataset not in ("digits", "mnist", "mnist_5k", "fashion_mnist"):
            raise ValueError(f"no classifier for dataset {dataset!r}; expected 'digits', 'mnist', "
                             "'mnist_5k' or 'fashion_mnist', or pass the ImageDataset itself")
        dataset = datasets.load(dataset, device=device)
    elif not isinstance(dataset, ImageDataset):
        raise TypeError("expected a dataset name ('digits', 'mnist', 'fashion_mnist') or an ImageDataset; "
                        f"got {type(dataset).__name__}")
    if device is None:
        device = dataset.train.x.device
    fingerprint = _fingerprint(dataset)
    key = (fingerprint["name"], tuple(fingerprint["shape"]), fingerprint["content_sha1"], str(torch.device(device)))
    if key not in _CLASSIFIERS:
        cached = CACHE / f"{dataset.name}_{fingerprint['content_sha1'][:12]}_classifier.pt"
        for path in (ASSETS / f"{dataset.name}_classifier.pt", cached):
            # One read per file: the recorded data decide, then the same bytes build the model.
            # A file of another format (an older aegan_lib's cache) is stale: train a new one.
            state = torch.load(path, map_location="cpu", weights_only=True) if path.exists() else None
            if _is_classifier_state(state) and state.get("data") == fingerprint:
                _CLASSIFIERS[key] = _classifier_from(state, device)
                break
        else:
            model = train_classifier(dataset, device=device, **CLASSIFIER_RECIPE)
            save_classifier(model, cached, dataset)
            _CLASSIFIERS[key] = model
    return _CLASSIFIERS[key]


def _batched(function, x: Tensor, batch_size: int = 4096) -> Tensor:
    return torch.cat([function(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])


def _check_features(features, what: str) -> Tensor:
    features = torch.as_tensor(features).detach()
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"expected {what} shaped (n, d) with n >= 2; got shape {tuple(features.shape)}")
    if not torch.isfinite(features).all():
        raise ValueError(f"{what} contain NaN or Inf")
    return features


def frechet_distance(features_a: Tensor, features_b: Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets, in float64.

    ‖μa − μb‖² + Tr(Σa + Σb − 2 (Σa Σb)^½), with Tr (Σa Σb)^½ = Σ √λ over the eigenvalues λ of
    the symmetric matrix Σa^½ Σb Σa^½ (same spectrum as Σa Σb). Clamped at 0: rounding can
    make FD(x, x) print as −1e-13. Biased upwards for small n: compare with a real-vs-real floor.

    Taught in: chapter 4, "Measuring image quality".
    """
    a = _check_features(features_a, "features_a").to("cpu", torch.float64)
    b = _check_features(features_b, "features_b").to("cpu", torch.float64)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"expected features of the same width; got {a.shape[1]} and {b.shape[1]}")
    mean_a, mean_b = a.mean(dim=0), b.mean(dim=0)
    cov_a, cov_b = torch.cov(a.T).reshape(a.shape[1], -1), torch.cov(b.T).reshape(b.shape[1], -1)
    eigenvalues, eigenvectors = torch.linalg.eigh(cov_a)
    sqrt_a = eigenvectors @ torch.diag(eigenvalues.clamp(min=0).sqrt()) @ eigenvectors.T
    middle = sqrt_a @ cov_b @ sqrt_a
    trace_sqrt = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    distance = (mean_a - mean_b).pow(2).sum() + cov_a.trace() + cov_b.trace() - 2 * trace_sqrt
    return max(float(distance), 0.0)


def _kth_neighbour_radii(features: Tensor, k: int) -> Tensor:
    # Column 0 of each sorted row is the point itself (distance 0), so column k is the k-th neighbour.
    return _batched(lambda rows: torch.cdist(rows, features, compute_mode="donot_use_mm_for_euclid_dist")
                    .kthvalue(k + 1, dim=1).values, features, batch_size=1024)


def _inside_any_ball(points: Tensor, centres: Tensor, radii: Tensor) -> Tensor:
    return _batched(lambda rows: (torch.cdist(rows, centres, compute_mode="donot_use_mm_for_euclid_dist")
                                  <= radii).any(dim=1), points, batch_size=1024)


def precision_recall(real_features: Tensor, fake_features: Tensor, k: int = 3) -> dict:
    """Improved precision and recall (Kynkäänniemi et al. 2019) with k-nearest-neighbour balls.

    Each point's ball reaches its k-th nearest neighbour within its own set. Precision is the
    fraction of fake points inside at least one real ball (are samples realistic?); recall the
    fraction of real points inside at least one fake ball (is all of the data covered?).

    Returns:
        {"precision": float, "recall": float}, both in [0, 1].

    Taught in: chapter 4, "Measuring image quality".
    """
    real = _check_features(real_features, "real_features").float()
    fake = _check_features(fake_features, "fake_features").float().to(real.device)
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"expected features of the same width; got {real.shape[1]} and {fake.shape[1]}")
    if not isinstance(k, int) or not 0 < k < min(len(real), len(fake)):
        raise ValueError(f"expected an int k with 0 < k < the size of each set ({len(real)}, {len(fake)}); got {k!r}")
    precision = _inside_any_ball(fake, real, _kth_neighbour_radii(real, k)).float().mean()
    recall = _inside_any_ball(real, fake, _kth_neighbour_radii(fake, k)).float().mean()
    return {"precision": float(precision), "recall": float(recall)}


#: A class counts as covered when it receives at least this fraction of a uniform share of the
#: predicted labels (0.1 → at least 1% of the samples for 10 classes), so a few misclassified
#: samples of a collapsed generator do not count as covering a class.
COVERED_SHARE = 0.1


def _class_histogram(predictions: Tensor, num_classes: int) -> tuple[int, float, list[int]]:
    counts = torch.bincount(predictions, minlength=num_classes)
    p = counts.double() / counts.sum()
    covered = int((p >= COVERED_SHARE / num_classes).sum())
    return covered, kl_to_uniform(counts), [int(c) for c in counts.tolist()]


def image_quality(samples: Tensor, dataset: ImageDataset, n: int | None = None, k: int = 3,
                  classifier=None) -> dict:
    """Score generated images against a dataset with its feature classifier (`classifier_for`).

    `classifier` replaces it with your own: a `Classifier` (anything with `.features(x)` and
    `.head(features)`), or any callable mapping images (N, C, H, W) to features (N, d), such as
    a pretrained network cut before its last layer; with a plain callable there are no class
    predictions, so "classes", "kl" and "counts" are None.

    The reference is the dataset's whole training split. The first `n` samples are scored
    (default: as many as there are samples, at most the test split's size). The *floor* is the
    same score for `n` held-out real images (the first `n` of the test split) against the same
    reference: what a perfect generator would get with this `n`. Print it beside every score.

    Returns a dict of Python numbers:
        "fd": Fréchet distance of the classifier features (`frechet_distance`); "fd_floor";
        "precision", "recall" (`precision_recall` with k) and "precision_floor", "recall_floor";
        "classes": classes covered, i.e. predicted for at least 1% of the samples (a tenth of
        the uniform share, `COVERED_SHARE`); "kl": KL(p̂(y) ‖ uniform) of the predicted labels,
        0 for balanced samples, log 10 ≈ 2.30 when all are one class; "counts": predicted labels
        per class; "n": the number of samples scored.

    Taught in: chapter 4, "Measuring image quality".
    """
    if not isinstance(dataset, ImageDataset):
        raise TypeError(f"expected an ImageDataset (data.digits(), data.mnist()); got {type(dataset).__name__}")
    if not isinstance(samples, Tensor) or not torch.is_floating_point(samples):
        raise TypeError(f"expected samples as a float tensor shaped (N, {', '.join(map(str, dataset.shape))}); "
                        f"got {type(samples).__name__} {getattr(samples, 'dtype', '')}")
    if tuple(samples.shape[1:]) != dataset.shape or samples.ndim != 4:
        raise ValueError(f"expected samples shaped (N, {', '.join(map(str, dataset.shape))}) like {dataset.name}'s "
                         f"images; got {tuple(samples.shape)}")
    limit = min(len(samples), len(dataset.test))
    n = limit if n is None else n
    if not isinstance(n, int) or not k < n <= limit:
        raise ValueError(f"expected an int n with k={k} < n <= {limit} (the number of samples, at most the "
                         f"{len(dataset.test)} test images that give the real-vs-real floor); got {n!r}")
    device = dataset.train.x.device
    samples = samples.detach()[:n].to(device=device, dtype=torch.float32)
    datasets.check_finite(samples, "samples")
    datasets.check_range(samples, -1.0, 1.0, what="samples")

    if classifier is None:
        classifier = classifier_for(dataset, device=device)
    features = getattr(classifier, "features", classifier)
    if not callable(features):
        raise TypeError("expected classifier to be a Classifier (with .features and .head) or a callable "
                        f"mapping images to features; got {type(classifier).__name__}")
    modules = [classifier] if isinstance(classifier, torch.nn.Module) else []
    with evaluating(*modules):
        reference = _check_features(_batched(features, dataset.train.x), "the classifier's features")
        held_out = _batched(features, dataset.test.x[:n])
        fake = _batched(features, samples)
        head = getattr(classifier, "head", None)
        predictions = head(fake).argmax(dim=1) if head is not None else None
    if predictions is not None:
        classes, kl, counts = _class_histogram(predictions, dataset.num_classes)
    else:
        classes = kl = counts = None
    scores = precision_recall(reference, fake, k)
    floors = precision_recall(reference, held_out, k)
    return {
        "fd": frechet_distance(fake, reference), "fd_floor": frechet_distance(held_out, reference),
        "precision": scores["precision"], "recall": scores["recall"],
        "precision_floor": floors["precision"], "recall_floor": floors["recall"],
        "classes": classes, "kl": kl, "counts": counts, "n": n,
    }
