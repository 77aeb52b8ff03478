"""Time per training step of every method at the `full` profile's sizes, on this machine.

The chapters' `full` profile (Colab, a GPU) trains `make(method, mnist)` — the library's small
convnets for 28×28 images — and MLPs on the 2D mixtures. This script builds the same nets,
runs `fit` for a few hundred steps after a warm-up, and prints milliseconds per step, so that a
chapter's full-profile time can be estimated as steps × ms/step. It also trains the MNIST
feature classifier of `aegan_lib.metrics` (done once on first use) and scores samples with
`image_quality`, which checks the full profile's metric path end to end.

MNIST needs a download; where there is none (offline machines, CI), a stand-in with MNIST's
shape is used: scikit-learn's 8×8 digits upsampled to 28×28 (1438 training images). The nets,
shapes and step costs are the same; only the images differ. The printout says which it used.
The classifier is cached in a temporary folder, never in ~/.cache, so a stand-in classifier
cannot be mistaken for a real MNIST one later.

    python bench/bench_full_profile.py                # cuda if present, else cpu
    python bench/bench_full_profile.py --download     # fetch real MNIST first (needs internet)
    python bench/bench_full_profile.py --steps 50     # a quick check of the code paths
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aegan_lib  # noqa: E402
from aegan_lib import data, metrics  # noqa: E402
from aegan_lib.algos import make  # noqa: E402


def mnist_or_stand_in(device, download: bool) -> tuple[data.ImageDataset, str]:
    """Real MNIST when torchvision can load it, else digits upsampled to 28×28 under MNIST's name."""
    try:
        return data.mnist(device, download=download), "MNIST"
    except (ImportError, RuntimeError) as error:
        reason = str(error).split(".")[0]
    digits = data.digits()

    def upsample(split):
        images = F.interpolate(split.x, size=(28, 28), mode="bilinear", align_corners=False).clamp(-1, 1)
        return data.Split(images.to(device), split.y.to(device))

    stand_in = data.ImageDataset(name="mnist", train=upsample(digits.train), test=upsample(digits.test),
                                 num_classes=10)
    return stand_in, f"stand-in: 8×8 digits upsampled to 28×28 (MNIST unavailable: {reason})"


def synchronize(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def ms_per_step(algo, source, steps: int, batch_size: int, device) -> float:
    """Median over three timed stretches of `steps` steps, after a warm-up stretch.

    One `fit` call of 4 × `steps` steps (a run with a decaying learning rate cannot be
    continued past its total), timed at each stretch's end by a callback."""
    marks = []

    def mark(algo, step):
        synchronize(device)
        marks.append(time.perf_counter())

    aegan_lib.fit(algo, source, steps=4 * steps, batch_size=batch_size, progress=False, log_every=steps,
                  callback=mark, callback_every=steps)
    timings = [1000 * (end - start) / steps for start, end in zip(marks, marks[1:])]
    return sorted(timings)[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: aegan_lib.pick_device())")
    parser.add_argument("--steps", type=int, default=300, help="timed steps per call (three calls, median)")
    parser.add_argument("--download", action="store_true",
                        help="download MNIST if it is not cached (default: use the cache or the stand-in)")
    args = parser.parse_args()

    device = torch.device(args.device) if args.device else aegan_lib.pick_device()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    print(f"torch {torch.__version__}, aegan_lib {aegan_lib.__version__}, device {device} ({name}), "
          f"torch threads {torch.get_num_threads()}")
    images, source_note = mnist_or_stand_in(device, args.download)
    print(f"images: {images} — {source_note}")

    rows = []
    for dataset_name, source, batch_size in (("ring", data.ring(device), 64), ("grid", data.grid(device), 64),
                                             ("28×28 images", images, 128)):
        for method in ("gan", "latent_gan", "aegan"):
            if method == "latent_gan" and dataset_name != "28×28 images":
                continue
            aegan_lib.seed_everything(0)
            # latent_gan: a zero-step pretraining times the GAN-on-codes phase (the longer one).
            algo = make(method, source, **({"pretrain_steps": 0} if method == "latent_gan" else {}))
            ms = ms_per_step(algo, source, args.steps, batch_size, device)
            rows.append((dataset_name, method, batch_size, ms))
            print(f"{dataset_name:13s} {method:11s} batch {batch_size:4d}: {ms:7.2f} ms/step "
                  f"({1000 / ms:6.0f} steps/s)", flush=True)

    with tempfile.TemporaryDirectory() as cache:
        metrics.images.CACHE = Path(cache)  # never leave a stand-in classifier in ~/.cache
        start = time.perf_counter()
        classifier = metrics.classifier_for(images)
        synchronize(device)
        print(f"feature classifier trained in {time.perf_counter() - start:.1f} s; test accuracy "
              f"{metrics.classifier_accuracy(classifier, images.test):.1%}")
        aegan_lib.seed_everything(0)
        aegan = make("aegan", images)
        aegan_lib.fit(aegan, images, steps=args.steps, batch_size=128, progress=False)
        start = time.perf_counter()
        score = metrics.image_quality(aegan.sample(len(images.test)), images)
        synchronize(device)
        print(f"image_quality of {len(images.test)} AEGAN samples after {args.steps} steps in "
              f"{time.perf_counter() - start:.2f} s: FD {score['fd']:.1f} (floor {score['fd_floor']:.1f}), "
              f"classes {score['classes']}, precision {score['precision']:.2f}, recall {score['recall']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
