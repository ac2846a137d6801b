#!/bin/bash
# BLIP at the command line: a tiny training run, eval --json, info, an exact resume, genc
# caption (nucleus and beam) of a PNG, a tiny genc capfilt run; and bad input ending in
# "genc: error: ..." -- bad flags (exit 2), a PNG that cannot be converted, a file that is not a
# PNG, a missing, truncated or lying checkpoint, a checkpoint of another family (exit 1).
GENC="$1"
source "$(dirname "$0")/lib_cli.sh"
TINY="--dim 16 --heads 2 --embed 8 --patch 7 --image-layers 1 --text-layers 1 --batch 8 --warmup 2"

expect 0 "saved" -- "$GENC" train blip $TINY --steps 6 --out "$W/b"
expect 0 '"caption_accuracy"' -- "$GENC" eval "$W/b" --json --images 50 --pairs 20 --captions 10
expect 0 "nucleus, top-p 0.5" -- "$GENC" eval "$W/b" --images 20 --pairs 20 --captions 5 --top-p 0.5 --rerank 0
expect 0 "BLIP (ITC + ITM + captions)" -- "$GENC" info "$W/b"
expect 0 "family: blip" -- "$GENC" info "$W/b"
resume_exact blip blip $TINY --steps 24

# a 28x28 grey test item, an RGB picture to convert, one that cannot be, and not a PNG at all
"${GENC_PYTHON:-/usr/bin/python3}" - "$W" <<'PY'
import gzip, struct, sys, zlib
def png(path, w, h, ctype, rows):
    def chunk(t, b): return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xffffffff)
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, ctype, 0, 0, 0))
                           + chunk(b"IDAT", zlib.compress(b"".join(b"\0" + r for r in rows))) + chunk(b"IEND", b""))
px = gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").read()[16:16 + 784]
png(sys.argv[1] + "/item.png", 28, 28, 0, [px[y * 28:(y + 1) * 28] for y in range(28)])
png(sys.argv[1] + "/rgb.png", 64, 40, 2,
    [b"".join(bytes((30, 30, 200) if 20 < x < 44 and 8 < y < 32 else (255, 255, 255)) for x in range(64)) for y in range(40)])
png(sys.argv[1] + "/thin.png", 200, 4, 0, [bytes([128]) * 200] * 4)
open(sys.argv[1] + "/text.png", "w").write("not a picture\n")
PY
expect 0 "item.png:" -- "$GENC" caption "$W/b" --image "$W/item.png"
expect 0 "item.png:" -- "$GENC" caption "$W/b" --image "$W/item.png" --beam 3
expect 0 "rgb.png (inverted):" -- "$GENC" caption "$W/b" --image "$W/rgb.png" --n 3 --seed 4
expect 1 "longer" -- "$GENC" caption "$W/b" --image "$W/thin.png"
expect 1 "text.png" -- "$GENC" caption "$W/b" --image "$W/text.png"
expect 1 "error" -- "$GENC" caption "$W/b" --image "$W/missing.png"
expect 2 "needs --image" -- "$GENC" caption "$W/b"
expect 2 "give one" -- "$GENC" caption "$W/b" --image "$W/item.png" --beam 2 --top-p 0.9
expect 2 "--beam" -- "$GENC" caption "$W/b" --image "$W/item.png" --beam 0
expect 2 "--top-p" -- "$GENC" caption "$W/b" --image "$W/item.png" --top-p 1.5
expect 2 "unknown flag" -- "$GENC" caption "$W/b" --image "$W/item.png" --labels a,b
expect 2 "needs a BLIP run" -- "$GENC" caption --image "$W/item.png"

# checkpoints: missing, truncated, lying about their config, of another family
expect 1 "error" -- "$GENC" caption "$W/nothing" --image "$W/item.png"
mkdir -p "$W/cut" && head -c 3000 "$W/b/model.safetensors" > "$W/cut/model.safetensors"
expect 1 "error" -- "$GENC" caption "$W/cut" --image "$W/item.png"
expect 1 "error" -- "$GENC" eval "$W/cut"
lie() { config_lie "$W/b/model.safetensors" "$W/$1" "$2" "$3"; }  # a copy of the run with config[KEY] = VALUE
lie big text_layers 2; expect 1 "config and tensors do not match" -- "$GENC" caption "$W/big" --image "$W/item.png"
lie ls label_smoothing 7; expect 1 "label_smoothing" -- "$GENC" eval "$W/ls"
lie sig loss '"sigmoid"'; expect 1 "softmax" -- "$GENC" caption "$W/sig" --image "$W/item.png"
lie wide dim 4096; expect 1 "error" -- "$GENC" eval "$W/wide"
"$GENC" train clip $TINY --steps 2 --out "$W/clip" 2>/dev/null
expect 1 "not a BLIP model" -- "$GENC" caption "$W/clip" --image "$W/item.png"

expect 2 "softmax" -- "$GENC" train blip --loss sigmoid --out "$W/x"
expect 2 "does not divide" -- "$GENC" train blip --patch 5 --out "$W/x"
expect 2 "label-smoothing" -- "$GENC" train blip --label-smoothing 1 --out "$W/x"
expect 2 "unknown flag" -- "$GENC" eval "$W/b" --labels a,b
expect 2 "give one" -- "$GENC" eval "$W/b" --beam 2 --top-p 0.5
expect 2 "rerank" -- "$GENC" eval "$W/b" --rerank 1

# capfilt, tiny (threshold 0: an untrained filter keeps every pair): every count printed, and
# its runs readable by genc eval
SMALL="--dim 16 --heads 2 --embed 8 --patch 7 --image-layers 1 --text-layers 1 --batch 8"
expect 0 "filter removed" -- "$GENC" capfilt $SMALL --images 200 --steps 6 --clip-steps 4 --test-images 50 --threshold 0 --out "$W/cf" --json
cp "$W/out" "$W/cf.txt"
expect 0 '"removed_corrupted": [0-9]*, "kept_clean": [0-9]*' -- cat "$W/cf.txt"
expect 0 '"original": 200, "corrupted": 60,' -- cat "$W/cf.txt"
expect 0 "zero_shot_top1" -- "$GENC" eval "$W/cf/clip-clean" --json --images 20 --pairs 20 --probe 0
expect 0 "caption_accuracy" -- "$GENC" eval "$W/cf/blip" --json --images 20 --pairs 20 --captions 5
expect 2 "--corrupt" -- "$GENC" capfilt --corrupt 1.5
expect 2 "--images" -- "$GENC" capfilt --images 5
expect 2 "softmax" -- "$GENC" capfilt --loss sigmoid
expect 2 "unknown flag" -- "$GENC" capfilt --labels a
finish
