#!/bin/bash
# The language models as a user meets them at the command line: their own text file trains and
# evaluates (held-out split: the tail of the text when it has too few documents, and training
# says so).
GENC="$1"
source "$(dirname "$0")/lib_cli.sh"

TINY="--dim 16 --layers 1 --heads 2 --seq 16 --batch 2 --warmup 2 --threads 1"
for i in $(seq 200); do echo "line $i of my own text, with a few words"; done > "$W/my.txt"

# a single plain file: train, then eval its held-out tail
expect 0 "held out for eval: the last 5% of the text" -- "$GENC" train lm $TINY --data "$W/my.txt" --steps 2 --out "$W/own"
expect 0 "bits per character on .*my.txt (held-out split: the last 5%" -- "$GENC" eval "$W/own"

finish
