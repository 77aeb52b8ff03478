"""aegan_lib.runtime: seeding, device choice, profiles, and the evaluating() context."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from torch import nn

import aegan_lib
from aegan_lib import runtime


def _draws():
    return random.random(), float(np.random.rand()), torch.rand(3).tolist(), torch.randn(2).tolist()


def test_seed_everything_is_deterministic():
    aegan_lib.seed_everything(123)
    first = _draws()
    aegan_lib.seed_everything(123)
    assert _draws() == first
    aegan_lib.seed_everything(124)
    assert _draws() != first
    aegan_lib.seed_everything(2**40)  # larger than NumPy's 32-bit seed range still works


@pytest.mark.parametrize("bad", [-1, 1.5, "7", None])
def test_seed_everything_rejects_bad_seeds(bad):
    with pytest.raises(ValueError, match="non-negative int seed"):
        aegan_lib.seed_everything(bad)


def _no_accelerator(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


def test_pick_device_without_accelerators(monkeypatch):
    _no_accelerator(monkeypatch)
    assert aegan_lib.pick_device() == torch.device("cpu")
    assert aegan_lib.pick_device("cpu") == torch.device("cpu")
    for prefer in ("cuda", "cuda:1"):
        with pytest.raises(RuntimeError, match="no CUDA device"):
            aegan_lib.pick_device(prefer)
    with pytest.raises(RuntimeError, match="MPS is not available"):
        aegan_lib.pick_device("mps")


@pytest.mark.skipif(torch.cuda.is_available() or torch.backends.mps.is_available(), reason="has an accelerator")
def test_pick_device_here_is_cpu():
    assert aegan_lib.pick_device() == torch.device("cpu")
    with pytest.raises(RuntimeError):
        aegan_lib.pick_device("cuda")


def test_pick_device_prefers_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert aegan_lib.pick_device() == torch.device("cuda")


def test_resolve_profile(monkeypatch):
    _no_accelerator(monkeypatch)
    assert aegan_lib.resolve_profile("auto") == "quick"
    assert aegan_lib.resolve_profile(" Quick ") == "quick"
    with pytest.warns(UserWarning):
        assert aegan_lib.resolve_profile("full") == "full"
    monkeypatch.setenv("AEGAN_PROFILE", "full")
    with pytest.warns(UserWarning):
        assert aegan_lib.resolve_profile() == "full"
    monkeypatch.delenv("AEGAN_PROFILE")
    assert aegan_lib.resolve_profile() == "quick"  # unset → auto → no CUDA → quick
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert aegan_lib.resolve_profile("auto") == "full"


def test_full_profile_on_a_cpu_warns_and_says_how_long(monkeypatch, recwarn):
    _no_accelerator(monkeypatch)
    with pytest.warns(UserWarning, match=r"no GPU is visible.*about \d+ ms.*about \d+ minutes.*PROFILE = 'quick'"):
        aegan_lib.resolve_profile("full")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    recwarn.clear()
    assert aegan_lib.resolve_profile("full") == "full"
    assert not recwarn.list, "no warning where a GPU is present"


@pytest.mark.parametrize("bad", ["fast", "", "gpu"])
def test_resolve_profile_rejects_unknown_profiles(bad):
    with pytest.raises(ValueError, match="'auto', 'quick' or 'full'"):
        aegan_lib.resolve_profile(bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="has CUDA")
def test_resolve_auto_here_is_quick():
    assert aegan_lib.resolve_profile("auto") == "quick"


def test_evaluating_sets_eval_and_no_grad_then_restores():
    training, frozen_eval = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5)), nn.Linear(2, 2)
    frozen_eval.eval()
    x = torch.ones(1, 2, requires_grad=True)
    with aegan_lib.evaluating(training, frozen_eval):
        assert not training.training and not training[1].training and not frozen_eval.training
        assert not torch.is_grad_enabled()
        assert not training(x).requires_grad
    assert training.training and training[1].training  # back to training mode
    assert not frozen_eval.training  # and a net that was in eval mode stays there
    assert torch.is_grad_enabled()


def test_evaluating_restores_each_submodules_own_mode():
    """A training net holding a frozen part in eval mode (a LatentGAN's autoencoder)."""
    frozen = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5)).eval()
    net = nn.Sequential(nn.Linear(2, 2), frozen, nn.Dropout(0.5))
    assert net.training and not frozen.training and not frozen[1].training
    with aegan_lib.evaluating(net):
        assert not any(module.training for module in net.modules())
    assert net.training and net[2].training
    assert not frozen.training and not frozen[1].training, "the frozen part must stay in eval mode"


def test_evaluating_restores_after_an_exception():
    net = nn.Linear(2, 2)
    with pytest.raises(RuntimeError, match="boom"):
        with runtime.evaluating(net):
            raise RuntimeError("boom")
    assert net.training and torch.is_grad_enabled()


BUDGETS = {"quick": {"dataset": "digits", "steps": 1000, "ae_steps": 300, "n_eval": 359},
           "full": {"dataset": "mnist", "image_steps": 10_000, "latent_dims": [4, 8], "lr": 1e-3,
                    "shuffle": True}}


def test_budget_for_the_book_is_the_chapters_own(monkeypatch):
    monkeypatch.delenv("AEGAN_BUDGET", raising=False)
    assert aegan_lib.budget_for(BUDGETS, "full") == BUDGETS["full"]
    assert aegan_lib.budget_for(BUDGETS, "full") is not BUDGETS["full"]   # a copy: edits stay local


def test_budget_for_smoke_cuts_steps_and_swaps_mnist_for_the_offline_subset(monkeypatch):
    monkeypatch.setenv("AEGAN_BUDGET", "smoke")
    full = aegan_lib.budget_for(BUDGETS, "full")
    assert full == {"dataset": "mnist_5k", "image_steps": runtime.SMOKE_STEPS, "latent_dims": [4, 8],
                    "lr": 1e-3, "shuffle": True}
    quick = aegan_lib.budget_for(BUDGETS, "quick")
    assert quick["steps"] == quick["ae_steps"] == runtime.SMOKE_STEPS and quick["n_eval"] == 359
    assert aegan_lib.budget_for(BUDGETS, "full", scale="book") == BUDGETS["full"]


def test_budget_for_rejects_unknown_scales_and_profiles(monkeypatch):
    monkeypatch.setenv("AEGAN_BUDGET", "tiny")
    with pytest.raises(ValueError, match="AEGAN_BUDGET.*'book' or 'smoke'"):
        aegan_lib.budget_for(BUDGETS, "quick")
    with pytest.raises(ValueError, match="scale 'book' or 'smoke'"):
        aegan_lib.budget_for(BUDGETS, "quick", scale="huge")
    with pytest.raises(ValueError, match="no budget for profile 'medium'.*'quick', 'full'"):
        aegan_lib.budget_for(BUDGETS, "medium", scale="book")


def test_full_profile_at_smoke_scale_does_not_warn_about_hours(monkeypatch, recwarn):
    _no_accelerator(monkeypatch)
    monkeypatch.setenv("AEGAN_BUDGET", "smoke")
    assert aegan_lib.resolve_profile("full") == "full"
    assert not recwarn.list


def test_print_config_prints_one_setting_per_line(capsys):
    aegan_lib.print_config("budget", {"steps": 1000, "data": "digits"})
    assert capsys.readouterr().out == "budget:\n  steps = 1000\n  data = 'digits'\n"
    with pytest.raises(TypeError, match="mapping of settings"):
        aegan_lib.print_config("budget", [("steps", 1000)])
