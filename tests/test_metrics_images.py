"""aegan_lib.metrics for images: the shipped digits classifier, the Fréchet distance, improved
precision/recall and `image_quality` (ENGINEERING.md pitfall 11: FD(x, x) ≈ 0, symmetric, grows
with noise and with dropped classes)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from aegan_lib import data, metrics


@pytest.fixture(scope="module")
def digits():
    return data.digits()


@pytest.fixture(scope="module")
def features(digits):
    """Classifier features of the train and test splits."""
    classifier = metrics.classifier_for(digits)
    with torch.no_grad():
        return classifier.features(digits.train.x), classifier.features(digits.test.x)


def _noisy(x: torch.Tensor, std: float, seed: int = 0) -> torch.Tensor:
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))
    return (x + std * noise).clamp(-1, 1)


# ------------------------------------------------------------------ the classifier


def test_shipped_digits_classifier_is_accurate_frozen_and_cached(digits):
    classifier = metrics.classifier_for("digits")
    assert metrics.classifier_accuracy(classifier, digits.test) > 0.95
    assert not classifier.training and not any(p.requires_grad for p in classifier.parameters())
    assert metrics.classifier_for(digits) is classifier  # cached: one load per device
    assert classifier.features(digits.test.x[:5]).shape == (5, classifier.feature_dim)
    assert classifier(digits.test.x[:5]).shape == (5, 10)
    state = torch.load(metrics.ASSETS / "digits_classifier.pt", weights_only=True)
    assert state["dataset"] == "digits" and state["test_accuracy"] > 0.95


def test_train_classifier_is_deterministic_and_leaves_the_global_rng_alone(digits):
    torch.manual_seed(123)
    before = torch.get_rng_state()
    first = metrics.train_classifier(digits, steps=150)
    assert torch.equal(torch.get_rng_state(), before)
    second = metrics.train_classifier(digits, steps=150)
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values()):
        assert torch.equal(a, b), name
    assert metrics.classifier_accuracy(first, digits.test) > 0.8  # learns quickly even in 150 steps


def test_classifier_save_load_round_trip(digits, tmp_path):
    classifier = metrics.classifier_for("digits")
    path = tmp_path / "classifier.pt"
    metrics.save_classifier(classifier, path, digits)
    loaded = metrics.load_classifier(path)
    for a, b in zip(classifier.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)


def test_classifier_for_bad_inputs():
    with pytest.raises(ValueError, match="no classifier for dataset 'ring'"):
        metrics.classifier_for("ring")
    with pytest.raises(TypeError, match="dataset name"):
        metrics.classifier_for(torch.zeros(3, 1, 8, 8))


# ------------------------------------------------------------------ Fréchet distance


def test_frechet_distance_matches_the_formula_for_diagonal_gaussians():
    # Diagonal covariances: FD = ‖μa − μb‖² + Σ (σa − σb)² over the dimensions.
    a = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0], [2.0, 4.0]])  # var (4/3, 16/3), mean (1, 2)
    b = torch.tensor([[1.0, 1.0], [3.0, 1.0], [1.0, 3.0], [3.0, 3.0]])  # var (4/3, 4/3), mean (2, 2)
    expected = 1.0 + (math.sqrt(16 / 3) - math.sqrt(4 / 3)) ** 2
    assert metrics.frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_of_a_set_with_itself_is_zero_and_is_symmetric(features):
    train, test = features
    assert metrics.frechet_distance(test, test) == pytest.approx(0.0, abs=1e-6)
    ab, ba = metrics.frechet_distance(train, test), metrics.frechet_distance(test, train)
    assert ab > 0.1 and ab == pytest.approx(ba, rel=1e-6)


def test_frechet_distance_grows_with_noise(digits, features):
    classifier = metrics.classifier_for(digits)
    train, test = features
    distances = [metrics.frechet_distance(test, train)]
    for std in (0.2, 0.5, 1.0):
        with torch.no_grad():
            distances.append(metrics.frechet_distance(classifier.features(_noisy(digits.test.x, std)), train))
    assert all(a < b for a, b in zip(distances, distances[1:])), distances
    assert distances[-1] > 10 * distances[0]


def test_frechet_distance_grows_when_classes_are_dropped(digits, features):
    train, test = features
    distances = [metrics.frechet_distance(test[digits.test.y < kept], train) for kept in (10, 7, 4, 1)]
    assert all(a < b for a, b in zip(distances, distances[1:])), distances


def test_frechet_distance_bad_inputs():
    with pytest.raises(ValueError, match="same width"):
        metrics.frechet_distance(torch.zeros(5, 3), torch.zeros(5, 4))
    with pytest.raises(ValueError, match=r"shaped \(n, d\) with n >= 2"):
        metrics.frechet_distance(torch.zeros(1, 3), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="NaN or Inf"):
        metrics.frechet_distance(torch.full((5, 3), float("nan")), torch.zeros(5, 3))


# ------------------------------------------------------------------ precision / recall


def test_precision_recall_by_hand():
    # Real points on a line 0..9: with k = 1 every ball has radius 1. A fake point at 4.5 is
    # inside real balls; one at 20 is not. The fake set (radius 15.5 with k = 1) covers 0..9.
    real = torch.arange(10.0).unsqueeze(1)
    fake = torch.tensor([[4.5], [20.0]])
    assert metrics.precision_recall(real, fake, k=1) == {"precision": 0.5, "recall": 1.0}


def test_real_data_scores_high_precision_and_recall(features):
    train, test = features
    scores = metrics.precision_recall(train, test, k=3)
    assert scores["precision"] > 0.85 and scores["recall"] > 0.85


def test_noise_lowers_precision(digits, features):
    classifier = metrics.classifier_for(digits)
    train, test = features
    with torch.no_grad():
        noisy = classifier.features(_noisy(digits.test.x, 1.0))
    assert metrics.precision_recall(train, noisy)["precision"] < 0.5 * metrics.precision_recall(train, test)["precision"]


def test_a_collapsed_set_keeps_precision_but_loses_recall(digits, features):
    train, test = features
    one_class = test[digits.test.y == 3]
    scores, real = metrics.precision_recall(train, one_class), metrics.precision_recall(train, test)
    assert scores["precision"] > 0.8
    assert scores["recall"] < 0.3 < real["recall"]


def test_precision_recall_bad_inputs():
    with pytest.raises(ValueError, match="0 < k <"):
        metrics.precision_recall(torch.zeros(5, 2), torch.zeros(3, 2), k=3)
    with pytest.raises(ValueError, match="same width"):
        metrics.precision_recall(torch.zeros(5, 2), torch.zeros(5, 3))


# ------------------------------------------------------------------ image_quality


def test_image_quality_of_real_test_images_is_at_the_floor(digits):
    scores = metrics.image_quality(digits.test.x, digits)
    assert scores["n"] == len(digits.test)
    assert scores["fd"] == pytest.approx(scores["fd_floor"])  # the test split *is* the floor's sample
    assert scores["classes"] == 10 and scores["kl"] < 0.05
    assert scores["precision"] > 0.85 and scores["recall"] > 0.85
    assert sum(scores["counts"]) == len(digits.test)


def test_image_quality_of_one_class_and_of_noise(digits):
    one_class = metrics.image_quality(digits.train.x[digits.train.y == 7], digits)
    assert one_class["classes"] == 1 and one_class["kl"] == pytest.approx(math.log(10), abs=0.15)
    assert one_class["recall"] < 0.3 and one_class["fd"] > 20 * one_class["fd_floor"]
    noise = metrics.image_quality(torch.rand(300, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1, digits)
    assert noise["precision"] < 0.1 and noise["fd"] > 20 * noise["fd_floor"]
    assert noise["fd_floor"] != one_class["fd_floor"]  # the floor uses as many real images as samples


def test_image_quality_n_and_bad_inputs(digits):
    assert metrics.image_quality(digits.test.x, digits, n=100)["n"] == 100
    with pytest.raises(ValueError, match=r"shaped \(N, 1, 8, 8\)"):
        metrics.image_quality(torch.zeros(50, 64), digits)
    with pytest.raises(ValueError, match=r"in \[-1, 1\]"):
        metrics.image_quality(digits.test.x * 3, digits)
    bad = digits.test.x.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN/Inf"):
        metrics.image_quality(bad, digits)
    with pytest.raises(ValueError, match="k=3 < n <= 359"):
        metrics.image_quality(digits.test.x, digits, n=1000)
    with pytest.raises(TypeError, match="float tensor"):
        metrics.image_quality(digits.test.y, digits)
    with pytest.raises(TypeError, match="ImageDataset"):
        metrics.image_quality(digits.test.x, "digits")


def test_classifier_for_trains_a_convnet_once_and_caches_it(digits, tmp_path, monkeypatch):
    # A stand-in for MNIST (no downloads in tests): digits upsampled to 16×16, named "mnist".
    def upsample(split):
        return data.Split(torch.nn.functional.interpolate(split.x, size=16, mode="nearest"), split.y)

    stand_in = data.ImageDataset("mnist", upsample(digits.train), upsample(digits.test), 10)
    monkeypatch.setattr(metrics.images, "CACHE", tmp_path)
    monkeypatch.setattr(metrics.images, "_CLASSIFIERS", {})
    monkeypatch.setattr(metrics.images, "CLASSIFIER_RECIPE", {"steps": 60, "batch_size": 64, "lr": 1e-3, "seed": 0})
    classifier = metrics.classifier_for(stand_in)
    assert isinstance(classifier.body[0], torch.nn.Conv2d) and classifier.feature_dim == 128
    cached = list(tmp_path.glob("mnist_*_classifier.pt"))
    assert len(cached) == 1
    assert metrics.classifier_accuracy(classifier, stand_in.test) > 0.5
    monkeypatch.setattr(metrics.images, "_CLASSIFIERS", {})  # a new session: loads the cached file, no training
    monkeypatch.setattr(metrics.images, "train_classifier", None)
    reloaded = metrics.classifier_for(stand_in)
    for a, b in zip(classifier.state_dict().values(), reloaded.state_dict().values()):
        assert torch.equal(a, b)
    scores = metrics.image_quality(stand_in.test.x[:100], stand_in)
    assert scores["fd"] == pytest.approx(scores["fd_floor"]) and scores["n"] == 100

    # Other images with the same name and shape (a subset here) never reuse that classifier.
    subset = data.ImageDataset("mnist", data.Split(stand_in.train.x[:500], stand_in.train.y[:500]), stand_in.test, 10)
    trained = []
    monkeypatch.setattr(metrics.images, "train_classifier", lambda dataset, **recipe: trained.append(dataset) or classifier)
    metrics.classifier_for(subset)
    assert trained == [subset], "a classifier cached for other data was reused"
    assert len(list(tmp_path.glob("mnist_*_classifier.pt"))) == 2

    # A cached file of another format (an older aegan_lib's) is stale: trained again, no error.
    torch.save({"format": -1, "data": metrics.images._fingerprint(stand_in)}, cached[0])
    monkeypatch.setattr(metrics.images, "_CLASSIFIERS", {})
    trained.clear()
    metrics.classifier_for(stand_in)
    assert trained == [stand_in]


def test_classifier_for_reads_the_shipped_file_once(monkeypatch):
    reads = []
    real_load = torch.load
    monkeypatch.setattr(metrics.images, "_CLASSIFIERS", {})
    monkeypatch.setattr(metrics.images.torch, "load", lambda *a, **k: reads.append(a[0]) or real_load(*a, **k))
    metrics.classifier_for("digits")
    assert [Path(path).name for path in reads] == ["digits_classifier.pt"]


def test_image_quality_takes_your_own_feature_extractor(digits):
    features = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 16))
    torch.manual_seed(0)
    scores = metrics.image_quality(digits.test.x[:200], digits, classifier=features)
    assert scores["fd"] == pytest.approx(scores["fd_floor"])
    assert scores["classes"] is None and scores["kl"] is None and scores["counts"] is None
    own = metrics.image_quality(torch.zeros(200, 1, 8, 8), digits, classifier=features)
    assert own["fd"] > scores["fd"]
    with pytest.raises(TypeError, match="callable mapping images to features"):
        metrics.image_quality(digits.test.x[:200], digits, classifier="resnet")
