#!/usr/bin/env bash
# The second GPU run behind results/sharp_gans: round 2 of the search (bench/sharp_gans.py,
# ROUND2), development and held-out members in the same units. Packed into $OUT every 20 s.
set -u
DEVICE=${DEVICE:-cuda}; STEPS=${STEPS:-20000}
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
WORK=/tmp/work; R=$WORK/sharp_gans; mkdir -p $R/runs
pack() { tar czf $OUT/results.tgz.tmp --exclude=checkpoints -C $WORK . && mv $OUT/results.tgz.tmp $OUT/results.tgz; }
( while true; do pack; sleep 20; done ) &
START=$(date +%s)
python3 bench/sharp_gans.py round2 --device $DEVICE --steps $STEPS --jobs 3 --out $R > $WORK/round2.log 2>&1
echo "round 2 done at $(( $(date +%s) - START )) s" >> $WORK/times.txt
pack
cat $WORK/times.txt; tail -5 $WORK/round2.log
