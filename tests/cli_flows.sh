#!/bin/bash
# genc train/eval/sample flow, genc encode/decode: the commands work end to end, resume is
# exact for Glow (its ActNorm is initialised once, on the first batch, and not again on
# resume), encode → decode gives the same pixels back (through Glow's learned prior), a divergent learning rate stops with a
# clear error and leaves no corrupted checkpoint, hostile flags and checkpoints are errors.
GENC="$1"
source "$(dirname "$0")/lib_cli.sh"
PY="${GENC_PYTHON:-/usr/bin/python3}"

# 2D: train, eval (entropy and gap), density picture
expect 0 "saved" -- "$GENC" train flow --arch realnvp --data toy:8gaussians --steps 50 --batch 32 --out "$W/toy"
expect 0 '"entropy": 2.83' -- "$GENC" eval "$W/toy" --json --n 2000
expect 0 "wrote" -- "$GENC" sample "$W/toy" --n 500 --out "$W/toy.png"
[ -s "$W/toy.png" ] && pass=$((pass+1)) || { fail=$((fail+1)); echo "FAIL: no toy.png"; }
expect 0 "realnvp flow" -- "$GENC" info "$W/toy"

# images: a tiny Glow; exact resume (straight 6 steps == 3 steps, stop, resume to 6)
tiny="--arch glow --depth 1 --width 8 --batch 8 --steps 6 --warmup 2 --seed 3 --threads 1"
expect 0 "saved" -- "$GENC" train flow $tiny --out "$W/straight"
expect 0 "saved" -- "$GENC" train flow $tiny --out "$W/split" --stop-at 3
expect 0 "resuming" -- "$GENC" train flow --resume --out "$W/split"
if cmp -s "$W/straight/model.safetensors" "$W/split/model.safetensors"; then pass=$((pass+1))
else fail=$((fail+1)); echo "FAIL: resumed glow differs from the straight run (ActNorm re-initialised?)"; fi
expect 0 "bits/dim" -- "$GENC" eval "$W/straight" --n 50
expect 0 '"bpd"' -- "$GENC" eval "$W/straight" --n 50 --json
expect 0 "wrote" -- "$GENC" sample "$W/straight" --n 4 --temperature 0.7 --out "$W/s.png"
expect 0 "wrote" -- "$GENC" sample "$W/straight" --interpolate 0,1 --n 5 --out "$W/i.png"
# Glow learns its prior by default; --prior-net none is the fixed N(0, I)
expect 0 "gaussian prior (learned, conv)" -- "$GENC" info "$W/straight"
expect 0 "saved" -- "$GENC" train flow $tiny --prior-net none --out "$W/fixed"
if "$GENC" info "$W/fixed" | grep -q "learned"; then fail=$((fail+1)); echo "FAIL: --prior-net none still learned"
else pass=$((pass+1)); fi

# encode → decode is exact: the first 12 test images as an IDX file, back byte for byte
"$PY" - "$W/x.idx" <<'EOF'
import gzip, sys
d = gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").read()
n = 12
open(sys.argv[1], "wb").write(bytes([0, 0, 8, 3]) + n.to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + d[16:16 + n * 784])
EOF
expect 0 "12 latents of 784" -- "$GENC" encode "$W/straight" --images "$W/x.idx" --out "$W/z.safetensors"
expect 0 "12 images" -- "$GENC" decode "$W/straight" --latents "$W/z.safetensors" --out "$W/y.idx"
if cmp -s "$W/x.idx" "$W/y.idx"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: decode(encode(x)) != x"; fi
expect 0 "wrote" -- "$GENC" decode "$W/straight" --latents "$W/z.safetensors" --out "$W/y.png"

# a divergent learning rate: a clear error naming the non-finite value, exit 1, and the
# checkpoint left behind is the last good step's (finite tensors: the saver refuses others),
# which still reads as a flow
expect 1 "the loss is \(NaN\|+inf\).*still holds step" -- "$GENC" train flow --arch realnvp --data toy:8gaussians --lr 9 --warmup 0 --clip 0 --steps 50 --save-every 1 --out "$W/div"
expect 0 "realnvp flow" -- "$GENC" info "$W/div"

# hostile flags
expect 2 "genc: error: --arch" -- "$GENC" train flow --arch maf --out "$W/h"
expect 2 "genc: error: --prior" -- "$GENC" train flow --prior cauchy --out "$W/h"
expect 2 "genc: error: --depth" -- "$GENC" train flow --depth 0 --out "$W/h"
expect 2 "genc: error: --input" -- "$GENC" train flow --input sigmoid --out "$W/h"
expect 2 "genc: error: --prior-net" -- "$GENC" train flow --prior-net mlp --out "$W/h"
expect 1 "genc: error:.*needs --prior gaussian" -- "$GENC" train flow --prior logistic --prior-net conv --steps 1 --out "$W/h"
expect 1 "genc: error:.*divisible" -- "$GENC" train flow --levels 3 --steps 1 --out "$W/h"
expect 1 "genc: error:.*checkerboard" -- "$GENC" train flow --data toy:nope --steps 1 --out "$W/h"
expect 1 "genc: error:.*levels" -- "$GENC" train flow --arch nice --levels 2 --steps 1 --out "$W/h"
expect 2 "genc: error: --interpolate" -- "$GENC" sample "$W/straight" --interpolate 3
expect 1 "genc: error:.*test split" -- "$GENC" sample "$W/straight" --interpolate 0,99999
expect 2 "genc: error:.*2D flow" -- "$GENC" encode "$W/toy" --images "$W/x.idx"
expect 1 "genc: error:.*latents" -- "$GENC" decode "$W/straight" --latents "$W/toy/model.safetensors" --out "$W/q.idx"
expect 2 "genc: error:.*png or .idx" -- "$GENC" decode "$W/straight" --latents "$W/z.safetensors" --out "$W/q.jpg"

# hostile checkpoints: a config that does not match the tensors, or out of range
"$PY" - "$W/straight/model.safetensors" "$W/bad1.safetensors" "$W/bad2.safetensors" <<'EOF'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
for out, key, val in ((sys.argv[2], "depth", 2), (sys.argv[3], "width", 1 << 20)):
    g = json.loads(json.dumps(h))
    c = json.loads(g["__metadata__"]["config"])
    c[key] = val
    g["__metadata__"]["config"] = json.dumps(c)
    hb = json.dumps(g).encode()
    open(out, "wb").write(struct.pack("<Q", len(hb)) + hb + b[8 + n:])
EOF
expect 1 "genc: error:.*do not match" -- "$GENC" eval "$W/bad1.safetensors"
expect 1 "genc: error:.*width" -- "$GENC" sample "$W/bad2.safetensors"
finish
