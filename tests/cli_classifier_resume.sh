#!/bin/bash
# Classifier resume is exact: 12 steps, stop, resume to 24 gives the same checkpoint, byte for
# byte, as 24 steps straight through (weights, AdamW moments, EMA, data position), for a small
# CNN and a small ViT on Fashion-MNIST.
GENC="$1"
source "$(dirname "$0")/lib_cli.sh"
common="--batch 8 --steps 24 --warmup 5 --ema 0.9 --seed 7 --threads 2"
resume_exact cnn classifier --net cnn --channels 4,8 --groups 2 --fc 16 $common
resume_exact vit classifier --net vit --patch 7 --dim 16 --heads 2 --layers 1 --mlp-hidden 32 $common
finish
