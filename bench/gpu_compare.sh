#!/usr/bin/env bash
# Chapter 6's 2D arms that the CPU has not run yet, on one GPU: each arm's seeds train as one
# ensemble model (bench/compare.py --ensemble), several models share the GPU (--jobs).
# Every line resumes and skips finished runs, so it is safe to re-run after a stop; results
# land in results/compare/<dataset>.json (then `python bench/compare.py package`).
# The time budget's step counts come from the CPU timing stored in each file (one thread).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python}
JOBS=${JOBS:-6}
ARMS=placebo,recon,latent_critic,latent_recon,lazarou,bigan,gan,pacgan2
$PY bench/compare.py dev --dataset ring --ensemble --device cuda --jobs "$JOBS"
$PY bench/compare.py select --dataset ring
for dataset in grid ring; do
  $PY bench/compare.py heldout --dataset "$dataset" --ensemble --device cuda --jobs "$JOBS" --arms "$ARMS" --budgets steps,time
done
# New seeds for chapter 6's post-hoc finding (CONFIRM_RULE in compare.py; its own file).
$PY bench/compare.py confirm --dataset grid --ensemble --device cuda
# The latent GAN has no ensemble form: one process per run, sharing the GPU.
for dataset in grid ring; do
  $PY bench/compare.py heldout --dataset "$dataset" --device cuda --jobs "$JOBS" --arms latent_gan --budgets steps,time
done
