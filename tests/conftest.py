"""Shared fixtures for the unit tests: tiny nets, cached datasets, checkpoint paths, comparisons.

Everything here is CPU-sized: nets with one small hidden layer so a test trains in milliseconds.
"""

from __future__ import annotations

import os

import pytest
import torch

import aegan_lib
from aegan_lib import algos, data, nets

os.environ.setdefault("MPLBACKEND", "Agg")
# One intra-op thread: the tests' nets are tiny, and on a busy 2-core machine OpenMP's spinning
# threads made each tiny GAN step ~300x slower (1 ms → 300 ms). Results do not depend on it.
torch.set_num_threads(1)

TINY = (16,)  # hidden widths of every tiny MLP used in tests


@pytest.fixture(scope="session")
def digits_data():
    """scikit-learn's digits, loaded once per session (the import and load take ~2 s)."""
    return data.digits()


@pytest.fixture
def ring_data():
    return data.ring()


@pytest.fixture
def checkpoint_path(tmp_path):
    """A checkpoint file path inside a fresh temp folder (the file does not exist yet)."""
    return tmp_path / "run" / "checkpoint.pt"


def _make_ae(data_shape=(2,), latent_dim=2, seed=0, hidden=TINY, **kwargs):
    aegan_lib.seed_everything(seed)
    return algos.AE(nets.encoder(data_shape, latent_dim, hidden=hidden),
                    nets.decoder(latent_dim, data_shape, hidden=hidden), **kwargs)


def _make_gan(data_shape=(2,), latent_dim=2, seed=0, hidden=TINY, **kwargs):
    aegan_lib.seed_everything(seed)
    return algos.GAN(nets.generator(latent_dim, data_shape, hidden=hidden),
                     nets.discriminator(data_shape, hidden=hidden), latent_dim, **kwargs)


@pytest.fixture
def make_ae():
    """make_ae(data_shape=(2,), latent_dim=2, seed=0, **AE kwargs): a tiny AE built after seeding."""
    return _make_ae


@pytest.fixture
def make_gan():
    """make_gan(data_shape=(2,), latent_dim=2, seed=0, **GAN kwargs): a tiny GAN built after seeding."""
    return _make_gan


def _assert_same(a, b, where="state"):
    """Recursively assert two nested dicts/lists of tensors and primitives are bit-identical."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor), f"{where}: tensor vs {type(b).__name__}"
        assert a.dtype == b.dtype and a.shape == b.shape, f"{where}: {a.dtype}{tuple(a.shape)} vs {b.dtype}{tuple(b.shape)}"
        assert torch.equal(a, b), f"{where}: tensors differ"
    elif isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{where}: keys {sorted(map(str, a))} vs {sorted(map(str, b))}"
        for key in a:
            _assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), f"{where}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


@pytest.fixture
def assert_same():
    """assert_same(a, b): nested dicts/lists of tensors are bit-identical (torch.equal)."""
    return _assert_same
