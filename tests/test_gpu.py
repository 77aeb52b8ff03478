"""On a CUDA machine: every algorithm's step runs without a host sync, with fused Adam.

Skipped where there is no CUDA (CI is CPU-only); run `pytest tests/test_gpu.py` on a GPU
machine or Colab. `torch.cuda.set_sync_debug_mode("error")` turns any synchronising call inside
the step (`.item()`, `.tolist()`, a data-dependent branch on a tensor, a device-to-host copy)
into an error.
"""

from __future__ import annotations

import pytest
import torch

import aegan_lib
from aegan_lib import algos, data

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("method, dataset", [("gan", "ring"), ("aegan", "grid"), ("latent_gan", "digits"),
                                             ("gan", "digits"), ("aegan", "digits")])
def test_a_training_step_never_waits_for_the_gpu(method, dataset):
    device = torch.device("cuda")
    source = data.load(dataset, device)
    aegan_lib.seed_everything(0)
    overrides = {"pretrain_steps": 2} if method == "latent_gan" else {}
    algo = algos.make(method, source, **overrides)
    assert all(opt.defaults.get("fused") for opt in algo.optimizers.values())
    stream = data.BatchStream(source, 64, seed=0)
    batches = [stream.next() for _ in range(4)]  # drawn before: the stream may copy a permutation
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for batch in batches:  # pretraining and GAN phases of the latent GAN both run
            losses = algo.step(batch)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert all(value.device.type == "cuda" for value in losses.values())
    assert all(torch.isfinite(value).item() for value in losses.values())


@pytest.mark.parametrize("dataset", ["ring", "digits"])
def test_fit_trains_on_the_gpu_and_resumes(tmp_path, dataset):
    """fit loads checkpoints with map_location=cuda, which moves the saved RNG states to the GPU
    too; resuming must put them back on the CPU where generators keep them (a bug found here)."""
    device = torch.device("cuda")
    ring = data.load(dataset, device)
    aegan_lib.seed_everything(0)
    constant = {"lr_schedule": "constant"}  # 50 then 100 steps: a decaying schedule would differ
    gan = algos.make("gan", ring, **constant)
    path = tmp_path / "gan.pt"
    aegan_lib.fit(gan, ring, steps=50, checkpoint=path, progress=False)
    aegan_lib.seed_everything(1)
    fresh = algos.make("gan", ring, **constant)
    history = aegan_lib.fit(fresh, ring, steps=100, checkpoint=path, progress=False)
    assert history["step"][-1] == 100
    assert next(fresh.parameters()).device.type == "cuda"
    aegan_lib.seed_everything(0)
    uninterrupted = algos.make("gan", ring, **constant)
    aegan_lib.fit(uninterrupted, ring, steps=100, progress=False)
    for resumed, straight in zip(fresh.parameters(), uninterrupted.parameters()):
        assert torch.allclose(resumed, straight, atol=1e-5)  # GPU kernels may not be bit-exact run to run
