#!/bin/bash
# Softmax (CLIP) against sigmoid (SigLIP) at batch sizes 16, 64 and 256 at equal training
# compute: every model sees the same number of training images (IMAGES, default 393216 =
# 24576 steps of 16 = 6144 of 64 = 1536 of 256), with the same model, learning rate,
# schedule (warm-up a twentieth of the steps, cosine to a tenth) and seed. Prints one markdown
# table: zero-shot top-1 with one template and with the ensemble, image->text and text->image
# R@1 on 1000 held-out pairs, the two-item swapped-order accuracy and pair R@1 (in brackets:
# either order counts), the linear probe, and the training time.
#
#   scripts/clip_batch_study.sh [OUT_DIR]      (default runs/clip_batch_study)
#
# Environment: GENC (default build/genc), THREADS (default 1), IMAGES, MODEL (the model flags),
# LR, PAIRS (--pair-fraction), BATCHES, LOSSES. A finished run (model.safetensors at its last
# step) is reused, so an interrupted study continues where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
GENC=${GENC:-build/genc}
OUT=${1:-runs/clip_batch_study}
THREADS=${THREADS:-1}
IMAGES=${IMAGES:-393216}
MODEL=${MODEL:---dim 32 --heads 2 --embed 32 --patch 7 --image-layers 2 --text-layers 2}
LR=${LR:-1e-3}
PAIRS=${PAIRS:-0.25}
BATCHES=${BATCHES:-16 64 256}
LOSSES=${LOSSES:-softmax sigmoid}
PY=${GENC_PYTHON:-/usr/bin/python3}
export OMP_NUM_THREADS=$THREADS
mkdir -p "$OUT"

rows=()
for B in $BATCHES; do
    for L in $LOSSES; do
        steps=$((IMAGES / B))
        warm=$((steps / 20))
        d="$OUT/$L-$B"
        if ! "$GENC" info "$d" 2>/dev/null | grep -qx "step: $steps"; then
            start=$(date +%s)
            "$GENC" train clip $MODEL --loss "$L" --batch "$B" --steps "$steps" --warmup "$warm" --lr "$LR" \
                --pair-fraction "$PAIRS" --threads "$THREADS" --save-every 0 --out "$d" --force > "$d.train.log" 2>&1
            echo $(( $(date +%s) - start )) > "$d.seconds"
        fi
        "$GENC" eval "$d" --json --pairs 1000 --order-pairs 1000 --probe 5000 > "$d.eval.log"
        rows+=("$B $L $steps $(cat "$d.seconds" 2>/dev/null || echo nan) $(tail -n 1 "$d.eval.log")")
    done
done

printf '%s\n' "${rows[@]}" | "$PY" -c '
import json, sys
print("| batch | loss | steps | zero-shot, one template | ensemble | image→text R@1 | text→image R@1 | swapped order | pair R@1 (either order) | linear probe | training s |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for line in sys.stdin:
    b, loss, steps, sec, js = line.split(" ", 4)
    r = json.loads(js)
    f = lambda k: "%.3f" % r[k] if r.get(k) is not None else "–"
    print("| %s | %s | %s | %s | %s | %s | %s | %s | %s (%s) | %s | %s |" % (b, loss, steps, f("zero_shot_top1"),
          f("zero_shot_top1_ensemble"), f("i2t_r1"), f("t2i_r1"), f("order_acc"), f("pair_r1"), f("pair_r1_unordered"),
          f("linear_probe"), sec.strip()))
'
