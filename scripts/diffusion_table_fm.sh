#!/bin/bash
# The Fashion-MNIST table of docs/diffusion.md: one small U-Net per process (the same size,
# steps, batch, learning rate and EMA), each sampled with its usual sampler (DDPM also with
# DDIM) at 10, 25 and 50 steps. Bits/dim (probability-flow ODE) is measured once per model; the
# Fréchet distance (features of a CNN classifier trained here) once per sampler and step count.
# Prints markdown rows and writes a 64-image grid per row into OUTDIR.
# Training runs on one thread; the evaluations on THREADS (default 1).
# usage: scripts/diffusion_table_fm.sh GENC OUTDIR [TRAIN_STEPS] [FD_N] [BPD_N] [THREADS]
set -e
GENC=${1:-build/genc}; OUT=${2:-/tmp/diffusion-table-fm}; STEPS=${3:-3000}; FDN=${4:-1000}; BN=${5:-32}; TH=${6:-1}
mkdir -p "$OUT"
[ -f "$OUT/cls/model.safetensors" ] || "$GENC" train classifier --net cnn --minutes 3 --threads 1 --out "$OUT/cls" >/dev/null 2>&1
echo "| process | pred | sampler | steps | Fréchet distance | bits/dim | train s | sample s |"
echo "|---|---|---|---|---|---|---|---|"
for row in "ddpm-linear:ddpm" "ddpm-linear:ddim" "ddpm-linear:heun" "ddpm-cosine:ddpm" "vp:euler" "ve:euler" "edm:heun" "edm:euler" "flow:flow-euler"; do
    proc=${row%%:*}; sampler=${row##*:}
    [ -f "$OUT/$proc/model.safetensors" ] || "$GENC" train diffusion --data fashion-mnist --net unet --hidden 16 \
        --process $proc --batch 32 --lr 2e-3 --ema 0.999 --steps $STEPS --threads 1 --out "$OUT/$proc" >/dev/null 2>&1
    [ -f "$OUT/$proc/bpd.json" ] || "$GENC" eval "$OUT/$proc" --n $BN --ode-steps 24 --threads $TH --json | tail -1 > "$OUT/$proc/bpd.json"
    train_s=$(python3 -c "import csv; r=list(csv.DictReader(open('$OUT/$proc/metrics.csv'))); print('%.0f' % float(r[-1]['elapsed_s']))")
    for n in 10 25 50; do
        f="$OUT/$proc/fd-$sampler-$n.json"
        [ -f "$f" ] || "$GENC" eval "$OUT/$proc" --fd-only --classifier "$OUT/cls" --fd-n $FDN --sampler $sampler \
            --fd-steps $n --threads $TH --json | tail -1 > "$f"
        python3 - "$f" "$OUT/$proc/bpd.json" "$train_s" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
print('| %s | %s | %s | %d | %.1f | %.3f ± %.3f | %s | %.1f |' % (d['process'], d['pred'], d['fd_sampler'], d['fd_steps'],
      d['frechet_distance'], b['bits_per_dim'], b['bpd_stderr'], sys.argv[3], d['seconds_fd']))
PY
        [ -f "$OUT/$proc-$sampler-$n.png" ] || "$GENC" sample "$OUT/$proc" --sampler $sampler --steps $n --n 64 \
            --threads $TH --out "$OUT/$proc-$sampler-$n.png" >/dev/null 2>&1
    done
done
