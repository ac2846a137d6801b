#!/bin/bash
# Data-parallel training under mpirun (docs/distributed.md), 2 ranks of 1 thread on one machine:
#  - 1 rank under mpirun writes the same checkpoint, byte for byte, as no mpirun;
#  - 2 ranks at global batch B give the weights of 1 process at batch B, for an LM (with
#    dropout, whose masks must be the same draws), a diffusion model (per-example noise
#    levels and noise) and a SigLIP model (the ring loss inside the trainer);
#  - resume crosses rank counts (2 → 1 and 1 → 2) and matches the uninterrupted run;
#  - only rank 0 writes files or prints; --batch must divide over the ranks;
#  - a checkpoint missing or different on one rank fails before training;
#  - a killed rank ends the job with a non-zero exit within 30 s.
# Skipped (exit 77, "MPI not built") when genc was built without MPI support.
#
# Tolerance, 2e-5 on every float of the checkpoint (weights and AdamW moments) after 10
# steps: the ranks sum the same per-example terms in another order (each rank's half of the
# batch, then the all-reduce), float32 rounding of ~1e-7 relative per gradient, which AdamW
# carries into the weights at up to about lr × (relative error) per step; measured: 2.2e-6
# (lm), 1.3e-7 (diffusion), 8.0e-6 (siglip, with two-item pairs), 4.4e-6 (blip; 1.0e-5 with 4
# ranks and 15 steps).
# A single wrong draw is far outside it: changing only the dropout rate from 0.1 to 0.09
# (other masks, same data) moves the weights by 1.3e-2, another seed moves BLIP's by 0.95.
GENC="$1"
source "$(dirname "$0")/lib_cli.sh"
if ! "$GENC" --version | grep -q "MPI data parallelism: built in"; then
    echo "MPI not built: skipping (install libopenmpi-dev openmpi-bin and rebuild)"
    exit 77
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
# --oversubscribe: more ranks than cores is fine for a test; --bind-to none: ranks of a busy
# machine move between cores
MPI="mpirun --oversubscribe --bind-to none"
PY="${GENC_PYTHON:-/usr/bin/python3}"
CMP="$(dirname "$0")/mpi_compare.py"
TOL=2e-5

same() { # same WHAT A B [ATOL]
    local out
    if out=$("$PY" "$CMP" "$2/model.safetensors" "$3/model.safetensors" "${4:-$TOL}"); then
        pass=$((pass+1)); echo "ok: $1: $out"
    else fail=$((fail+1)); echo "FAIL: $1: $out"; fi
}
check() { # check WHAT CONDITION...
    if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $1"; fi
}

LM="lm --dim 32 --layers 2 --heads 2 --seq 32 --batch 8 --steps 10 --warmup 2 --seed 7 --dropout 0.1 --threads 1"
DIF="diffusion --data toy:checkerboard --batch 32 --steps 10 --warmup 2 --threads 1"
SIG="clip --loss sigmoid --dim 16 --heads 2 --embed 8 --patch 7 --image-layers 1 --text-layers 1 --batch 8 --warmup 2 --steps 8 --threads 1"
# BLIP: ITC through the all-gather, the hard negatives drawn for the whole batch on every
# rank, each rank scoring the pairs of its own images and its own captions
BLIP="blip --dim 16 --heads 2 --embed 8 --patch 7 --image-layers 1 --text-layers 1 --batch 8 --warmup 2 --steps 8 --threads 1"

# ---- 2 ranks == 1 process
for name in LM DIF SIG BLIP; do
    args=${!name}
    "$GENC" train $args --out "$W/$name-1" 2>/dev/null
    $MPI -np 2 "$GENC" train $args --out "$W/$name-2" >"$W/$name.out" 2>"$W/$name.err"
    same "$name: 2 ranks vs 1 process" "$W/$name-1" "$W/$name-2"
done
$MPI -np 1 "$GENC" train $LM --out "$W/LM-mpi1" 2>/dev/null
check "1 rank under mpirun is bit-identical to no mpirun" 'cmp -s "$W/LM-1/model.safetensors" "$W/LM-mpi1/model.safetensors"'
"$GENC" train ${LM/--dropout 0.1/--dropout 0.09} --out "$W/other" 2>/dev/null
if "$PY" "$CMP" "$W/LM-1/model.safetensors" "$W/other/model.safetensors" "$TOL" --weights-only >/dev/null; then
    fail=$((fail+1)); echo "FAIL: other dropout masks stay within the tolerance: the comparison cannot fail"
else pass=$((pass+1)); fi

# ---- only rank 0 prints and writes (rank 1 runs in an empty folder of its own: --out is
# relative, so anything it wrote would land there)
check "rank 0 alone reports: $(grep -c 'genc: saved' "$W/LM.err") 'saved' lines" '[ "$(grep -c "genc: saved" "$W/LM.err")" = 1 ]'
mkdir -p "$W/r0" "$W/r1"
$MPI -np 1 --wdir "$W/r0" "$GENC" train $LM --out run : -np 1 --wdir "$W/r1" "$GENC" train $LM --out run 2>/dev/null
check "the MPMD run wrote its checkpoint" '[ -s "$W/r0/run/model.safetensors" ] && [ -s "$W/r0/run/metrics.csv" ]'
check "rank 1 wrote files: $(ls -A "$W/r1")" '[ -z "$(ls -A "$W/r1")" ]'
same "rank 0 of the MPMD run" "$W/LM-1" "$W/r0/run"

# ---- resume across rank counts: 2 → 1 and 1 → 2, against the uninterrupted 1-process run
$MPI -np 2 "$GENC" train $LM --stop-at 5 --out "$W/a" 2>/dev/null
check "2 ranks stopped at step 5" '"$GENC" info "$W/a" | grep -q "^step: 5$"'
"$GENC" train lm --resume --threads 1 --out "$W/a" 2>/dev/null
same "2 ranks to step 5, resumed on 1" "$W/LM-1" "$W/a"
"$GENC" train $LM --stop-at 5 --out "$W/b" 2>/dev/null
$MPI -np 2 "$GENC" train lm --resume --threads 1 --out "$W/b" 2>/dev/null
same "1 process to step 5, resumed on 2 ranks" "$W/LM-1" "$W/b"
check "the resumed log: $(cut -d, -f1 "$W/b/metrics.csv" | tr "\n" " ")" '[ "$(cut -d, -f1 "$W/b/metrics.csv" | tr "\n" " ")" = "step 10 " ]'

# ---- usage: the global batch must divide over the ranks; other verbs are not distributed
expect 2 "must divide evenly over the 2 ranks" -- $MPI -np 2 "$GENC" train ${LM/--batch 8/--batch 7} --out "$W/x"
check "the refused run wrote nothing" '[ ! -e "$W/x" ]'
expect 2 "only train is distributed" -- $MPI -np 2 "$GENC" info "$W/a"

# ---- resume needs the same checkpoint on every rank: missing on rank 1, or another one
rm -rf "$W/r1"/* && mkdir -p "$W/r1"
cp -r "$W/a" "$W/r0/res"
expect 1 "rank 1 of 2: --resume" -- timeout 120 $MPI -np 1 --wdir "$W/r0" "$GENC" train lm --resume --out res : \
    -np 1 --wdir "$W/r1" "$GENC" train lm --resume --out res
cp -r "$W/b" "$W/r1/res" && "$GENC" train lm --resume --steps 11 --threads 1 --out "$W/r1/res" 2>/dev/null
expect 1 "checkpoint differs between the ranks" -- timeout 120 $MPI -np 1 --wdir "$W/r0" "$GENC" train lm --resume \
    --steps 20 --out res : -np 1 --wdir "$W/r1" "$GENC" train lm --resume --steps 20 --out res
check "the refused resume left rank 0's checkpoint at step 10" '"$GENC" info "$W/r0/res" | grep -q "^step: 10$"'

# ---- a killed rank ends the job: non-zero, within 30 s (mpirun's daemon sees its child die
# and ends the other ranks at once; 30 s leaves room for a loaded machine), and the last
# checkpoint is still whole
$MPI -np 2 "$GENC" train ${LM/--steps 10/--steps 1000000} --save-every 20 --out "$W/kill" >/dev/null 2>"$W/kill.err" &
job=$!
victim=""
for _ in $(seq 200); do # up to 20 s for the first checkpoint
    if [ -s "$W/kill/model.safetensors" ]; then
        for p in /proc/[0-9]*; do
            if grep -qa "$W/kill" "$p/cmdline" 2>/dev/null && tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1"; then
                victim=${p#/proc/}
            fi
        done
        [ -n "$victim" ] && break
    fi
    sleep 0.1
done
if [ -z "$victim" ]; then
    fail=$((fail+1)); echo "FAIL: no rank 1 to kill"; kill "$job"
else
    t0=$(date +%s%N)
    kill -9 "$victim"
    for _ in $(seq 300); do kill -0 "$job" 2>/dev/null || break; sleep 0.1; done
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    if kill -0 "$job" 2>/dev/null; then
        fail=$((fail+1)); echo "FAIL: the job still runs 30 s after rank 1 was killed"; kill -9 "$job"
    else
        wait "$job"; rc=$?
        check "killed rank: exit $rc after $ms ms, want non-zero" '[ "$rc" != 0 ]'
        echo "ok: killed rank 1: the job ended with exit $rc after $ms ms"
        check "mpirun names the killed rank: $(cat "$W/kill.err")" 'grep -q "signal 9" "$W/kill.err"'
    fi
    check "the last checkpoint is whole after the kill" '"$GENC" info "$W/kill" | grep -q "^step: [1-9]"'
fi
finish
