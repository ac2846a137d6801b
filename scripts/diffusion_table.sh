#!/bin/bash
# The checkerboard table of docs/diffusion.md: one model per process (the same MLP, steps and
# learning rate), each sampled with its usual sampler (and DDPM also with DDIM) at 10, 25 and
# 50 steps. Prints markdown rows: process, sampler, steps, energy distance, NLL, gap, seconds.
# usage: scripts/diffusion_table.sh GENC OUTDIR [TRAIN_STEPS]
GENC=${1:-build/genc}; OUT=${2:-/tmp/diffusion-table}; STEPS=${3:-4000}
mkdir -p "$OUT"
echo "| process | pred | sampler | steps | energy distance | NLL (nats) | gap to log 32 | sample s |"
echo "|---|---|---|---|---|---|---|---|"
for row in "ddpm-linear:ddpm" "ddpm-linear:ddim" "vp:euler" "ve:euler" "edm:heun" "edm:euler" "flow:flow-euler" "flow:flow-heun"; do
    proc=${row%%:*}; sampler=${row##*:}
    [ -f "$OUT/$proc/model.safetensors" ] || "$GENC" train diffusion --data toy:checkerboard --process $proc \
        --steps $STEPS --lr 3e-3 --threads 1 --out "$OUT/$proc" >/dev/null 2>&1
    for n in 10 25 50; do
        "$GENC" eval "$OUT/$proc" --sampler $sampler --steps $n --n 2000 --ode-steps 32 --threads 1 --json |
            python3 -c "import json,sys; d=json.load(sys.stdin); print('| %s | %s | %s | %d | %.4f | %.3f ± %.3f | %.3f | %.2f |' % (d['process'], d['pred'], d['sampler'], d['steps'], d['energy_distance'], d['nll'], d['nll_stderr'], d['gap'], d['seconds_sample']))"
        "$GENC" sample "$OUT/$proc" --sampler $sampler --steps $n --n 2000 --threads 1 --out "$OUT/$proc-$sampler-$n.png" >/dev/null 2>&1
    done
done
