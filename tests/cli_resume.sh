#!/bin/bash
# Resume is exact: 12 steps, stop, resume to 24 gives the same checkpoint, byte for byte, as
# 24 steps straight through (weights, optimizer moments, RNG and data position).
GENC="$1"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
set -e
common="--dim 32 --layers 2 --heads 2 --seq 32 --batch 4 --steps 24 --warmup 5 --dropout 0.1 --seed 7 --threads 2"
"$GENC" train lm $common --out "$W/straight" 2>/dev/null
"$GENC" train lm $common --out "$W/split" --stop-at 12 2>/dev/null
step=$("$GENC" info "$W/split" | sed -n 's/^step: //p')
pass=0; fail=0
if [ "$step" = 12 ]; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: stopped at step '$step', want 12"; fi
if cmp -s "$W/straight/model.safetensors" "$W/split/model.safetensors"; then
    fail=$((fail+1)); echo "FAIL: the half run already equals the full run"; else pass=$((pass+1)); fi
"$GENC" train lm --resume --out "$W/split" 2>/dev/null
if cmp "$W/straight/model.safetensors" "$W/split/model.safetensors"; then pass=$((pass+1))
else fail=$((fail+1)); echo "FAIL: resumed checkpoint differs from the straight run"; fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
