#!/usr/bin/env bash
# The GPU run behind results/sharp_gans (one call on a lent H100/H200; see bench/README.md).
# Order: the ensemble benchmark alone (a clean timing), the search (4 processes share the GPU),
# the selection, then the held-out arms, two make()+fit() cross-checks and PacGAN's own recipe
# side by side until the budget is spent. Everything lands in $WORK and is packed into
# $OUT/results.tgz every 20 s, so a run cut off at its limit still returns what it finished.
# Usage: bash bench/gpu_sharp_gans.sh SECONDS   (DEVICE=cpu STEPS=30 ... for a dry run)
set -u
BUDGET=${1:-480}
DEVICE=${DEVICE:-cuda}; STEPS=${STEPS:-20000}; BENCH_STEPS=${BENCH_STEPS:-100}
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
WORK=/tmp/work; R=$WORK/sharp_gans; mkdir -p $R/runs
pack() { tar czf $OUT/results.tgz.tmp --exclude=checkpoints -C $WORK . && mv $OUT/results.tgz.tmp $OUT/results.tgz; }
( while true; do pack; sleep 20; done ) &
START=$(date +%s)
elapsed() { echo $(( $(date +%s) - START )); }
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader > $WORK/gpu.txt 2>&1
python3 -c "import torch; print('torch', torch.__version__)" >> $WORK/gpu.txt
python3 bench/bench_sweeps.py ensemble --steps $BENCH_STEPS --device $DEVICE --rounds 3 --sizes 1 10 20 40 \
  > $WORK/bench_ensemble_cuda.txt 2>&1
echo "bench done at $(elapsed) s" >> $WORK/times.txt
python3 bench/sharp_gans.py search --device $DEVICE --steps $STEPS --jobs 4 --out $R > $WORK/search.log 2>&1
echo "search done at $(elapsed) s" >> $WORK/times.txt
python3 bench/sharp_gans.py select --out $R > $WORK/select.log 2>&1
LEFT=$(( BUDGET - $(elapsed) - 15 ))
for P in 1 2; do
  python3 bench/pacgan_recipe.py --pack $P --seeds 10 --steps ${PACGAN_STEPS:-400000} --seconds $LEFT \
    --device $DEVICE --out $R > $WORK/pacgan_pack$P.log 2>&1 &
done
python3 bench/sharp_gans.py single --device $DEVICE --steps $STEPS --jobs 2 --seeds 100 --out $R > $WORK/single.log 2>&1 &
python3 bench/sharp_gans.py heldout --device $DEVICE --steps $STEPS --jobs 3 --out $R > $WORK/heldout.log 2>&1
echo "held-out done at $(elapsed) s" >> $WORK/times.txt
python3 bench/sharp_gans.py sanity --out $R >> $WORK/heldout.log 2>&1
wait $(jobs -p | tail -n +2) 2>/dev/null
echo "all done at $(elapsed) s" >> $WORK/times.txt
pack
cat $WORK/times.txt $WORK/bench_ensemble_cuda.txt $WORK/select.log
