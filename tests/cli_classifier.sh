#!/bin/bash
# The classifier at the command line: a tiny run on a small IDX data set (train, eval --json,
# info, classify), then hostile input — damaged IDX files, pictures that are not PNGs or
# cannot be classified, checkpoint configs edited to lie (huge channels, sizes that do not
# match the tensors) — each must end in "genc: error: ..." with the documented exit code
# (2 usage, 1 runtime), never an abort or a sanitizer report.
GENC="$1"
source "$(dirname "$0")/lib_cli.sh"
PY="${GENC_PYTHON:-/usr/bin/python3}"

# A 3-class set of 8x10 images (class k: a bright bar in row band k, plus noise), 60 train and
# 20 test images, labels beside them; then hostile variants of the same files.
"$PY" - "$W" <<'EOF'
import os, random, struct, sys, zlib
w = sys.argv[1]
def idx(path, dims, data, magic=0x0803):
    with open(path, "wb") as f:
        f.write(struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + bytes(data))
random.seed(1)
def images(n):
    px, lab = [], []
    for i in range(n):
        k = i % 3
        lab.append(k)
        for y in range(8):
            for x in range(10):
                px.append(200 if y // 3 == k else random.randrange(0, 60))
    return px, lab
for split, n in (("train", 60), ("t10k", 20)):
    px, lab = images(n)
    idx(f"{w}/{split}-images-idx3-ubyte", (n, 8, 10), px)
    idx(f"{w}/{split}-labels-idx1-ubyte", (n,), lab, 0x0801)
os.makedirs(f"{w}/bad", exist_ok=True)
good = open(f"{w}/train-images-idx3-ubyte", "rb").read()
lab = open(f"{w}/train-labels-idx1-ubyte", "rb").read()
def bad(name, data, labels=lab):
    open(f"{w}/bad/{name}-images-idx3-ubyte", "wb").write(data)
    open(f"{w}/bad/{name}-labels-idx1-ubyte", "wb").write(labels)
bad("truncated", good[:len(good) // 2])
bad("magic", b"\x12\x34" + good[2:])
bad("huge", struct.pack(">IIII", 0x0803, 0x7fffffff, 0x7fffffff, 0x7fffffff) + good[16:100])
bad("float", struct.pack(">I", 0x00000D03) + good[4:])
bad("nolabels", good, struct.pack(">II", 0x0801, 30) + lab[8:38])   # fewer labels than images
bad("onelabel", good, lab[:8] + bytes(60))            # a single class: nothing to learn
open(f"{w}/bad/gz-images-idx3-ubyte.gz", "wb").write(b"\x1f\x8b\x08\x00" + os.urandom(64))
# pictures
def png(path, wd, ht, ct, raw_rows, depth=8):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    raw = b"".join(b"\0" + r for r in raw_rows)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", wd, ht, depth, ct, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
png(f"{w}/ok.png", 20, 16, 0, [bytes([220 if y // 6 == 1 else 10] * 20) for y in range(16)])
png(f"{w}/rgba.png", 30, 30, 6, [bytes([255, 255, 255, 255] * 30) for y in range(30)])
png(f"{w}/thin.png", 400, 3, 0, [bytes(400)] * 3)
png(f"{w}/wide.png", 5000, 1, 0, [bytes(5000)])
hdr = open(f"{w}/ok.png", "rb").read()
open(f"{w}/truncated.png", "wb").write(hdr[:40])
open(f"{w}/notpng.png", "wb").write(b"GIF89a" + os.urandom(100))
# a PNG header claiming 100000 x 100000 pixels with no data behind it
open(f"{w}/liar.png", "wb").write(hdr[:16] + struct.pack(">II", 100000, 100000) + hdr[24:40])
EOF

D="$W/train-images-idx3-ubyte"
expect 0 "saved" -- "$GENC" train classifier --data "$D" --net mlp --hidden 16 --batch 8 --steps 40 --warmup 4 --out "$W/run"
expect 0 "test accuracy" -- "$GENC" eval "$W/run"
# the bars are trivially separable: 40 steps must find them (chance is 1/3)
"$GENC" eval "$W/run" --json > "$W/eval.json" 2>/dev/null
if "$PY" -c "import json,sys; r=json.loads(open(sys.argv[1]).read().splitlines()[-1]); \
assert r['images']==20 and r['accuracy']>0.9 and len(r['confusion'])==3 and sum(map(sum,r['confusion']))==20 \
and len(r['per_class'])==3 and r['classes']==['0','1','2']" "$W/eval.json"; then pass=$((pass+1))
else fail=$((fail+1)); echo "FAIL: eval --json:"; cat "$W/eval.json"; fi
expect 0 "model: mlp classifier, hidden 16, 16; 8x10x1 images, 3 classes, 1619 parameters" -- "$GENC" info "$W/run"
expect 0 "%  1$" -- "$GENC" classify "$W/run" --image "$W/ok.png" --top 1
expect 0 "inverted" -- "$GENC" classify "$W/run" --image "$W/rgba.png"
"$GENC" classify "$W/run" --image "$W/ok.png" --top 3 --json > "$W/cl.json" 2>/dev/null
if "$PY" -c "import json,sys; r=json.loads(open(sys.argv[1]).read().splitlines()[-1]); \
assert len(r['top'])==3 and abs(sum(t['probability'] for t in r['top'])-1)<1e-4" "$W/cl.json"; then pass=$((pass+1))
else fail=$((fail+1)); echo "FAIL: classify --json:"; cat "$W/cl.json"; fi

# flags
expect 2 "unknown net 'resnet'" -- "$GENC" train classifier --net resnet
expect 2 "--channels expects" -- "$GENC" train classifier --channels 32,,64
expect 2 "--channels expects" -- "$GENC" train classifier --channels 8,8,8,8,8
expect 2 "is a size of --net vit" -- "$GENC" train classifier --net cnn --patch 7
expect 1 "must divide every stage" -- "$GENC" train classifier --data "$D" --channels 6,12 --groups 4 --steps 1 --out "$W/r1"
expect 1 "patch 3 must divide the image size 8x10" -- "$GENC" train classifier --data "$D" --net vit --patch 3 --steps 1 --out "$W/r2"
expect 1 "multiple of 4" -- "$GENC" train classifier --data "$D" --net vit --patch 2 --dim 24 --heads 4 --steps 1 --out "$W/r3"
expect 1 "image side divisible by 8" -- "$GENC" train classifier --data "$D" --channels 4,4,4 --groups 1 --steps 1 --out "$W/r4"
expect 2 "needs --image" -- "$GENC" classify "$W/run"
expect 2 "--invert expects" -- "$GENC" classify "$W/run" --image "$W/ok.png" --invert maybe
expect 2 "unknown flag" -- "$GENC" eval "$W/run" --mc 3

# hostile IDX files
for b in truncated magic huge float gz; do
    f="$W/bad/$b-images-idx3-ubyte"; [ "$b" = gz ] && f="$f.gz"
    expect 1 "genc: error: --data" -- "$GENC" train classifier --data "$f" --steps 1 --out "$W/bad_$b"
    expect 1 "genc: error:" -- "$GENC" eval "$W/run" --data "$f"
done
expect 1 "one label per image" -- "$GENC" train classifier --data "$W/bad/nolabels-images-idx3-ubyte" --steps 1 --out "$W/bad_nl"
expect 1 "at least 2 classes" -- "$GENC" train classifier --data "$W/bad/onelabel-images-idx3-ubyte" --steps 1 --out "$W/bad_ol"
expect 1 "images are 1x28x28" -- "$GENC" eval "$W/run" --data fashion-mnist

# hostile pictures
expect 1 "genc: error:" -- "$GENC" classify "$W/run" --image "$W/notpng.png"
expect 1 "genc: error:" -- "$GENC" classify "$W/run" --image "$W/truncated.png"
expect 1 "genc: error:" -- "$GENC" classify "$W/run" --image "$W/liar.png"
expect 1 "more than 16 times longer" -- "$GENC" classify "$W/run" --image "$W/thin.png"
expect 1 "more than 16 times longer" -- "$GENC" classify "$W/run" --image "$W/wide.png"
expect 1 "No such file\|no such file" -- "$GENC" classify "$W/run" --image "$W/missing.png"

# checkpoints whose metadata lies: rewrite the safetensors header's JSON
edit() { # edit OUT PYTHON-EXPRESSION-ON-meta
    "$PY" - "$W/run/model.safetensors" "$1" "$2" <<'EOF'
import json, struct, sys
src, out, expr = sys.argv[1:4]
b = open(src, "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
meta = h["__metadata__"]
cfg = json.loads(meta["config"])
exec(expr)
meta["config"] = json.dumps(cfg)
hb = json.dumps(h).encode()
hb += b" " * ((8 - len(hb) % 8) % 8)
open(out, "wb").write(struct.pack("<Q", len(hb)) + hb + b[8 + n:])
EOF
}
edit "$W/huge.safetensors" 'cfg.update(net="cnn", conv=[4096, 4096, 4096], groups=1, fc=16384, height=1024, width=1024)'
expect 1 "config" -- "$GENC" eval "$W/huge.safetensors"
expect 1 "config" -- "$GENC" classify "$W/huge.safetensors" --image "$W/ok.png"
mkdir -p "$W/huge" && cp "$W/huge.safetensors" "$W/huge/model.safetensors"
expect 1 "resume.*config" -- "$GENC" train classifier --resume --out "$W/huge"
edit "$W/wider.safetensors" 'cfg["hidden"] = 17'
expect 1 "parameters but the file holds" -- "$GENC" eval "$W/wider.safetensors"
edit "$W/swap.safetensors" 'cfg.update(net="vit", patch=2, dim=4, heads=1, layers=1, mlp_hidden=1)'
expect 1 "parameters but the file holds" -- "$GENC" eval "$W/swap.safetensors"
edit "$W/neg.safetensors" 'cfg["classes"] = -3'
expect 1 "classes -3 out of range" -- "$GENC" eval "$W/neg.safetensors"
edit "$W/bign.safetensors" 'cfg["hidden"] = 1e300'
expect 1 "\"hidden\" = 1e+300 is outside" -- "$GENC" eval "$W/bign.safetensors"
edit "$W/net.safetensors" 'cfg["net"] = "gan"'
expect 1 "unknown net" -- "$GENC" classify "$W/net.safetensors" --image "$W/ok.png"
edit "$W/names.safetensors" 'meta["class_names"] = "[\"a\"]"'
expect 1 "class_names" -- "$GENC" eval "$W/names.safetensors"
expect 0 "does NOT match" -- "$GENC" info "$W/wider.safetensors"
# a language model is not a classifier
"$GENC" train lm --dim 16 --layers 1 --heads 2 --seq 16 --batch 2 --steps 1 --out "$W/lm" >/dev/null 2>&1
expect 2 "needs a classifier checkpoint" -- "$GENC" classify "$W/lm" --image "$W/ok.png"

# no failed run left a checkpoint
if ls "$W"/r? "$W"/bad_* 2>/dev/null | grep -q safetensors; then
    fail=$((fail+1)); echo "FAIL: a failed run left a checkpoint"; else pass=$((pass+1)); fi
finish
