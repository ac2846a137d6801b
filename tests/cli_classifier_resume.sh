#!/bin/bash
# Classifier resume is exact: 12 steps, stop, resume to 24 gives the same checkpoint, byte for
# byte, as 24 steps straight through (weights, AdamW moments, EMA, data position), for a small
# CNN and a small ViT on Fashion-MNIST.
GENC="$1"
source "$(dirname "$0")/lib_cli.sh"
for net in "cnn --channels 4,8 --groups 2 --fc 16" "vit --patch 7 --dim 16 --heads 2 --layers 1 --mlp-hidden 32"; do
    name=${net%% *}
    common="--net $net --batch 8 --steps 24 --warmup 5 --ema 0.9 --seed 7 --threads 2"
    "$GENC" train classifier $common --out "$W/$name-straight" 2>/dev/null
    "$GENC" train classifier $common --out "$W/$name-split" --stop-at 12 2>/dev/null
    step=$("$GENC" info "$W/$name-split" | sed -n 's/^step: //p')
    if [ "$step" = 12 ]; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $name stopped at step '$step', want 12"; fi
    if cmp -s "$W/$name-straight/model.safetensors" "$W/$name-split/model.safetensors"; then
        fail=$((fail+1)); echo "FAIL: $name: the half run already equals the full run"; else pass=$((pass+1)); fi
    "$GENC" train classifier --resume --out "$W/$name-split" 2>/dev/null
    if cmp "$W/$name-straight/model.safetensors" "$W/$name-split/model.safetensors"; then pass=$((pass+1))
    else fail=$((fail+1)); echo "FAIL: $name: the resumed checkpoint differs from the straight run"; fi
done
finish
