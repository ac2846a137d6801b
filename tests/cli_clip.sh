#!/bin/bash
# The image–text family at the command line: a tiny run with each loss, eval --json (with the
# two-item swapped-order accuracy), info, an exact resume (which keeps the run's share of
# two-item pairs), genc embed --images of an IDX file, genc bench clip, and bad input (unknown loss, a patch that does not divide the images, a dim the
# heads cannot split for 2D RoPE, unknown eval flags), and genc classify --labels on a PNG
# (zero-shot; an empty label list or a label too long for the text tower is a usage error) ending in "genc: error: ..." with exit 2.
GENC="$1"
source "$(dirname "$0")/lib_cli.sh"
TINY="--dim 16 --heads 2 --embed 8 --patch 7 --image-layers 1 --text-layers 1 --batch 8 --warmup 2"

expect 0 "saved" -- "$GENC" train clip $TINY --steps 6 --out "$W/soft"
expect 0 "saved" -- "$GENC" train clip $TINY --steps 6 --loss sigmoid --out "$W/sig"
expect 0 '"zero_shot_top1_ensemble"' -- "$GENC" eval "$W/soft" --json --images 100 --pairs 50
expect 0 '"loss": "sigmoid"' -- "$GENC" eval "$W/sig" --json --images 100 --pairs 50 --probe 0
expect 0 '"linear_probe": 0\.' -- "$GENC" eval "$W/sig" --json --images 100 --pairs 50 --probe 200
expect 0 "image-text (sigmoid loss)" -- "$GENC" info "$W/sig"
expect 0 "family: clip" -- "$GENC" info "$W/soft"
resume_exact clip clip $TINY --steps 24 --loss sigmoid
resume_exact clippairs clip $TINY --steps 24 --pair-fraction 0.5
expect 0 '"order_pairs": 40, "order_acc": 0\.' -- "$GENC" eval "$W/soft" --json --images 100 --pairs 50 --order-pairs 40 --probe 0
expect 0 '"order_pairs": 0, "order_acc": null' -- "$GENC" eval "$W/soft" --json --images 100 --pairs 50 --order-pairs 0 --probe 0
expect 0 "2 of each 8 pairs are two-item" -- "$GENC" train clip $TINY --steps 1 --out "$W/mix"
expect 0 "0 of each 8 pairs are two-item" -- "$GENC" train clip $TINY --steps 1 --pair-fraction 0 --out "$W/mix0"
expect 2 "pair-fraction" -- "$GENC" train clip --pair-fraction 1.5 --out "$W/x"
expect 2 "keeps its checkpoint" -- "$GENC" train clip --resume --out "$W/soft" --pair-fraction 0.5
expect 0 "pairs/s" -- "$GENC" bench clip --dim 16 --heads 2 --embed 8 --patch 7 --image-layers 1 --text-layers 1 --batch 4 --steps 1 --warmup-steps 0
expect 2 "unknown loss" -- "$GENC" bench clip --loss cosine

# checkpoint configs edited to lie: sizes that do not match the tensors, a patch that does not
# divide the images, a context beyond the limit -- each refused with a message, exit 1
lie() { config_lie "$W/soft/model.safetensors" "$W/$1" "$2" "$3"; }  # lie NAME KEY VALUE
lie big embed 9; expect 1 "config and tensors do not match" -- "$GENC" eval "$W/big" --images 10 --pairs 10 --probe 0
expect 0 "does NOT match" -- "$GENC" info "$W/big"
lie wide dim 4096; expect 1 "too large" -- "$GENC" eval "$W/wide" --images 10 --pairs 10 --probe 0
lie p5 patch 5; expect 1 "patch" -- "$GENC" eval "$W/p5" --images 10 --pairs 10 --probe 0
lie ctx ctx 100000; expect 1 "ctx" -- "$GENC" classify "$W/ctx" --image "$W/item.png" --labels "bag,coat"
lie loss loss '"cosine"'; expect 1 "unknown loss" -- "$GENC" embed "$W/loss" --text "a bag" --out "$W/e.safetensors"

expect 2 "unknown loss" -- "$GENC" train clip --loss cosine --out "$W/x"
expect 2 "does not divide" -- "$GENC" train clip --patch 5 --out "$W/x"
expect 2 "multiple of 4" -- "$GENC" train clip --dim 24 --heads 4 --out "$W/x"
expect 2 "unknown flag" -- "$GENC" eval "$W/soft" --labels a,b

# zero-shot classify of a PNG (a gray 28x28 test item written here) through the classify verb
"${GENC_PYTHON:-/usr/bin/python3}" - "$W/item.png" <<'PY'
import gzip, struct, sys, zlib
px = gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").read()[16:16 + 784]
raw = b"".join(b"\0" + px[y * 28:(y + 1) * 28] for y in range(28))
def chunk(t, b): return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xffffffff)
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 28, 28, 8, 0, 0, 0, 0))
                              + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
PY
expect 0 "%  ankle boot" -- "$GENC" classify "$W/soft" --image "$W/item.png" --labels "ankle boot, bag,trouser"
# any PNG is converted: an RGB 64x40 picture on a white background (inverted), and one far
# too elongated to hold one centred object is refused with the reason
"${GENC_PYTHON:-/usr/bin/python3}" - "$W" <<'PY'
import struct, sys, zlib
def png(path, w, h, rgb):
    raw = b"".join(b"\0" + b"".join(bytes(rgb(x, y)) for x in range(w)) for y in range(h))
    def chunk(t, b): return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xffffffff)
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
png(sys.argv[1] + "/rgb.png", 64, 40, lambda x, y: (30, 30, 200) if 20 < x < 44 and 8 < y < 32 else (255, 255, 255))
png(sys.argv[1] + "/thin.png", 200, 4, lambda x, y: (128, 128, 128))
PY
expect 0 "rgb.png (inverted)" -- "$GENC" classify "$W/soft" --image "$W/rgb.png" --labels "bag,coat"
expect 1 "longer" -- "$GENC" classify "$W/soft" --image "$W/thin.png" --labels "bag,coat"
expect 2 "empty label" -- "$GENC" classify "$W/soft" --image "$W/item.png" --labels ""
expect 2 "empty label" -- "$GENC" classify "$W/soft" --image "$W/item.png" --labels "bag,,coat"
expect 2 "too long" -- "$GENC" classify "$W/soft" --image "$W/item.png" --labels "bag,$(printf 'x%.0s' $(seq 60))"
expect 2 "needs --labels" -- "$GENC" classify "$W/soft" --image "$W/item.png"
expect 1 "error" -- "$GENC" classify "$W/soft" --image "$W/missing.png" --labels "bag,coat"

# genc embed: shapes in the order given, unit rows, and the picture's cosines as classify ranks them
expect 0 "2 text and 1 image" -- "$GENC" embed "$W/soft" --text "a photo of a bag." --image "$W/item.png" --text "a photo of a coat." --out "$W/emb.safetensors"
expect 0 "ok" -- "${GENC_PYTHON:-/usr/bin/python3}" - "$W/emb.safetensors" <<'PY'
import json, struct, sys
import numpy as np
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
def get(k):
    o = h[k]["data_offsets"]
    return np.frombuffer(b[8 + n + o[0]:8 + n + o[1]], dtype=np.float32).reshape(h[k]["shape"])
t, i = get("text"), get("image")
assert t.shape == (2, 8) and i.shape == (1, 8), (t.shape, i.shape)
assert np.allclose(np.linalg.norm(t, axis=1), 1, atol=1e-5) and np.allclose(np.linalg.norm(i, axis=1), 1, atol=1e-5)
print("ok")
PY
# embed --images: an IDX file of the first 3 test images, after the PNG of test image 0: 4
# rows, and the PNG's row equals the IDX file's first (a 28x28 gray PNG is used as it is)
"${GENC_PYTHON:-/usr/bin/python3}" - "$W" <<'PY'
import gzip, struct, sys
px = gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").read()[16:16 + 3 * 784]
open(sys.argv[1] + "/three.idx", "wb").write(struct.pack(">IIII", 0x803, 3, 28, 28) + px)
open(sys.argv[1] + "/wide.idx", "wb").write(struct.pack(">IIII", 0x803, 2, 28, 30) + bytes(2 * 28 * 30))
PY
expect 0 "0 text and 4 image" -- "$GENC" embed "$W/soft" --image "$W/item.png" --images "$W/three.idx" --out "$W/emb3.safetensors"
expect 0 "ok" -- "${GENC_PYTHON:-/usr/bin/python3}" - "$W/emb3.safetensors" <<'PY'
import json, struct, sys
import numpy as np
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
o = h["image"]["data_offsets"]
i = np.frombuffer(b[8 + n + o[0]:8 + n + o[1]], dtype=np.float32).reshape(h["image"]["shape"])
assert i.shape == (4, 8) and "text" not in h, (i.shape, list(h))
assert np.allclose(i[0], i[1], atol=1e-6), (i[0], i[1])
assert not np.allclose(i[1], i[2], atol=1e-3)
print("ok")
PY
expect 1 "the model takes 28x28x1" -- "$GENC" embed "$W/soft" --images "$W/wide.idx" --out "$W/e.safetensors"
expect 1 "no such file" -- "$GENC" embed "$W/soft" --images "$W/none.idx" --out "$W/e.safetensors"
expect 2 "at least one" -- "$GENC" embed "$W/soft" --out "$W/e.safetensors"
expect 2 "takes 1 to 46" -- "$GENC" embed "$W/soft" --text "" --out "$W/e.safetensors"
expect 2 "needs --out" -- "$GENC" embed "$W/soft" --text "a bag"
finish
