#!/bin/bash
# Data parallelism on one machine: the LM reference size (d=256, 4 layers, 4 heads, T=256,
# batch 8, as bench/bench_lm.py) trained for STEPS steps as 1 rank × 2 threads and as
# 2 ranks × 1 thread (mpirun), the same global batch. Prints tokens/s of each (metrics.csv:
# all steps, first ones included) and, for 2 ranks, the bytes all-reduced per step and the
# time per step spent in communication (rank 0's time inside MPI calls, which includes
# waiting for the other rank) and its share of the step.
#   bench/bench_mpi.sh [GENC] [STEPS]     (defaults: build/genc, 30)
# Run it on a quiet machine: both configurations use both cores.
set -e
GENC="${1:-build/genc}"
STEPS="${2:-30}"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ARGS="lm --dim 256 --layers 4 --heads 4 --seq 256 --batch 8 --steps $STEPS --warmup 2 --save-every 0"
rate() { tail -1 "$1/metrics.csv" | cut -d, -f5; }

OMP_NUM_THREADS=2 "$GENC" train $ARGS --threads 2 --out "$W/one" 2>"$W/one.log"
OMP_NUM_THREADS=1 mpirun --oversubscribe --bind-to none -np 2 "$GENC" train $ARGS --threads 1 --out "$W/two" 2>"$W/two.log"
one=$(rate "$W/one")
two=$(rate "$W/two")
echo "LM d=256 L=4 T=256 batch 8, $STEPS steps"
printf "1 rank  x 2 threads: %8.0f tokens/s\n" "$one"
printf "2 ranks x 1 thread:  %8.0f tokens/s  (%.2fx)\n" "$two" "$(echo "$two / $one" | awk '{print $1 / $3}')"
grep -o "data parallel over.*" "$W/two.log"
