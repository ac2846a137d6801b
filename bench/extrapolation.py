#!/usr/bin/env python3
"""Length extrapolation of every position encoding (docs/position-encodings.md).

Trains one small byte-level LM per encoding at T=128 on the default corpus (same size, same
steps, same seed), then evaluates held-out bits per character at T, 2T and 4T. RoPE models are
also evaluated with each context-extension scaling applied at evaluation time (factor = eval
length / training length). Prints a markdown table.

    python3 bench/extrapolation.py --genc build/genc --steps 1000 --out runs/pe   # ~80 s per model on 2 cores
"""
import argparse
import json
import os
import subprocess

ENCODINGS = ["none", "sinusoidal", "learned", "rope", "rope-half", "alibi", "t5"]
SCALINGS = ["linear", "ntk", "dynamic-ntk", "yarn"]


def run(cmd):
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def evaluate(genc, d, T, extra=()):
    out = run([genc, "eval", d, "--seq", str(T), "--json", *extra])
    return json.loads(out.strip().splitlines()[-1])["bpc"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--genc", default="build/genc")
    ap.add_argument("--out", default="runs/pe")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--train-args", default="--dim 128 --layers 4 --heads 4 --batch 16 --lr 2e-3 --warmup 60")
    ap.add_argument("--encodings", default=",".join(ENCODINGS))
    a = ap.parse_args()
    T = a.seq
    lens = [T, 2 * T, 4 * T]
    rows = []
    for pos in a.encodings.split(","):
        d = os.path.join(a.out, pos)
        if not os.path.exists(os.path.join(d, "model.safetensors")):
            run([a.genc, "train", "lm", "--pos", pos, "--seq", str(T), "--steps", str(a.steps), "--seed", "1",
                 "--out", d, *a.train_args.split()])
        rows.append((pos, [evaluate(a.genc, d, L) for L in lens]))
        if pos.startswith("rope"):
            for sc in SCALINGS:
                rows.append(("%s + %s" % (pos, sc), [evaluate(a.genc, d, L, ("--rope-scaling", sc)) for L in lens]))
    print()
    print("| encoding | " + " | ".join("bpc @ %d" % L for L in lens) + " |")
    print("|---|" + "---|" * len(lens))
    for name, v in rows:
        print("| %s | " % name + " | ".join("%.3f" % x for x in v) + " |")


if __name__ == "__main__":
    main()
