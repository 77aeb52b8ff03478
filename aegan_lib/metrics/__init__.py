"""Sample-quality metrics, along the book's two kinds of data.

- `aegan_lib.metrics.points` — 2D mixtures: `mode_coverage` (the VEEGAN/PacGAN protocol:
  modes covered, high-quality fraction, KL of the nearest-mode histogram to uniform),
  `TrainingTrace`, `sanity_scores`. Taught in chapter 3, "Measuring mode collapse".
- `aegan_lib.metrics.images` — digits, MNIST: `image_quality` from a small classifier trained
  once on the real training split (`classifier_for`): a Fréchet distance of its features,
  improved precision/recall, classes covered and KL(p̂(y) ‖ uniform). Taught in chapter 4,
  "Measuring image quality".

Every public name of both is available here (`metrics.mode_coverage`, `metrics.image_quality`).
Settings such as the classifier cache folder live in their module: `metrics.images.CACHE`.
"""

from . import images, points
from .images import (
    ASSETS,
    CLASSIFIER_RECIPE,
    COVERED_SHARE,
    Classifier,
    classifier_accuracy,
    classifier_for,
    frechet_distance,
    image_quality,
    load_classifier,
    precision_recall,
    save_classifier,
    train_classifier,
)
from .points import TrainingTrace, kl_to_uniform, mode_coverage, sanity_scores, true_sample_quality

__all__ = [
    "points", "images",
    "mode_coverage", "TrainingTrace", "sanity_scores", "true_sample_quality", "kl_to_uniform",
    "image_quality", "classifier_for", "train_classifier", "classifier_accuracy", "save_classifier",
    "load_classifier", "Classifier", "frechet_distance", "precision_recall", "CLASSIFIER_RECIPE",
    "COVERED_SHARE", "ASSETS",
]
