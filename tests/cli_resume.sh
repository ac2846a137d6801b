#!/bin/bash
# Resume is exact: 12 steps, stop, resume to 24 gives the same checkpoint, byte for byte, as
# 24 steps straight through (weights, optimizer moments, RNG and data position).
GENC="$1"
source "$(dirname "$0")/lib_cli.sh"
resume_exact lm lm --dim 32 --layers 2 --heads 2 --seq 32 --batch 4 --steps 24 --warmup 5 --dropout 0.1 --seed 7 --threads 2
finish
