#!/bin/bash
# Continuous diffusion at the command line (genc train/sample/eval diffusion):
# - learning: a short checkerboard run (EDM, 1500 steps, ~5 s) reaches an energy distance below
#   0.01 to fresh data and a probability-flow NLL within 0.5 nats of the true entropy log 32;
#   a tiny U-Net's loss on Fashion-MNIST falls below 0.85 in 150 steps.
#   Measured: ED ≈ 0.000 ± 0.002 and gap ≈ 0.25–0.35; an untrained or 300-step model gives an
#   ED of 0.02–0.3 and a gap above 0.7, so both thresholds fail a model that did not learn;
# - every process trains, and every sampler runs on it (every sampler works with every model);
# - deterministic samplers give byte-identical samples at 1 and 2 threads; a resumed run's
#   checkpoint equals the uninterrupted run's;
# - image models (unet, dit, class-conditional with guidance) train, sample a PNG grid and
#   report bits/dim, the Fréchet distance in a classifier's features and, for conditional
#   models, that classifier's accuracy on the generated classes;
# - flag combinations that do not apply, a corrupted checkpoint and a wrong-shaped IDX file
#   give errors that say why.
GENC="$1"
source "$(dirname "$0")/lib_cli.sh"
export OMP_NUM_THREADS=1
T1="--threads 1"

# ---- learning
"$GENC" train diffusion --data toy:checkerboard --steps 1500 --lr 3e-3 $T1 --out "$W/edm" >"$W/log" 2>&1 \
    || { echo "FAIL: training"; cat "$W/log"; fail=$((fail+1)); }
expect 0 '"energy_distance"' -- "$GENC" eval "$W/edm" --n 1000 --ode-steps 24 --json $T1
read -r ed gap < <(python3 -c "import json,sys; d=json.load(open('$W/out')); print(d['energy_distance'], d['gap'])")
if python3 -c "import sys; sys.exit(0 if $ed < 0.01 and $gap < 0.5 else 1)"; then pass=$((pass+1)); else
    fail=$((fail+1)); echo "FAIL: checkerboard after 1500 steps: energy distance $ed (want < 0.01), NLL gap $gap (want < 0.5)"; fi

# ---- learning on a Fashion-MNIST subset: a tiny U-Net (width 8), 150 steps of batch 16 (~4 s).
# EDM's loss starts near 1.6 and a network that outputs zeros scores about 1 (unit-variance
# targets); measured mean of the last three logged rows 0.70, so below 0.85 means it learned.
"$GENC" train diffusion --data fashion-mnist --net unet --hidden 8 --heads 2 --batch 16 --steps 150 --lr 3e-3 $T1 \
    --out "$W/fm" >"$W/log" 2>&1 || { echo "FAIL: fashion-mnist training"; cat "$W/log"; fail=$((fail+1)); }
fm=$(tail -3 "$W/fm/metrics.csv" | awk -F, '{s += $2} END {printf "%.4f", s / NR}')
if python3 -c "import sys; sys.exit(0 if $fm < 0.85 else 1)"; then pass=$((pass+1)); else
    fail=$((fail+1)); echo "FAIL: fashion-mnist loss $fm after 150 steps (want < 0.85)"; fi

# ---- every process, every sampler
for proc in ddpm-linear ddpm-cosine vp ve flow; do
    "$GENC" train diffusion --data toy:8gaussians --process $proc --steps 20 --batch 64 --hidden 32 $T1 --out "$W/$proc" \
        >"$W/log" 2>&1 || { echo "FAIL: training $proc"; cat "$W/log"; fail=$((fail+1)); }
    for s in ddpm ddim euler euler-a heun dpmpp-2m flow-euler flow-heun; do
        sched=""
        case "$proc:$s" in flow:euler|flow:euler-a|flow:heun) sched="--schedule karras";; esac
        expect 0 "$W/$proc.png" -- "$GENC" sample "$W/$proc" --sampler $s --steps 4 --n 50 $sched --out "$W/$proc.png" $T1
    done
done
expect 0 "samples.png" -- "$GENC" sample "$W/edm" --sampler heun --churn 10 --steps 6 --n 100 $T1
expect 0 "x.png" -- "$GENC" sample "$W/flow" --sampler flow-heun --shift 3 --steps 6 --n 100 --out "$W/x.png" $T1
expect 0 "x.png" -- "$GENC" sample "$W/ddpm-linear" --sampler ddim --eta 1 --schedule leading --steps 6 --n 100 --out "$W/x.png" $T1
expect 0 "x.png" -- "$GENC" sample "$W/ddpm-linear" --sampler ddpm --large-variance --schedule linspace --steps 6 --n 100 --out "$W/x.png" $T1

# ---- EMA weights are what sample uses
expect 0 "saved" -- "$GENC" train diffusion --data toy:moons --steps 20 --ema 0.9 $T1 --out "$W/ema"
expect 0 "using the EMA weights" -- "$GENC" sample "$W/ema" --steps 4 --n 20 $T1

# ---- exact resume: stopped at step 20 and resumed, the checkpoint equals an uninterrupted run's
"$GENC" train diffusion --data toy:moons --steps 40 $T1 --out "$W/r1" >/dev/null 2>&1
"$GENC" train diffusion --data toy:moons --steps 40 --stop-at 20 $T1 --out "$W/r2" >/dev/null 2>&1
"$GENC" train diffusion --resume $T1 --out "$W/r2" >/dev/null 2>&1
if [ -s "$W/r1/model.safetensors" ] && cmp -s "$W/r1/model.safetensors" "$W/r2/model.safetensors"; then pass=$((pass+1)); else
    fail=$((fail+1)); echo "FAIL: a resumed diffusion run differs from the uninterrupted one"; fi

# ---- determinism at 1 and 2 threads
for s in ddim euler heun dpmpp-2m flow-euler; do
    "$GENC" sample "$W/edm" --sampler $s --steps 8 --n 500 --save "$W/a.safetensors" --out "$W/a.png" --threads 1 >/dev/null 2>&1
    "$GENC" sample "$W/edm" --sampler $s --steps 8 --n 500 --save "$W/b.safetensors" --out "$W/b.png" --threads 2 >/dev/null 2>&1
    if [ -s "$W/a.safetensors" ] && cmp -s "$W/a.safetensors" "$W/b.safetensors"; then pass=$((pass+1)); else
        fail=$((fail+1)); echo "FAIL: $s samples differ between 1 and 2 threads"; fi
    rm -f "$W/a.safetensors" "$W/b.safetensors"
done

# ---- images
TINY="--data fashion-mnist --steps 2 --batch 4 $T1"
expect 0 "saved" -- "$GENC" train diffusion --net unet --hidden 8 --heads 2 $TINY --out "$W/unet"
expect 0 "grid.png" -- "$GENC" sample "$W/unet" --n 4 --steps 2 --out "$W/grid.png" $T1
# the denoised estimate is clamped to the data range by default; --no-clip samples without
expect 0 "grid2.png" -- "$GENC" sample "$W/unet" --n 4 --steps 2 --no-clip --out "$W/grid2.png" $T1
expect 0 '"bits_per_dim"' -- "$GENC" eval "$W/unet" --n 2 --ode-steps 2 --json $T1
expect 0 "saved" -- "$GENC" train diffusion --net dit --hidden 16 --layers 1 --heads 2 --patch 7 --process flow $TINY --out "$W/dit"
expect 0 "grid.png" -- "$GENC" sample "$W/dit" --n 4 --steps 2 --out "$W/grid.png" $T1
expect 0 "saved" -- "$GENC" train diffusion --net unet --hidden 8 --heads 2 --cond class --label-dropout 0.2 $TINY --out "$W/cond"
expect 0 "grid.png" -- "$GENC" sample "$W/cond" --n 10 --steps 2 --cfg 2 --out "$W/grid.png" $T1
expect 0 "grid.png" -- "$GENC" sample "$W/cond" --n 4 --steps 2 --class 3 --out "$W/grid.png" $T1
# Fréchet distance in a classifier's features, and its accuracy on generated classes
expect 0 "saved" -- "$GENC" train classifier --net mlp --hidden 16 --steps 3 --batch 8 $T1 --out "$W/cls"
expect 0 '"frechet_distance"' -- "$GENC" eval "$W/unet" --n 2 --ode-steps 2 --classifier "$W/cls" --fd-n 20 --fd-steps 2 --json $T1
expect 0 '"fd_sampler": "ddim", "fd_steps": 3' -- "$GENC" eval "$W/unet" --fd-only --sampler ddim --classifier "$W/cls" --fd-n 20 --fd-steps 3 --json $T1
if grep -q '"bits_per_dim"' "$W/out"; then fail=$((fail+1)); echo "FAIL: --fd-only still measured bits/dim"; else pass=$((pass+1)); fi
expect 0 '"class_accuracy": 0' -- "$GENC" eval "$W/cond" --n 2 --ode-steps 2 --classifier "$W/cls" --fd-n 20 --fd-steps 2 --cfg 2 --json $T1

# ---- usage errors that say why (exit 2)
expect 2 "apply to the heun sampler" -- "$GENC" sample "$W/edm" --sampler ddim --churn 5
expect 2 "applies to the ddim sampler" -- "$GENC" sample "$W/edm" --sampler heun --eta 0.5
expect 2 "applies to flow-euler and flow-heun" -- "$GENC" sample "$W/edm" --sampler euler --shift 3
expect 2 "applies to the ddpm sampler" -- "$GENC" sample "$W/edm" --sampler euler --large-variance
expect 2 "default sampler heun" -- "$GENC" sample "$W/edm" --eta 0.5
expect 2 "\-\-steps expects" -- "$GENC" sample "$W/edm" --steps 0
expect 2 "unconditional" -- "$GENC" sample "$W/edm" --cfg 2
expect 2 "unconditional" -- "$GENC" sample "$W/edm" --class 1
expect 2 "knows classes 0..9" -- "$GENC" sample "$W/cond" --class 10
expect 2 "DDPM's discrete steps" -- "$GENC" sample "$W/edm" --schedule trailing
expect 2 "unknown sampler" -- "$GENC" sample "$W/edm" --sampler bogus
expect 2 "takes --net mlp" -- "$GENC" train diffusion --data toy:moons --net unet --out "$W/bad"
expect 2 "no classes" -- "$GENC" train diffusion --data toy:moons --cond class --out "$W/bad"
expect 2 "class-conditional models" -- "$GENC" train diffusion --data toy:moons --label-dropout 0.1 --out "$W/bad"
expect 2 "continuous" -- "$GENC" train diffusion --data toy:moons --process vp --T 500 --out "$W/bad"
expect 2 "unknown process" -- "$GENC" train diffusion --process bogus --out "$W/bad"
expect 2 "needs --classifier" -- "$GENC" eval "$W/unet" --sampler heun
expect 2 "needs --classifier" -- "$GENC" eval "$W/unet" --fd-only
expect 2 "for images, --fd-steps" -- "$GENC" eval "$W/unet" --steps 10
expect 2 "for image models" -- "$GENC" eval "$W/edm" --fd-only
expect 2 "2D toy model" -- "$GENC" eval "$W/edm" --classifier "$W/cls"
expect 2 "unconditional" -- "$GENC" eval "$W/unet" --cfg 2
# the image shape is known once the data is read: exit 1 with the reason
expect 1 "must divide the image sides 28×28" -- "$GENC" train diffusion --data fashion-mnist --net dit --patch 3 --out "$W/bad"

# ---- hostile files (exit 1)
head -c 300 "$W/edm/model.safetensors" >"$W/trunc.safetensors"
expect 1 "error" -- "$GENC" sample "$W/trunc.safetensors"
printf '\x00\x00\x08\x01\x00\x00\x00\x10AAAAAAAAAAAAAAAA' >"$W/flat-images.idx"
expect 1 "flat-images.idx" -- "$GENC" train diffusion --data "$W/flat-images.idx" --out "$W/bad"

finish
