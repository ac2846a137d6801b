#!/bin/bash
# Bad input at the command line: every case must exit with the documented code (2 usage,
# 1 runtime), print "genc: error: ..." and never crash or leave a half-written file.
GENC="$1"
source "$(dirname "$0")/lib_cli.sh"

expect 2 "unknown verb" -- "$GENC" frobnicate
expect 2 "usage" -- "$GENC"
expect 2 "needs a family" -- "$GENC" train
expect 2 "unknown family" -- "$GENC" train cats
expect 2 "unknown flag '--bogus'" -- "$GENC" train lm --bogus
expect 2 "--steps expects a whole number" -- "$GENC" train lm --steps abc
expect 2 "--steps expects a whole number" -- "$GENC" train lm --steps 0
expect 2 "--lr expects a number" -- "$GENC" train lm --lr nan
expect 2 "--dim needs a value" -- "$GENC" train lm --dim
expect 2 "must be positive and divide --dim" -- "$GENC" train lm --dim 100 --heads 3
expect 2 "unknown position encoding" -- "$GENC" train lm --pos spiral
expect 2 "unknown RoPE scaling" -- "$GENC" train lm --rope-scaling huge
expect 2 "--norm expects" -- "$GENC" train lm --norm batch
expect 2 "unknown objective" -- "$GENC" train lm --objective gan
expect 2 "even head dimension" -- "$GENC" train lm --dim 36 --heads 4 --pos rope
expect 1 "no such file" -- "$GENC" train lm --data "$W/missing.txt" --steps 1 --out "$W/r0"
printf 'tiny' > "$W/tiny.txt"
expect 1 "too small\|too short\|fewer" -- "$GENC" train lm --data "$W/tiny.txt" --steps 1 --seq 64 --out "$W/r1"
expect 2 "needs a run folder" -- "$GENC" eval
expect 1 "No such file\|no such file" -- "$GENC" eval "$W/nothing"
expect 1 "No such file\|no such file" -- "$GENC" sample "$W/nothing"

# Sizes that need more memory than genc may use: exit 1 with a message, never SIGABRT or the
# kernel's OOM killer. GENC_MEM_LIMIT makes the cases the same on every machine and keeps
# them cheap. Training estimates a run's memory before allocating anything: 512·65536 tokens
# of activations, and a 100M-parameter model under a 64 MiB limit, are both refused up front.
expect 1 "this run needs about [0-9.]* GiB of memory but genc may use 1.0 GiB" -- \
    env GENC_MEM_LIMIT=1G "$GENC" train lm --batch 512 --seq 65536 --dim 64 --heads 4 --layers 1 \
    --steps 1 --out "$W/oom1"
expect 1 "this run needs about [0-9.]* GiB of memory but genc may use 0.1 GiB" -- \
    env GENC_MEM_LIMIT=64M "$GENC" train lm --dim 1024 --heads 8 --layers 8 --steps 1 --out "$W/oom2"

# A real checkpoint, then damaged copies of it.
"$GENC" train lm --dim 32 --layers 1 --heads 2 --seq 32 --batch 2 --steps 3 --out "$W/ok" >/dev/null 2>&1 \
    || { echo "FAIL: could not train a tiny model"; fail=$((fail+1)); }
expect 2 "--top-p expects" -- "$GENC" sample "$W/ok" --top-p 2
expect 2 "--temperature expects" -- "$GENC" sample "$W/ok" --temperature -1
expect 2 "unknown flag '--bogus' for eval" -- "$GENC" eval "$W/ok" --bogus
size=$(stat -c %s "$W/ok/model.safetensors")
head -c $((size / 2)) "$W/ok/model.safetensors" > "$W/trunc.safetensors"
expect 1 "truncated\|outside" -- "$GENC" eval "$W/trunc.safetensors"
expect 1 "truncated\|outside" -- "$GENC" info "$W/trunc.safetensors"
printf '\x10\x00\x00\x00\x00\x00\x00\x00{not json at all' > "$W/garbage.safetensors"
expect 1 "JSON" -- "$GENC" sample "$W/garbage.safetensors"
head -c 5 "$W/ok/model.safetensors" > "$W/short.safetensors"
expect 1 "too short" -- "$GENC" info "$W/short.safetensors"
# loading weights past the limit: the parameter allocator refuses, naming the tensor
expect 1 "out of memory: .* needs" -- env GENC_MEM_LIMIT=16K "$GENC" eval "$W/ok"
# a valid safetensors file that is not a genc model (a header with no metadata)
printf '\x08\x00\x00\x00\x00\x00\x00\x00{}      ' > "$W/empty.safetensors"
expect 1 "not a genc checkpoint" -- "$GENC" eval "$W/empty.safetensors"
# the failed runs must not have left a checkpoint or a temporary behind
if ls "$W"/r0 "$W"/r1 "$W"/oom1 "$W"/oom2 2>/dev/null | grep -q "safetensors"; then
    echo "FAIL: a failed run left a checkpoint"; fail=$((fail+1)); else pass=$((pass+1)); fi
if ls "$W"/ok | grep -q "tmp"; then echo "FAIL: temporary file left"; fail=$((fail+1)); else pass=$((pass+1)); fi
# resume without a checkpoint
expect 1 "resume" -- "$GENC" train lm --resume --out "$W/empty"

finish
