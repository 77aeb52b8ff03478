"""Steps per second of aegan_lib's GAN training loop vs a textbook DataLoader loop.

Both sides train the same generator and discriminator (`aegan_lib.nets` for 8×8 digits), with
the same latent size, batch size, Adam settings, number of steps and initial weights, in one
process. After a warm-up they run interleaved (ours, reference, ours, reference, ...) and the
median of the repeats is reported, with the ratio ours / reference.

- Ours: `aegan_lib.algos.GAN` trained by `aegan_lib.fit(..., progress=False, log_every=50)`,
  the real engine end to end, on `aegan_lib.data.digits(device)` (data on the device, one
  `randperm` per epoch, no host sync inside a step).
- Reference: the loop most tutorials teach (PyTorch's DCGAN tutorial): a `TensorDataset` +
  `DataLoader(shuffle=True)`, label tensors built with `torch.full` each step, BCE on logits,
  `.item()` on every statistic every step. Each difference from ours is commented in
  `reference_loop`.

Run it from the repository root:

    .venv/bin/python bench/bench_gan_loop.py                      # CPU or the GPU if there is one
    .venv/bin/python bench/bench_gan_loop.py --batch-sizes 64 256 --steps 400 --repeats 7

The exit status is non-zero when a run fails (an exception, a wrong step count, a non-finite
loss), never because of the ratio: the numbers are for people to read.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import aegan_lib
from aegan_lib import nets

LR = 2e-4
BETAS = (0.5, 0.999)


def build_nets(latent_dim: int, data_shape, seed: int, device: torch.device):
    """The same generator and discriminator, with the same initial weights, for both loops."""
    torch.manual_seed(seed)
    generator = nets.generator(latent_dim, data_shape).to(device)
    discriminator = nets.discriminator(data_shape).to(device)
    return generator, discriminator


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def ours(data, latent_dim: int, batch_size: int, steps: int, seed: int, device: torch.device) -> float:
    """Seconds for `steps` steps of aegan_lib's GAN through `aegan_lib.fit`."""
    generator, discriminator = build_nets(latent_dim, data.shape, seed, device)
    algo = aegan_lib.algos.GAN(generator, discriminator, latent_dim, lr_g=LR, lr_d=LR, betas=BETAS)
    synchronize(device)
    start = time.perf_counter()
    history = aegan_lib.fit(algo, data, steps=steps, batch_size=batch_size, seed=seed,
                            progress=False, log_every=50)
    synchronize(device)
    seconds = time.perf_counter() - start
    # fit already raises NonFiniteLossError on a NaN/Inf loss; also check it ran every step.
    if history["step"][-1] != steps:
        raise RuntimeError(f"ours ran {history['step'][-1]} steps, expected {steps}")
    return seconds


def reference_loop(images_cpu: torch.Tensor, latent_dim: int, batch_size: int, steps: int, seed: int,
                   device: torch.device) -> float:
    """Seconds for `steps` steps of the textbook loop (PyTorch DCGAN tutorial style)."""
    generator, discriminator = build_nets(latent_dim, images_cpu.shape[1:], seed, device)
    # Difference: plain Adam, ~10 small ops per parameter tensor (for-each on a GPU); ours uses
    # the fused kernel (`aegan_lib.algos.base.adam`: CUDA, and the CPU from torch 2.4).
    opt_g = torch.optim.Adam(generator.parameters(), lr=LR, betas=BETAS)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=LR, betas=BETAS)
    # Same loss as ours (-log σ(r) - log(1 - σ(f)) on logits), written the tutorial way.
    criterion = nn.BCEWithLogitsLoss()
    real_label, fake_label = 1.0, 0.0
    d_losses, g_losses, d_x, d_g_z1, d_g_z2 = [], [], [], [], []

    synchronize(device)
    start = time.perf_counter()
    torch.manual_seed(seed)
    # Difference: the dataset stays on the CPU and a DataLoader (0 workers, the default; workers
    # would only add processes on 2 cores) collates each batch from per-sample indexing; ours
    # keeps the whole set on the device and takes a batch with one index operation.
    loader = DataLoader(TensorDataset(images_cpu), batch_size=batch_size, shuffle=True, drop_last=True)
    step = 0
    while step < steps:  # the epochs loop
        for (batch,) in loader:
            # Difference: a host-to-device copy every step (a no-op on the CPU).
            real = batch.to(device)
            size = real.size(0)

            # Part 1 — train D on real, then on fake (two backward passes, as in the tutorial;
            # ours sums the two terms and calls backward once).
            discriminator.zero_grad()
            # Difference: label tensors are built every step; ours uses softplus on the logits.
            label = torch.full((size,), real_label, dtype=torch.float, device=device)
            output = discriminator(real).view(-1)
            err_d_real = criterion(output, label)
            err_d_real.backward()
            d_x.append(output.mean().item())  # Difference: a host sync; ours reads stats every 50 steps.

            noise = torch.randn(size, latent_dim, device=device)
            fake = generator(noise)
            label.fill_(fake_label)
            output = discriminator(fake.detach()).view(-1)
            err_d_fake = criterion(output, label)
            err_d_fake.backward()
            d_g_z1.append(output.mean().item())  # host sync
            err_d = err_d_real + err_d_fake
            opt_d.step()

            # Part 2 — train G through the updated D (a fresh forward, as ours).
            generator.zero_grad()
            label.fill_(real_label)
            # Difference: D is not frozen, so this backward also computes D's weight gradients,
            # which are thrown away by the next discriminator.zero_grad(); ours freezes D here.
            output = discriminator(fake).view(-1)
            err_g = criterion(output, label)
            err_g.backward()
            d_g_z2.append(output.mean().item())  # host sync
            opt_g.step()

            # Difference: `.item()` on the losses every step (two more host syncs).
            g_losses.append(err_g.item())
            d_losses.append(err_d.item())
            step += 1
            if step == steps:
                break
    synchronize(device)
    seconds = time.perf_counter() - start
    if len(g_losses) != steps:
        raise RuntimeError(f"reference ran {len(g_losses)} steps, expected {steps}")
    if not all(math.isfinite(v) for v in d_losses + g_losses):
        raise RuntimeError("reference loop: a loss became NaN/Inf")
    return seconds


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "cpu":
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("model name"):
                        return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return platform.processor() or platform.machine()
    return device.type


def environment(device: torch.device) -> str:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    load = "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()) if hasattr(os, "getloadavg") else ""
    return (f"torch {torch.__version__}, python {platform.python_version()}, aegan_lib {aegan_lib.__version__}\n"
            f"device {device} ({device_name(device)}), torch threads {torch.get_num_threads()}, "
            f"CPU cores available {cores}, {load}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: aegan_lib.pick_device())")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--steps", type=int, default=300, help="training steps per timed run")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each loop (median reported)")
    parser.add_argument("--warmup-steps", type=int, default=50)
    parser.add_argument("--latent-dim", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's own choice, one per core)")
    args = parser.parse_args(argv)
    if args.steps <= 0 or args.repeats <= 0 or args.warmup_steps <= 0:
        parser.error("--steps, --repeats and --warmup-steps must be positive")
    if args.threads is not None:
        if args.threads <= 0:
            parser.error("--threads must be positive")
        # Both loops run in this process, so both get the same thread count.
        torch.set_num_threads(args.threads)

    device = aegan_lib.pick_device(args.device)
    data = aegan_lib.data.digits(device)
    images_cpu = data.train.x.cpu()  # the tutorial's dataset: a CPU tensor
    print(environment(device))
    print(f"digits train {tuple(data.train.x.shape)}, latent_dim {args.latent_dim}, Adam lr {LR} betas {BETAS}, "
          f"{args.steps} steps per run, {args.repeats} interleaved repeats after a {args.warmup_steps}-step warm-up")
    print()
    print(f"{'batch':>5}  {'ours steps/s':>19}  {'reference steps/s':>19}  {'ratio':>5}  {'pair ratios':>11}")

    for batch_size in args.batch_sizes:
        if batch_size > len(images_cpu):
            raise ValueError(f"batch size {batch_size} exceeds the {len(images_cpu)} training images")
        common = dict(latent_dim=args.latent_dim, batch_size=batch_size, seed=args.seed, device=device)
        ours(data, steps=args.warmup_steps, **common)
        reference_loop(images_cpu, steps=args.warmup_steps, **common)
        ours_rates, reference_rates = [], []
        for _ in range(args.repeats):  # interleaved: A, B, A, B, ...
            ours_rates.append(args.steps / ours(data, steps=args.steps, **common))
            reference_rates.append(args.steps / reference_loop(images_cpu, steps=args.steps, **common))
        pair_ratios = [a / b for a, b in zip(ours_rates, reference_rates)]
        ours_median = statistics.median(ours_rates)
        reference_median = statistics.median(reference_rates)
        print(f"{batch_size:>5}  {ours_median:7.0f} [{min(ours_rates):4.0f}-{max(ours_rates):4.0f}]  "
              f"{reference_median:7.0f} [{min(reference_rates):4.0f}-{max(reference_rates):4.0f}]  "
              f"{ours_median / reference_median:5.2f}  {min(pair_ratios):.2f}-{max(pair_ratios):.2f}",
              flush=True)
    print()
    print("steps/s: median [min-max] over the repeats; ratio = median ours / median reference;")
    print("pair ratios: min-max of ours/reference over the interleaved pairs.")
    print("at the end:", environment(device).splitlines()[-1].split(", ")[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
