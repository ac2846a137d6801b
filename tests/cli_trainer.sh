#!/bin/bash
# The shared trainer at the command line: --version and --help list what there is; a folder
# holding a run is not overwritten without --force; a run too large for the machine is refused
# up front; checkpoints of an unknown family or a newer format are refused by every verb;
# SIGINT and SIGTERM save a checkpoint and exit 130 / 143, and --resume then ends exactly where
# an uninterrupted run does (checkpoint byte for byte, metrics row for row); --ema keeps EMA
# weights that eval and sample use.
GENC="$1"
source "$(dirname "$0")/lib_cli.sh"
PY="${GENC_PYTHON:-python3}"

expect 0 "^genc [0-9][0-9.]* " -- "$GENC" --version
expect 0 "^families" -- "$GENC" --help
expect 0 "^  lm  " -- "$GENC" --help
expect 0 "^  lm  " -- "$GENC" train --help
expect 0 "^  --ema D" -- "$GENC" train lm --help
expect 0 "^  --objective O" -- "$GENC" train lm --help
expect 0 "^lm (" -- "$GENC" eval --help
expect 2 "unknown family 'cats' for train (available: lm" -- "$GENC" train cats
expect 2 "needs a family" -- "$GENC" train --steps 3

TINY="--dim 16 --layers 1 --heads 2 --seq 16 --batch 2 --warmup 5 --dropout 0.1 --seed 5 --threads 1"

# an existing run is kept unless --resume or --force
"$GENC" train lm $TINY --steps 3 --out "$W/run" 2>/dev/null || { echo "FAIL: tiny run"; fail=$((fail+1)); }
cp "$W/run/model.safetensors" "$W/run3.safetensors"
expect 1 "already holds a run.*--resume.*--out DIR.*--force" -- "$GENC" train lm $TINY --steps 3 --out "$W/run"
if cmp -s "$W/run/model.safetensors" "$W/run3.safetensors"; then pass=$((pass+1)); else
    fail=$((fail+1)); echo "FAIL: a refused run changed the checkpoint"; fi
expect 0 "step 4" -- "$GENC" train lm $TINY --steps 4 --force --out "$W/run"
expect 0 "^step: 4$" -- "$GENC" info "$W/run"
expect 2 "^genc: error: --lr: a resumed run keeps its checkpoint's settings" -- "$GENC" train lm --resume --lr 0.1 --out "$W/run"
expect 2 "give one of them" -- "$GENC" train lm --resume --force --out "$W/run"

# too large for this machine: said up front with the estimate, nothing written
expect 2 "config has 824696799232 parameters, about 12289 GiB to train" -- "$GENC" train lm --layers 256 --dim 16384 --heads 128 --out "$W/huge"
if [ -e "$W/huge" ]; then fail=$((fail+1)); echo "FAIL: a refused run created its folder"; else pass=$((pass+1)); fi

# a temporary left by a killed save (its writer's pid is gone) is removed by the next save
touch "$W/run/model.safetensors.tmp.2147483646"
expect 0 "" -- "$GENC" train lm --resume --steps 5 --out "$W/run"
if ls "$W/run" | grep -q "tmp"; then fail=$((fail+1)); echo "FAIL: stale temporary left"; else pass=$((pass+1)); fi

# checkpoints this build cannot read: a newer format, an unknown family
sed_bytes() { "$PY" -c 'import sys; d=open(sys.argv[1],"rb").read(); open(sys.argv[2],"wb").write(d.replace(sys.argv[3].encode(), sys.argv[4].encode(), 1))' "$@"; }
sed_bytes "$W/run/model.safetensors" "$W/newer.safetensors" '"format":"genc-2"' '"format":"genc-9"'
sed_bytes "$W/run/model.safetensors" "$W/alien.safetensors" '"family":"lm"' '"family":"xy"'
for verb in eval sample info; do
    expect 1 "written by a newer genc (format genc-9; this build reads genc-1 to genc-2)" -- "$GENC" $verb "$W/newer.safetensors"
    expect 1 "family 'xy', which this build of genc does not know (it knows: lm" -- "$GENC" $verb "$W/alien.safetensors"
done
mkdir -p "$W/newer" && cp "$W/newer.safetensors" "$W/newer/model.safetensors"
expect 1 "newer genc" -- "$GENC" train lm --resume --out "$W/newer"

# EMA: stored with the run, used by eval and sample (and said so)
expect 0 "" -- "$GENC" train lm $TINY --steps 6 --ema 0.9 --out "$W/ema"
expect 0 "^weights: EMA kept" -- "$GENC" info "$W/ema"
expect 0 "ema.tok_emb.weight" -- "$GENC" info "$W/ema" --tensors
expect 0 "using the EMA weights (decay 0.9)" -- "$GENC" eval "$W/ema" --seq 16
expect 0 "using the EMA weights" -- "$GENC" sample "$W/ema" --len 8

# SIGINT / SIGTERM mid-run, then --resume: the same checkpoint and metrics as straight through
LONG="$TINY --steps 6000 --save-every 0"
"$GENC" train lm $LONG --out "$W/straight" 2>/dev/null
for sig in INT TERM; do
    d="$W/sig$sig"
    "$GENC" train lm $LONG --out "$d" 2>"$W/sig.err" &
    pid=$!
    for i in $(seq 600); do  # until a few metrics rows show it is well under way (up to 30 s)
        [ -f "$d/metrics.csv" ] && [ "$(wc -l < "$d/metrics.csv")" -ge 4 ] && break
        sleep 0.05
    done
    kill -$sig $pid
    wait $pid
    rc=$?
    want=$([ $sig = INT ] && echo 130 || echo 143)
    step=$("$GENC" info "$d" 2>/dev/null | sed -n 's/^step: //p')
    if [ "$rc" = "$want" ] && [ -n "$step" ] && [ "$step" -gt 0 ] && [ "$step" -lt 6000 ] \
        && grep -q "stopped by SIG$sig after step $step" "$W/sig.err"; then pass=$((pass+1))
    else fail=$((fail+1)); echo "FAIL: SIG$sig: exit $rc (want $want), checkpoint step '$step'"; cat "$W/sig.err"; fi
    "$GENC" train lm --resume --out "$d" 2>/dev/null
    if cmp "$W/straight/model.safetensors" "$d/model.safetensors"; then pass=$((pass+1))
    else fail=$((fail+1)); echo "FAIL: SIG$sig + resume: checkpoint differs from the straight run"; fi
    if diff <(cut -d, -f1-4 "$W/straight/metrics.csv") <(cut -d, -f1-4 "$d/metrics.csv") >/dev/null; then pass=$((pass+1))
    else fail=$((fail+1)); echo "FAIL: SIG$sig + resume: metrics differ from the straight run"; fi
done

finish
