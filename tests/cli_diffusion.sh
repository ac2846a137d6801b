#!/bin/bash
# Masked and block diffusion at the command line: tiny mdlm and bd3 runs train, sample with
# every masked sampler and option, and evaluate with a Monte-Carlo ELBO (--json carries its
# standard error and sample count); bad sampler arguments exit 2 with a message saying why.
GENC="$1"
source "$(dirname "$0")/lib_cli.sh"

TINY="--dim 32 --layers 1 --heads 2 --seq 32 --batch 2 --steps 3"
for obj in mdlm bd3; do
    if ! "$GENC" train lm --objective $obj --block 4 $TINY --out "$W/$obj" >"$W/train.log" 2>&1; then
        echo "FAIL: could not train a tiny $obj model:"; cat "$W/train.log"; fail=$((fail+1))
    fi
done
"$GENC" train lm --objective llada --clip-schedule 0.2,0.9 $TINY --out "$W/llada" >/dev/null 2>&1 \
    || { echo "FAIL: could not train a tiny llada model with a clip schedule"; fail=$((fail+1)); }

# sampling: exit 0 and some output
for args in "" "--len 32 --block 8 --steps 16" "--sampler ddpm-cache --len 16 --steps 40" \
            "--sampler first-hitting --len 16" "--remask random --top-p 0.9 --len 16 --steps 8" \
            "--prompt Hello --cfg 1.5 --len 16 --block 4 --steps 8" "--temperature 0 --n 3 --len 16 --no-stop"; do
    expect 0 "" -- "$GENC" sample "$W/mdlm" $args
done
for args in "" "--len 16 --steps 8" "--sampler first-hitting --len 16 --prompt abc" \
            "--sampler ddpm-cache --len 16 --steps 32" "--prompt Hi --cfg 2 --len 8 --n 2" "--block 4 --len 8"; do
    expect 0 "" -- "$GENC" sample "$W/bd3" $args
done
expect 0 "" -- "$GENC" sample "$W/llada" --len 16

# evaluation: a Monte-Carlo bound with its standard error
for obj in mdlm bd3 llada; do
    expect 0 '"bpc_stderr"' -- "$GENC" eval "$W/$obj" --mc 2 --json
    if grep -q '"mc": 2' "$W/out"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $obj eval --json lacks \"mc\": 2"; fi
done

# bad sampler arguments: usage errors (exit 2) that say what to change
expect 2 "must be a multiple of --block" -- "$GENC" sample "$W/mdlm" --len 30 --block 8
expect 2 "multiple of the number of blocks" -- "$GENC" sample "$W/mdlm" --len 32 --block 8 --steps 6
expect 2 "unknown sampler" -- "$GENC" sample "$W/mdlm" --sampler bogus
expect 2 "is for SEDD models" -- "$GENC" sample "$W/mdlm" --sampler euler
expect 2 "is for SEDD models" -- "$GENC" sample "$W/bd3" --sampler tau-leaping
expect 2 "at most one step per token" -- "$GENC" sample "$W/mdlm" --len 16 --steps 32
expect 2 "needs a --prompt" -- "$GENC" sample "$W/mdlm" --cfg 1
expect 2 "--remask expects" -- "$GENC" sample "$W/mdlm" --remask sometimes
expect 2 "trained with (4)" -- "$GENC" sample "$W/bd3" --block 8 --len 16
expect 2 "must be a multiple of --block 4" -- "$GENC" sample "$W/bd3" --len 18
expect 1 "multiple of the model's block size" -- "$GENC" eval "$W/bd3" --seq 30
expect 2 "--block 3 must be positive and divide --seq 32" -- "$GENC" train lm --objective bd3 --block 3 $TINY --out "$W/bad"
expect 2 "--clip-schedule" -- "$GENC" train lm --objective bd3 --clip-schedule 0.8,0.3 $TINY --out "$W/bad"

# compare: two tiny equal-time runs give a table, compare.md and compare.json with both rows
expect 2 "unknown objective 'bogus'" -- "$GENC" compare lm --objectives ar,bogus --out "$W/cmp0"
expect 2 "only bd3 takes a block size" -- "$GENC" compare lm --objectives mdlm:4 --out "$W/cmp0"
expect 0 "| bd3:4 |" -- "$GENC" compare lm --objectives ar,bd3:4 --minutes 0.03 --dim 32 --layers 1 --heads 2 \
    --seq 32 --batch 2 --eval-bytes 600 --sample-len 8 --out "$W/cmp"
if [ "$(grep -o '"objective"' "$W/cmp/compare.json" 2>/dev/null | wc -l)" = 2 ] && [ -s "$W/cmp/compare.md" ]; then
    pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: compare.json/compare.md missing or without 2 runs"; fi

finish
