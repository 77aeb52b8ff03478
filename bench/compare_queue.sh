#!/usr/bin/env bash
# The order chapter 6's comparison ran in on 2 CPU cores (each line resumes; re-run after a stop).
# Digits first (cheap: every arm, both budgets), then the grid's key arm at chapter 3's budget.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[ -n "$(ls results/compare/grid.json 2>/dev/null)" ] && grep -q '"timing": {' results/compare/grid.json || {
  $PY bench/compare.py timing --dataset grid & $PY bench/compare.py timing --dataset digits; wait; }
$PY bench/compare.py dev --dataset digits
$PY bench/compare.py select --dataset digits
$PY bench/compare.py dev --dataset grid
$PY bench/compare.py select --dataset grid
$PY bench/compare.py heldout --dataset digits
$PY bench/compare.py import --dataset grid
$PY bench/compare.py heldout --dataset grid --arms recon --budgets steps
$PY bench/compare.py heldout --dataset grid --arms recon --budgets time
$PY bench/compare.py heldout --dataset grid --arms bigan --budgets steps
$PY bench/compare.py heldout --dataset grid --arms latent_critic --budgets steps --jobs 1
# The ring: chapter 3's GPU runs of the plain GAN and PacGAN2, the grid's timing (same nets and
# batch), then λ by the rule and the autoencoder arms, the key one first.
$PY bench/compare.py timing --dataset ring --copy-from grid
$PY bench/compare.py import --dataset ring
$PY bench/compare.py dev --dataset ring
$PY bench/compare.py select --dataset ring
$PY bench/compare.py heldout --dataset ring --arms recon --budgets steps
$PY bench/compare.py heldout --dataset ring --arms bigan --budgets steps --jobs 1
# Then every remaining arm, both budgets, on both mixtures: all done as of 2026-12-07 (the last,
# the ring's equal-time arms, 58 runs in under two hours with both cores). Each equal-time run
# takes the plain GAN's seconds, 2-7 minutes of one core here; --jobs 2 is one process, the
# file's only writer, with two workers. Re-running the queue trains nothing already in the files.
grid_queue() {
  $PY bench/compare.py heldout --dataset grid --arms latent_recon --budgets steps --jobs 1
  # New seeds for chapter 6's post-hoc finding (CONFIRM_RULE; its own results file), then the
  # paired tests against the placebo on them (PAIRED_TESTS): all done as of 2026-12-07.
  $PY bench/compare.py confirm --dataset grid --jobs 1
  for arm in lazarou latent_gan; do  # both done (2026-12-07)
    $PY bench/compare.py heldout --dataset grid --arms "$arm" --budgets steps --jobs 1
  done
  $PY bench/compare.py heldout --dataset grid --budgets time --jobs 2 \
    --arms placebo,pacgan2,lazarou,bigan,latent_gan  # all done (2026-12-07)
}
ring_queue() {
  for arm in placebo latent_critic latent_recon lazarou latent_gan; do  # all done (2026-12-07)
    $PY bench/compare.py heldout --dataset ring --arms "$arm" --budgets steps --jobs 1
  done
  $PY bench/compare.py heldout --dataset ring --budgets time --jobs 2 \
    --arms latent_recon,latent_critic,placebo,pacgan2,lazarou,bigan,latent_gan  # all done (2026-12-07)
}
grid_queue  # both cores, then
ring_queue
$PY bench/compare.py package
