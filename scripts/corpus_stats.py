#!/usr/bin/env python3
"""Independent check of docs/data.md: a text corpus's train/test sizes, recomputed in Python
with the rules of src/data/corpus.c. Usage: scripts/corpus_stats.py [PATH]
(default /usr/share/games/fortunes)."""
import os
import re
import sys


def corpus_files(root):
    if os.path.isfile(root):
        return [root]
    names = sorted(os.listdir(os.fsencode(root)))   # byte order, as strcmp
    keep = []
    for n in names:
        p = os.path.join(os.fsencode(root), n)
        if n.startswith(b".") or n.endswith(b".dat") or os.path.islink(p) or not os.path.isfile(p):
            continue
        keep.append(p)
    return keep


def documents(data):
    # A line holding only "%" (or "%\r") separates documents; blank documents are skipped.
    parts = re.split(rb"(?m)^%\r?(?:\n|\Z)", data)
    return [d for d in parts if d.strip(b" \t\n\r\f\v")]


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/games/fortunes"
    docs = []
    for p in corpus_files(root):
        with open(p, "rb") as f:
            docs += documents(f.read())
    if len(docs) < 20:  # too few documents: the held-out split is the last 5% of the stream
        stream = [t for d in docs for t in [257, *d, 258]]
        cut = len(stream) - len(stream) // 20
        for split, part in (("train", stream[:cut]), ("test", stream[cut:])):
            nb = sum(t < 256 for t in part)
            print(f"{split}: the {'first' if split == 'train' else 'last'} {len(part)} tokens, {nb} bytes")
        return
    for split, test in (("train", False), ("test", True)):
        sel = [d for i, d in enumerate(docs) if (i % 20 == 19) == test]
        nb = sum(map(len, sel))
        print(f"{split}: {len(sel)} documents, {nb} bytes, {nb + 2 * len(sel)} tokens")


main()
