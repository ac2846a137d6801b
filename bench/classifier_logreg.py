#!/usr/bin/env python3
"""The linear baseline the classifier's learning test is measured against: multinomial logistic
regression on the first N Fashion-MNIST training images (pixels scaled to [-1, 1], as genc's
classifier sees them), fitted to convergence with L-BFGS for a few L2 weights, accuracy on the
first 1000 test images. Picking the L2 weight on the test images makes the figure optimistic:
a bar the nets must clear, not a fair model selection.

    /usr/bin/python3 bench/classifier_logreg.py [--n 5000]
"""
import argparse
import gzip

import numpy as np
import torch
import torch.nn.functional as F

D = "/usr/share/datasets/fashion-mnist/"


def idx(name, offset):
    return np.frombuffer(gzip.open(D + name).read(), np.uint8, offset=offset)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--test", type=int, default=1000)
    a = ap.parse_args()
    torch.set_num_threads(1)
    scale = lambda u: torch.tensor(u, dtype=torch.float32) / 127.5 - 1  # noqa: E731
    X = scale(idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 784)[: a.n])
    y = torch.tensor(idx("train-labels-idx1-ubyte.gz", 8)[: a.n]).long()
    Xt = scale(idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 784)[: a.test])
    yt = torch.tensor(idx("t10k-labels-idx1-ubyte.gz", 8)[: a.test]).long()
    best = 0.0
    for wd in [0.0, 1e-4, 1e-3, 1e-2]:
        W = torch.zeros(784, 10, requires_grad=True)
        b = torch.zeros(10, requires_grad=True)
        opt = torch.optim.LBFGS([W, b], max_iter=500, history_size=20, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = F.cross_entropy(X @ W + b, y) + wd * (W ** 2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        acc = ((Xt @ W + b).argmax(1) == yt).float().mean().item()
        print("n %d  L2 %g  test accuracy %.3f" % (a.n, wd, acc))
        best = max(best, acc)
    print("best: %.3f" % best)


if __name__ == "__main__":
    main()
