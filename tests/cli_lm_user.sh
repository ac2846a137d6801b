#!/bin/bash
# The language models as a user meets them at the command line: their own text file trains and
# evaluates (held-out split: the tail of the text when it has too few documents, and training
# says so).
GENC="$1"
source "$(dirname "$0")/lib_cli.sh"

TINY="--dim 16 --layers 1 --heads 2 --seq 16 --batch 2 --warmup 2 --threads 1"
for i in $(seq 200); do echo "line $i of my own text, with a few words"; done > "$W/my.txt"

col() { awk -F, -v s="$2" -v c="$3" '$1 == s {print $c}' "$1"; } # col FILE STEP COLUMN
near() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN {d = a - b; exit !(d < t && -d < t)}'; }
check() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $1"; fi; }

# a single plain file: train, then eval its held-out tail
expect 0 "held out for eval: the last 5% of the text" -- "$GENC" train lm $TINY --data "$W/my.txt" --steps 2 --out "$W/own"
expect 0 "bits per character on .*my.txt (held-out split: the last 5%" -- "$GENC" eval "$W/own"

# One loss, one unit: console, metrics.csv (column loss_bpc) and eval all in bits per
# character. At (almost) no learning the model predicts ~uniformly over 260 tokens, so the
# training batch and the held-out tail both cost ~log2(260) = 8.02 bits per byte; they differ
# only by the init's small logits and by the text (different lines), well under 0.1 bits.
expect 0 "loss 8\.[0-9]* bpc" -- "$GENC" train lm $TINY --data "$W/my.txt" --lr 1e-9 --steps 10 --eval-every 10 --out "$W/unit"
check "metrics.csv has the unit in its loss column" '[ "$(head -1 "$W/unit/metrics.csv" | cut -d, -f2)" = loss_bpc ]'
check "training bpc $(col "$W/unit/metrics.csv" 10 2) = held-out bpc $(col "$W/unit/eval.csv" 10 2) at lr ~0" \
    'near "$(col "$W/unit/metrics.csv" 10 2)" "$(col "$W/unit/eval.csv" 10 2)" 0.1'
expect 0 "held-out bpc" -- "$GENC" train lm $TINY --data "$W/my.txt" --steps 10 --eval-every 5 --out "$W/unit2"

# the step a run stops at is in metrics.csv; resumed, the log equals an uninterrupted one and
# elapsed_s goes on from where it was
"$GENC" train lm $TINY --data "$W/my.txt" --steps 24 --stop-at 13 --out "$W/stop" 2>/dev/null
check "the stop step 13 is logged" '[ -n "$(col "$W/stop/metrics.csv" 13 1)" ]'
e13=$(col "$W/stop/metrics.csv" 13 6)
"$GENC" train lm --resume --out "$W/stop" 2>/dev/null
"$GENC" train lm $TINY --data "$W/my.txt" --steps 24 --out "$W/nonstop" 2>/dev/null
check "resumed log = uninterrupted log (steps, losses, lr, |g|)" \
    'cmp -s <(cut -d, -f1-4 "$W/stop/metrics.csv") <(cut -d, -f1-4 "$W/nonstop/metrics.csv")'
check "elapsed_s continues across resume ($e13 at step 13, $(col "$W/stop/metrics.csv" 20 6) at 20)" \
    'awk -v a="$e13" -v b="$(col "$W/stop/metrics.csv" 20 6)" "BEGIN {exit !(b + 0 >= a + 0 && a + 0 > 0)}"'

# a run logged before the unit existed ("loss" column, nats) resumes into its own column
"$GENC" train lm $TINY --data "$W/my.txt" --steps 20 --stop-at 10 --out "$W/old" 2>/dev/null
sed -i '1s/^step,loss_bpc,/step,loss,/' "$W/old/metrics.csv"
expect 0 "saved" -- "$GENC" train lm --resume --out "$W/old"
check "an old log keeps its header" '[ "$(head -1 "$W/old/metrics.csv" | cut -d, -f2)" = loss ] && [ -n "$(col "$W/old/metrics.csv" 20 2)" ]'

# --minutes runs evaluate on the held-out split by default; the default warmup is at most a
# fifth of a short run
expect 0 "held-out bpc" -- "$GENC" train lm $TINY --data "$W/my.txt" --minutes 0.05 --out "$W/min"
"$GENC" train lm --dim 16 --layers 1 --heads 2 --seq 16 --data "$W/my.txt" --steps 20 --out "$W/warm" 2>/dev/null
check "default warmup of a 20-step run is 4" '"$GENC" info "$W/warm" | grep -q "\"warmup\":4,"'

# No silent stretches: eval takes a byte cap; sample reports tokens/s and puts its headers on
# stderr (stdout holds only the text); on a terminal eval and sample draw a progress bar with
# an ETA (script(1) gives them one)
expect 0 '"bytes": 300,' -- "$GENC" eval "$W/unit" --data "$W/my.txt" --eval-bytes 300 --json
expect 0 "sampled 40 tokens in .* tokens/s" -- "$GENC" sample "$W/unit" --len 20 --n 2 --no-stop
"$GENC" sample "$W/unit" --len 20 --n 2 >"$W/stdout" 2>/dev/null
check "sample headers are not on stdout" '[ -s "$W/stdout" ] && ! grep -q -- "--- sample" "$W/stdout"'
"$GENC" train lm $TINY --objective mdlm --data "$W/my.txt" --steps 2 --out "$W/md" 2>/dev/null
if command -v script >/dev/null; then
    script -qc "'$GENC' eval '$W/md' --mc 2" /dev/null > "$W/tty" 2>&1
    check "eval shows progress and an ETA on a terminal" 'grep -q "ELBO draws .*ETA" "$W/tty"'
    script -qc "'$GENC' sample '$W/md' --len 32" /dev/null > "$W/tty" 2>&1
    check "diffusion sampling shows progress and an ETA on a terminal" 'grep -q "denoising steps .*ETA" "$W/tty"'
fi

# RoPE bookkeeping: a model trained with a scaling records its real --seq as L, and a plain
# eval equals an eval that names the same scaling and factor (one L everywhere)
"$GENC" train lm $TINY --data "$W/my.txt" --rope-scaling yarn --rope-factor 2 --steps 2 --out "$W/yarn" 2>/dev/null
check "rope_trained_len is --seq" '"$GENC" info "$W/yarn" | grep -q "\"rope_trained_len\":16,"'
a=$("$GENC" eval "$W/yarn" --data "$W/my.txt" --seq 32 --json | tail -1 | sed 's/.*"bpc": \([0-9.]*\).*/\1/')
b=$("$GENC" eval "$W/yarn" --data "$W/my.txt" --seq 32 --rope-scaling yarn --rope-factor 2 --json | tail -1 | sed 's/.*"bpc": \([0-9.]*\).*/\1/')
check "plain eval $a = eval --rope-scaling yarn --rope-factor 2 $b" '[ -n "$a" ] && [ "$a" = "$b" ]'
expect 0 "the checkpoint's" -- "$GENC" eval --help

# `genc sample lm DIR` (train's word order) works; a family other than the checkpoint's is a
# usage error that gives the right form; flags only diffusion models use are refused on ar
expect 0 "sampled" -- "$GENC" sample lm "$W/unit" --len 8
expect 0 "^family: lm" -- "$GENC" info lm "$W/unit"
expect 2 "holds a lm model, not classifier.*genc eval $W/unit" -- "$GENC" eval classifier "$W/unit"
for f in "--steps 8" "--block 4" "--remask random" "--cfg 1 --prompt a" "--sampler llada"; do
    expect 2 "for diffusion models" -- "$GENC" sample "$W/unit" --len 8 $f
done

# the docs stand alone: no references to files users do not have
if [ -n "$GENC_SOURCE_DIR" ]; then
    check "no spec/ references in docs, README, headers, sources or tests" \
        '! grep -rn "spec/" "$GENC_SOURCE_DIR"/docs "$GENC_SOURCE_DIR"/README.md "$GENC_SOURCE_DIR"/include "$GENC_SOURCE_DIR"/src "$GENC_SOURCE_DIR"/cli "$GENC_SOURCE_DIR"/bench "$GENC_SOURCE_DIR"/tests/parity'
fi

finish
