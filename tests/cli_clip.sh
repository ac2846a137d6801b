#!/bin/bash
# The image–text family at the command line: a tiny run with each loss, eval --json, info, an
# exact resume, and bad input (unknown loss, a patch that does not divide the images, a dim the
# heads cannot split for 2D RoPE, unknown eval flags) ending in "genc: error: ..." with exit 2.
GENC="$1"
source "$(dirname "$0")/lib_cli.sh"
TINY="--dim 16 --heads 2 --embed 8 --patch 7 --image-layers 1 --text-layers 1 --batch 8 --warmup 2"

expect 0 "saved" -- "$GENC" train clip $TINY --steps 6 --out "$W/soft"
expect 0 "saved" -- "$GENC" train clip $TINY --steps 6 --loss sigmoid --out "$W/sig"
expect 0 '"zero_shot_top1_ensemble"' -- "$GENC" eval "$W/soft" --json --images 100 --pairs 50
expect 0 '"loss": "sigmoid"' -- "$GENC" eval "$W/sig" --json --images 100 --pairs 50
expect 0 "image-text (sigmoid loss)" -- "$GENC" info "$W/sig"
expect 0 "family: clip" -- "$GENC" info "$W/soft"
resume_exact clip clip $TINY --steps 24 --loss sigmoid

expect 2 "unknown loss" -- "$GENC" train clip --loss cosine --out "$W/x"
expect 2 "does not divide" -- "$GENC" train clip --patch 5 --out "$W/x"
expect 2 "multiple of 4" -- "$GENC" train clip --dim 24 --heads 4 --out "$W/x"
expect 2 "unknown flag" -- "$GENC" eval "$W/soft" --labels a,b
finish
